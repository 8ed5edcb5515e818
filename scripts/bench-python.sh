#!/usr/bin/env bash
# Benchmark of the Python package (crates/athena-python), in one run on this machine: builds
# the release wheel with maturin, installs it into a virtual environment of its own, and on a
# 1,000,000-line combined log (bench_log_input: generated, or --log FILE) measures, ROUNDS
# times (scripts/bench_python.py does each measurement in a process of its own):
#   - iterating the log through EventSourceFactory's api_log source with `async for`:
#     events/s, median (target >= 200,000, PY_ITER_EPS), and the growth of peak RSS over the
#     RSS before the loop, largest (target <= 150 MB, PY_ITER_RSS_MB);
#   - the same lines from a source written in Python into the store through the engine
#     (exactly once: batches and their checkpoints in one transaction, full-text indexed),
#     beside the same parsing in pure Python writing to SQLite with executemany (a plain
#     table, no full-text index): both medians and their ratio, printed (no target: the
#     engine does more per event, and the point is what it costs).
# Exits 1 on a missed target (scripts/lib.sh), after printing every figure.
#
# Usage: scripts/bench-python.sh [--log FILE] [LINES] [ROUNDS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=python
bench_args "$@"
lines=${args[0]:-1000000}
rounds=${args[1]:-3}

target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
venv=$target/bench-python/venv
wheels=$target/bench-python/wheels
tools=$target/test-tools/venv
if [ ! -x "$tools/bin/maturin" ]; then
    echo "$bench: maturin is missing: run scripts/test-setup.sh first" >&2
    exit 2
fi
echo "building the release wheel..." >&2
rm -rf "$wheels"
"$tools/bin/maturin" build --quiet --release -m "$root/crates/athena-python/Cargo.toml" \
    --interpreter "$tools/bin/python3" --out "$wheels" >&2
python3 -m venv --clear "$venv"
"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "$wheels"/athena_ingest-*.whl
py="$venv/bin/python3 $root/scripts/bench_python.py"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_log_input "$lines" "$work/access.log"
echo "log: $(wc -l < "$work/access.log") lines, $(du -h "$work/access.log" | cut -f1), $(nproc) cores"
sync

field() { sed -n "s/^$1 //p" <<< "$2"; }
eps=() growth=() engine=() plain=()
for ((r = 1; r <= rounds; r++)); do
    out=$($py iterate "$work/access.log")
    eps+=("$(field events_per_s "$out")")
    growth+=("$(field rss_growth_mb "$out")")
    echo "round $r: iterate $(field events "$out") events in $(field seconds "$out") s ($(field events_per_s "$out")/s), peak RSS +$(field rss_growth_mb "$out") MB"
    rm -f "$work"/engine.db*
    out=$($py engine "$work/access.log" "$work/engine.db")
    engine+=("$(field seconds "$out")")
    echo "round $r: engine $(field events "$out") events from a Python source into the store in $(field seconds "$out") s"
    rm -f "$work"/plain.db*
    out=$($py executemany "$work/access.log" "$work/plain.db")
    plain+=("$(field seconds "$out")")
    echo "round $r: pure Python + sqlite3 executemany, $(field events "$out") rows in $(field seconds "$out") s"
done

eps_median=$(median "${eps[@]}")
growth_max=$(largest "${growth[@]}")
engine_median=$(median "${engine[@]}")
plain_median=$(median "${plain[@]}")
echo
echo "iterate: median $eps_median events/s, peak RSS growth up to $growth_max MB"
echo "engine (Python source → store): median $engine_median s; pure Python executemany: median $plain_median s;" \
    "engine / executemany = $(ratio "$engine_median" "$plain_median")"
check PY_ITER_EPS "iterate events/s (median)" "${eps_median%.*}" '>=' 200000 "/s"
check PY_ITER_RSS_MB "iterate peak RSS growth (largest)" "$growth_max" '<=' 150 MB
check_report
