#!/usr/bin/env bash
# Benchmark of the git source against `git log --numstat --no-renames`, side by side on this
# machine, in one run. Figures and targets (scripts/lib.sh: a missed target exits 1, after
# every figure is printed; ATHENA_BENCH_TARGET_<KEY> overrides one):
#   - sync / git log: ratio of the median wall time of a full `athena-ingest sync` of REPO
#     into a fresh store to that of `git log --numstat --no-renames HEAD >/dev/null`
#     (target <= 0.6, GIT_RATIO). The primary target: both depend on the machine and on the
#     repository alike, so their ratio means something anywhere. There is no target in
#     absolute seconds for the sync, as it depends as much on the repository as on the machine.
#   - no-op re-sync, median (target <= 0.3 s, GIT_NOOP_S)
#   - peak RSS of the sync, largest of the rounds (target < 200 MB, GIT_RSS_MB; about 90 MB
#     of it is rust-lang/cargo's memory-mapped pack, so a repository with a larger pack needs
#     a larger figure: 182-184 MB on cargo's 105 MB pack, 190-203 MB before the binary fixed
#     glibc's mmap threshold)
#   - the cost of links (docs/links.md): the same sync with `[links] enabled = false` in the
#     same rounds, the ratio of the medians, on / off (target <= 1.15, GIT_LINKS)
#   - per-file line counts that differ from git's, both ways (target 0, GIT_NUMSTAT_DIFF) and
#     commits git lists that were not stored (target 0, GIT_COMMITS_MISSING)
# Each measurement is repeated ROUNDS times (default 3), interleaved, and the median is kept:
# shared machines are noisy, and the ratio of medians measured together is what means something.
#
# Usage: scripts/bench-git.sh [REPO [ROUNDS]]   (REPO defaults to $ATHENA_BENCH_GIT_REPO)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=git
repo=${1:-${ATHENA_BENCH_GIT_REPO:-}}
if [ -z "$repo" ]; then
    echo "usage: scripts/bench-git.sh REPO [ROUNDS] (or set ATHENA_BENCH_GIT_REPO): no repository given" >&2
    exit 2
fi
rounds=${2:-3}
repo=$(cd "$repo" && pwd)
measure="python3 $root/scripts/measure.py"

bin=$(release_bin)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/athena.toml" <<TOML
[[sources]]
id = "bench"
type = "git"
path = "$repo"
TOML
{ printf '[links]\nenabled = false\n\n'; cat "$work/athena.toml"; } > "$work/unlinked.toml"

commits=$(git -C "$repo" rev-list --count HEAD)
echo "repository: $repo ($commits commits), $(nproc) cores, $rounds rounds"

git_times=() sync_times=() sync_rss=() noop_times=() unlinked_times=()
for ((i = 1; i <= rounds; i++)); do
    read -r t _ < <($measure -- git -C "$repo" log --numstat --no-renames HEAD)
    git_times+=("$t")
    rm -f "$work"/bench.db*
    read -r t _ < <($measure -- "$bin" sync --config "$work/unlinked.toml" --db "$work/bench.db")
    unlinked_times+=("$t")
    rm -f "$work"/bench.db*
    read -r t rss < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
    sync_times+=("$t") sync_rss+=("$rss")
    read -r t _ < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
    noop_times+=("$t")
    echo "  round $i: git log ${git_times[-1]}s, sync ${sync_times[-1]}s (${sync_rss[-1]} MB), without links ${unlinked_times[-1]}s, no-op re-sync ${noop_times[-1]}s" >&2
done

stored=$("$bin" status --db "$work/bench.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
g=$(median "${git_times[@]}")
s=$(median "${sync_times[@]}")
n=$(median "${noop_times[@]}")
rss=$(largest "${sync_rss[@]}")
r=$(ratio "$s" "$g")
u=$(median "${unlinked_times[@]}")
links=$(ratio "$s" "$u")

echo
echo "events stored:                       $stored (git rev-list --count: $commits)"
echo "git log --numstat --no-renames HEAD: ${g} s (median of $rounds)"
echo "athena-ingest sync (fresh store):    ${s} s (median of $rounds)"
echo "ratio sync / git log:                ${r}"
echo "no-op re-sync:                       ${n} s (median of $rounds)"
echo "peak RSS of sync:                    ${rss} MB (largest of $rounds)"
echo "sync without links:                  ${u} s (median of $rounds); with / without = $links"

# How often the per-file line counts agree with git's, both ways: a file change git lists that
# athena-ingest does not (or lists with other counts) is a disagreement, and so is one athena
# lists that git does not.
"$bin" events --db "$work/bench.db" --limit 100000000 --format jsonl > "$work/events.jsonl"
git -C "$repo" -c core.quotePath=false log --numstat --no-renames --format=@%H HEAD > "$work/numstat.txt"
read -r same pairs missing < <(python3 - "$work/events.jsonl" "$work/numstat.txt" <<'PY'
import json, sys
git, cur = {}, None
for line in open(sys.argv[2], encoding="utf-8", errors="surrogateescape"):
    line = line.rstrip("\n")
    if line.startswith("@"):
        cur = line[1:]
        git[cur] = {}
    elif line:
        a, d, p = line.split("\t", 2)
        git[cur][p] = (a, d)
ours = {}
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    ours[e["id"]] = {
        f["path"]: tuple("-" if f[k] is None else str(f[k]) for k in ("added", "deleted"))
        for f in e["metadata"]["files"]
    }
pairs = {(c, p) for c, files in git.items() for p in files} | {(c, p) for c, files in ours.items() for p in files}
same = sum(1 for c, p in pairs if git.get(c, {}).get(p) == ours.get(c, {}).get(p) is not None)
missing = sum(1 for c in git if c not in ours)
print(same, len(pairs), missing)
PY
)
echo "numstat agreement with git:          $same/$pairs file changes ($(awk -v s="$same" -v p="$pairs" 'BEGIN { printf "%.2f", 100 * s / (p > 0 ? p : 1) }')%), commits missing: $missing"

check GIT_RATIO "sync / git log" "$r" "<=" 0.6
check GIT_NOOP_S "no-op re-sync" "$n" "<=" 0.3 s
check GIT_RSS_MB "peak RSS of sync" "$rss" "<=" 199.9 MB
check GIT_LINKS "sync with / without links" "$links" "<=" 1.15
check GIT_NUMSTAT_DIFF "file changes unlike git's" "$((pairs - same))" "<=" 0
check GIT_COMMITS_MISSING "commits missing" "$missing" "<=" 0
check_report
