#!/usr/bin/env bash
# Benchmark of the recall API under load, in one run on this machine. It builds a store of
# 1,000,000 events (combined-log lines from scripts/gen-combined-log.py, or with --log FILE or
# ATHENA_BENCH_LOG=FILE that file repeated; it prints which), synced by the release binary, starts
# `serve` on it read-only (no sources), and loads it with wrk (Debian package, installed if
# missing) from a second process, each request a different page (scripts/recall_load.lua):
#   - window: a page of 50 in a random one-hour window of the log's three and a half days;
#   - search: a full-text page of 50 for one of a dozen words of the log, rare to common.
# The pages are drawn from a fixed seed (ATHENA_BENCH_SEED, default 1): two builds measured one
# after the other get the same questions (the words differ in cost by 30 times).
# Targets (scripts/lib.sh: a missed target exits 1, after every figure is printed;
# ATHENA_BENCH_TARGET_<KEY> overrides one):
#   - p99 latency of each, under CONNECTIONS concurrent connections: <= 50 ms
#     (RECALL_WINDOW_P99_MS, RECALL_SEARCH_P99_MS); p50 and p90 are printed.
#   - no answer other than 200 (RECALL_NON_200 <= 0): a fast error must not pass for a page.
# wrk's latencies are corrected for coordinated omission only at its fixed rate; here it runs
# closed-loop (as fast as answers come), so the p99 is that of a saturated server on the same
# two cores as wrk itself: a conservative figure.
#
# Usage: scripts/bench-recall.sh [--log FILE] [EVENTS] [SECONDS] [CONNECTIONS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=recall
bench_args "$@"
events=${args[0]:-1000000}
seconds=${args[1]:-10}
connections=${args[2]:-4}

if ! command -v wrk >/dev/null; then
    echo "installing wrk..." >&2
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || true
fi
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 2; }

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
serve_store "$bin" "$work"
echo "serve: read-only on 127.0.0.1:$port (pid $pid); wrk: $connections connections, ${seconds}s each, $(nproc) cores"

words=$RECALL_WORDS
run_wrk() { wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" "$@"; }

# A short warm-up, so the first measured requests do not read the file from disk.
wrk -t1 -c1 -d2s -s "$root/scripts/recall_load.lua" "http://127.0.0.1:$port" -- window "$first" "$last" - >/dev/null
run_wrk window window "$first" "$last" -
window_p99=$p99 window_bad=$bad
run_wrk search search "$words" -
search_p99=$p99 search_bad=$bad

check RECALL_WINDOW_P99_MS "time-window page p99" "$window_p99" '<=' 50 ms
check RECALL_SEARCH_P99_MS "full-text page p99" "$search_p99" '<=' 50 ms
check RECALL_NON_200 "answers other than 200" "$((window_bad + search_bad))" '<=' 0
_load_note
check_report
