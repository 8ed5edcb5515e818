#!/usr/bin/env bash
# Benchmark of recall under a flood of clients, in one run on this machine. It builds a store
# of 1,000,000 events (generated combined-log lines, or a real log given with --log, synced by
# the release binary), starts `serve` on it read-only, and floods it from a second process
# (scripts/recall_flood.py): CLIENTS concurrent clients, each on its own connection asking pages
# of /v1/events (up to 1,000 events a page) one after another, with costly full-text searches
# (eight words joined by OR, the most a query may join) mixed in, and a probe asking
# /v1/events?limit=5 every 100 ms. What the server cannot take on at once it must turn away
# with 503 and Retry-After, not queue without bound.
# Targets (scripts/lib.sh: a missed target exits 1, after every figure is printed;
# ATHENA_BENCH_TARGET_<KEY> overrides one):
#   - peak RSS of the server (VmHWM) <= 200 MB (RECALL_LOAD_RSS_MB);
#   - p99 of the answers with data (200) <= 1000 ms (RECALL_LOAD_SERVED_P99_MS);
#   - every other answer a 503 (RECALL_LOAD_OTHER <= 0: no 5xx but 503, no reset connection);
#   - the probe: its slowest answer <= 1000 ms (RECALL_LOAD_PROBE_MAX_MS), and at least half
#     of its answers with data (RECALL_LOAD_PROBE_200_PCT >= 50).
#
# Usage: scripts/bench-recall-load.sh [--log FILE] [EVENTS] [SECONDS] [CLIENTS]
#        (ATHENA_BENCH_LOG=FILE is the same as --log FILE; without either, generated lines)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=recall-load
bench_args "$@"
events=${args[0]:-1000000}
seconds=${args[1]:-30}
clients=${args[2]:-500}

echo "building the release binary..." >&2
bin=$(release_bin)

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

recall_store "$bin" "$work" "$events"
ulimit -n 8192 2>/dev/null || true
serve_store "$bin" "$work"

echo "flood: $clients clients for $seconds s (load average $(cut -d' ' -f1 /proc/loadavg))..." >&2
python3 "$root/scripts/recall_flood.py" --port "$port" --pid "$pid" --clients "$clients" \
    --seconds "$seconds" --since "$first" --until "$last" > "$work/flood.json"
cat "$work/flood.json"

field() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($1)" "$work/flood.json"; }
rss=$(field 'd["rss_peak_mb"]')
served_p99=$(field 'd["served_ms"]["p99"] or "none"')
other=$(field 'sum(v for k, v in d["status"].items() if k not in ("200", "503")) + sum(d["errors"].values())')
probe_max=$(field 'd["probe"]["max_ms"] or "none"')
probe_pct=$(field 'round(100 * d["probe"]["answered_200"] / max(1, d["probe"]["asked"]))')
served=$(field 'd["status"].get("200", 0)')
refused=$(field 'd["status"].get("503", 0)')

echo
echo "recall under $clients clients, $stored events, $seconds s: $served answered with data, $refused turned away (503)"
printf '%-44s %s\n' "peak RSS of serve" "$rss MB" \
    "p99 of the answers with data" "$served_p99 ms" \
    "answers other than 200 and 503, resets" "$other" \
    "probe /v1/events?limit=5: slowest answer" "$probe_max ms" \
    "probe: answers with data" "$probe_pct %"
check RECALL_LOAD_RSS_MB "peak RSS of serve" "$rss" '<=' 200 MB
check RECALL_LOAD_SERVED_P99_MS "p99 of the answers with data" "$served_p99" '<=' 1000 ms
check RECALL_LOAD_OTHER "answers other than 200 and 503" "$other" '<=' 0
check RECALL_LOAD_PROBE_MAX_MS "probe: slowest answer" "$probe_max" '<=' 1000 ms
check RECALL_LOAD_PROBE_200_PCT "probe: answers with data" "$probe_pct" '>=' 50 %
check_report
