#!/usr/bin/env bash
# Runs the seven benchmarks (git, api_log, files, serve, recall, recall-load, python) one after
# the other
# and ends with one table of every figure that has a target, its value, the target and the
# verdict.
#
# With --check it exits 1 if any target was missed (and each benchmark script names the figure
# and the target as it ends); without it, it exits 0 unless a benchmark could not run, which
# is for collecting figures on a machine slower than the targets. A benchmark that fails to
# run (an error, not a missed target) always makes the exit status non-zero.
#
# bench-git needs a repository: --git-repo PATH, or ATHENA_BENCH_GIT_REPO. Without one, that
# benchmark is skipped, and the table says so.
# --rounds N is passed to each script (defaults: 3 for git and api_log, 5 for files; serve has
# no rounds: one latency run and one soak, about two minutes; recall: one wrk run of each kind
# of page over a store of 1,000,000 events; recall-load: 500 clients for 30 s over such a
# store; python: 3 rounds over 1,000,000 lines).
# ATHENA_BENCH_SERVE_ARGS adds arguments to bench-serve's `serve` (see that script).
# --log FILE (or ATHENA_BENCH_LOG=FILE): the api_log and both recall benchmarks read FILE, repeated,
# instead of the combined-log lines they generate by default.
# ATHENA_BENCH_TARGET_<KEY>=VALUE overrides a target (the keys are in the table).
#
# Usage: scripts/bench.sh [--check] [--git-repo PATH] [--rounds N] [--log FILE]
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/bench.sh [--check] [--git-repo PATH] [--rounds N] [--log FILE]"
check=0 repo=${ATHENA_BENCH_GIT_REPO:-} rounds=""
while [ $# -gt 0 ]; do
    case $1 in
        --check) check=1 ;;
        --git-repo) repo=${2:?$usage}; shift ;;
        --rounds) rounds=${2:?$usage}; shift ;;
        --log) export ATHENA_BENCH_LOG=${2:?$usage}; shift ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
    shift
done

results=$(mktemp)
trap 'rm -f "$results"' EXIT
export ATHENA_BENCH_RESULTS=$results

declare -A status
run() {
    local name=$1
    shift
    echo
    echo "=== $(basename "$1") ${*:2}"
    "$@"
    status[$name]=$?
}

if [ -n "$repo" ]; then
    run git "$root/scripts/bench-git.sh" "$repo" $rounds
else
    echo
    echo "=== bench-git.sh SKIPPED: no repository (pass --git-repo PATH or set ATHENA_BENCH_GIT_REPO)"
    status[git]=skipped
fi
# An empty first argument means the script's default size.
run api_log "$root/scripts/bench-api-log.sh" "" $rounds
run files "$root/scripts/bench-files.sh" "" $rounds
run serve "$root/scripts/bench-serve.sh"
run recall "$root/scripts/bench-recall.sh"
run recall-load "$root/scripts/bench-recall-load.sh"
run python "$root/scripts/bench-python.sh" "" $rounds

echo
echo "=== summary"
printf '%-8s %-8s %-34s %16s  %-21s %s\n' bench verdict figure value target key
missed=0 broken=0 skipped=()
for name in git api_log files serve recall recall-load python; do
    if [ "${status[$name]}" = skipped ]; then
        printf '%-8s %-8s %s\n' "$name" skipped "no repository: pass --git-repo PATH or set ATHENA_BENCH_GIT_REPO"
        skipped+=("bench-$name")
        continue
    fi
    rows=0
    while IFS='|' read -r bench key figure value op target unit verdict; do
        [ "$bench" = "$name" ] || continue
        rows=$((rows + 1))
        if [ "$verdict" = skipped ]; then
            printf '%-8s %-8s %-34s %s\n' "$name" "$verdict" "$figure" "$value"
            skipped+=("$figure ($name)")
            continue
        fi
        [ "$verdict" = MISSED ] && missed=$((missed + 1))
        printf '%-8s %-8s %-34s %16s  %-21s %s\n' "$name" "$verdict" "$figure" \
            "$value${unit:+ $unit}" "$op $target${unit:+ $unit}" "ATHENA_BENCH_TARGET_$key"
    done < "$results"
    # Exit 1 with missed targets is a verdict; any other failure means the benchmark broke.
    if [ "${status[$name]}" != 0 ] && ! { [ "${status[$name]}" = 1 ] && [ "$rows" -gt 0 ]; }; then
        printf '%-8s %-8s %s\n' "$name" ERROR "bench-$name.sh exited ${status[$name]} before checking its targets"
        broken=$((broken + 1))
    fi
done

echo
if [ ${#skipped[@]} -gt 0 ]; then
    echo "not checked in this run: $(IFS=,; echo "${skipped[*]}" | sed 's/,/, /g')"
fi
if [ "$broken" -gt 0 ]; then
    echo "$broken benchmark(s) could not run; $missed target(s) missed"
    exit 2
fi
if [ "$missed" -gt 0 ]; then
    echo "$missed target(s) missed"
    [ "$check" = 1 ] && exit 1
    echo "(not failing: run with --check to exit non-zero)"
    exit 0
fi
echo "all checked targets met"
