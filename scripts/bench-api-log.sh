#!/usr/bin/env bash
# Benchmark of the api_log source, in one run on this machine. It builds a 1,000,000-line
# combined log by repeating ../shared/data/apache_combined.log, then measures, with these
# targets (scripts/lib.sh: a missed target exits 1, after every figure is printed;
# ATHENA_BENCH_TARGET_<KEY> overrides one):
#   - sync / goaccess: end-to-end `sync` into a fresh store, full-text indexing on, against
#     goaccess (Debian package, installed if missing) on the same file, ROUNDS times
#     interleaved, ratio of the medians (target <= 0.8, API_LOG_RATIO). The primary target, as
#     absolute seconds differ from machine to machine while both programs slow down together.
#     Why 0.8: the ratio is 0.48-0.51 on the 2-core machine of docs/performance.md's figures; a second
#     2-core machine's ranges (sync 6.7-8.5 s, goaccess 9.7-11.6 s) put it near 0.7 (0.88 only
#     when its slowest sync meets its fastest goaccess, which medians of interleaved rounds
#     smooth out). 0.8 leaves room for a noisy neighbour there and still fails, here, a sync
#     that became 60% slower.
#   - the sync's median seconds (target <= 9 s, API_LOG_SYNC_S): secondary and loose, a
#     backstop for a run without goaccess or a goaccess that was slow itself. docs/performance.md's
#     design figure is 6 s on its machine; the second machine above took up to 8.5 s.
#   - parse-only lines/s, median of ROUNDS (target >= 2,000,000, API_LOG_PARSE)
#   - peak RSS of the sync, largest of the rounds (target <= 150 MB, API_LOG_RSS_MB)
#   - a no-op re-sync (target <= 0.1 s, API_LOG_NOOP_S)
# Without goaccess the ratio is reported as skipped, not as a pass. The targets in seconds and
# MB are for the default 1,000,000 lines; the ratio holds for any size worth measuring.
#
# Usage: scripts/bench-api-log.sh [LINES] [ROUNDS]
set -euo pipefail

lines=${1:-1000000}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=api_log
sample="$root/../shared/data/apache_combined.log"
[ -f "$sample" ] || { echo "missing $sample" >&2; exit 1; }
measure="python3 $root/scripts/measure.py"

echo "building release binaries..." >&2
(cd "$root" && cargo build --release --quiet && cargo build --release --quiet -p athena-sources --example api_log_parse)
bin="$root/target/release/athena-ingest"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
per=$(wc -l < "$sample")
reps=$(( (lines + per - 1) / per ))
for ((i = 0; i < reps; i++)); do cat "$sample"; done | head -n "$lines" > "$work/access.log"
echo "log: $(wc -l < "$work/access.log") lines, $(du -h "$work/access.log" | cut -f1), $(nproc) cores"
# Write the new log out to disk now, so the kernel's write-back of it does not run during (and
# get counted in) whichever measurement comes first.
sync

cat > "$work/athena.toml" <<TOML
[[sources]]
id = "web"
type = "api_log"
paths = ["access.log"]
TOML

parses=()
for ((r = 1; r <= rounds; r++)); do
    out=$("$root/target/release/examples/api_log_parse" "$work/access.log")
    parses+=("$(sed -n 's/.*: \([0-9]*\) lines\/s.*/\1/p' <<< "$out")")
    echo "parse only, round $r: $out"
done
parse=$(median "${parses[@]}" | awk '{ printf "%.0f\n", $1 }')

if ! command -v goaccess >/dev/null; then
    echo "installing goaccess..." >&2
    (apt-get update -qq && apt-get install -y -qq goaccess) >/dev/null 2>&1 || true
fi
have_goaccess=$(command -v goaccess >/dev/null && echo 1 || echo 0)

# Each round: a sync into a fresh store, then goaccess, side by side. The machine is shared and
# noisy, so the medians are what the targets are checked against; every round is printed.
times=() rsss=() gtimes=()
for ((r = 1; r <= rounds; r++)); do
    rm -f "$work"/bench.db*
    read -r t rss < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
    times+=("$t") rsss+=("$rss")
    line="round $r: sync ${t} s, peak RSS ${rss} MB"
    if [ "$have_goaccess" = 1 ]; then
        read -r g _ < <($measure -- goaccess "$work/access.log" --log-format=COMBINED --no-global-config --no-progress -o "$work/report.json")
        gtimes+=("$g")
        line="$line; goaccess ${g} s"
    fi
    echo "$line"
done
t=$(median "${times[@]}")
rss=$(largest "${rsss[@]}")
stored=$("$bin" status --db "$work/bench.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
echo "parse only:        $parse lines/s (median of $rounds)"
echo "end-to-end sync:   ${t} s (median of $rounds), $(python3 -c "print(f'{$stored / $t:,.0f}')") events/s ($stored events), peak RSS ${rss} MB (largest)"
read -r n _ < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
echo "no-op re-sync:     ${n} s"
if [ "$have_goaccess" = 1 ]; then
    g=$(median "${gtimes[@]}")
    r=$(ratio "$t" "$g")
    echo "goaccess:          ${g} s (median of $rounds); sync / goaccess = $r"
else
    echo "goaccess:          not available, so no ratio"
fi

if [ "$have_goaccess" = 1 ]; then
    check API_LOG_RATIO "sync / goaccess" "$r" "<=" 0.8
else
    skip API_LOG_RATIO "sync / goaccess" "goaccess not available"
fi
check API_LOG_SYNC_S "end-to-end sync" "$t" "<=" 9 s
check API_LOG_PARSE "parse only" "$parse" ">=" 2000000 lines/s
check API_LOG_RSS_MB "peak RSS of sync" "$rss" "<=" 150 MB
check API_LOG_NOOP_S "no-op re-sync" "$n" "<=" 0.1 s
check_report
