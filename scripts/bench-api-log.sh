#!/usr/bin/env bash
# Benchmark of the api_log source, in one run on this machine:
#   - builds a 1,000,000-line combined log by repeating ../shared/data/apache_combined.log
#   - parse-only lines/s (target >= 2,000,000)
#   - end-to-end `sync` into a fresh store, full-text indexing on (target <= 6 s), events/s
#   - peak RSS of that sync (target <= 150 MB)
#   - a no-op re-sync (target <= 0.1 s)
#   - goaccess (Debian package, installed if missing) on the same file, and the ratio
# The sync and goaccess run ROUNDS times (default 3), interleaved; medians are reported.
#
# Usage: scripts/bench-api-log.sh [LINES] [ROUNDS]
set -euo pipefail

lines=${1:-1000000}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
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

"$root/target/release/examples/api_log_parse" "$work/access.log" | sed 's/^/parse only:        /'

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
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f\n", m}'; }
t=$(median "${times[@]}")
rss=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -1)
stored=$("$bin" status --db "$work/bench.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
echo "end-to-end sync:   ${t} s (median of $rounds), $(python3 -c "print(f'{$stored / $t:,.0f}')") events/s ($stored events), peak RSS ${rss} MB (largest)"
read -r n _ < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
echo "no-op re-sync:     ${n} s"
if [ "$have_goaccess" = 1 ]; then
    g=$(median "${gtimes[@]}")
    echo "goaccess:          ${g} s (median of $rounds); sync / goaccess = $(python3 -c "print(f'{$t / $g:.2f}')")"
else
    echo "goaccess:          not available"
fi
echo
echo "targets: parse >= 2,000,000 lines/s; sync <= 6 s; RSS <= 150 MB; no-op <= 0.1 s"
