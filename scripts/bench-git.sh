#!/usr/bin/env bash
# Benchmark of the git source against `git log --numstat --no-renames`, side by side on this
# machine, in one run:
#   - wall time of `git log --numstat --no-renames HEAD >/dev/null`
#   - wall time and peak RSS of a full `athena-ingest sync` of REPO into a fresh store
#   - their ratio (target: <= 0.6)
#   - wall time of a re-sync with nothing new (target: <= 0.3 s)
# Each measurement is repeated ROUNDS times (default 3), interleaved, and the median is kept:
# shared machines are noisy, and the ratio of medians measured together is what means something.
#
# Usage: scripts/bench-git.sh REPO [ROUNDS]
set -euo pipefail

repo=${1:?usage: scripts/bench-git.sh REPO [ROUNDS]}
rounds=${2:-3}
repo=$(cd "$repo" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
measure="python3 $root/scripts/measure.py"

echo "building release binary..." >&2
(cd "$root" && cargo build --release --quiet)
bin="$root/target/release/athena-ingest"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/athena.toml" <<TOML
[[sources]]
id = "bench"
type = "git"
path = "$repo"
TOML

commits=$(git -C "$repo" rev-list --count HEAD)
echo "repository: $repo ($commits commits), $(nproc) cores, $rounds rounds"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

git_times=() sync_times=() sync_rss=() noop_times=()
for ((i = 1; i <= rounds; i++)); do
    read -r t _ < <($measure -- git -C "$repo" log --numstat --no-renames HEAD)
    git_times+=("$t")
    rm -f "$work"/bench.db*
    read -r t rss < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
    sync_times+=("$t") sync_rss+=("$rss")
    read -r t _ < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
    noop_times+=("$t")
    echo "  round $i: git log ${git_times[-1]}s, sync ${sync_times[-1]}s (${sync_rss[-1]} MB), no-op re-sync ${noop_times[-1]}s" >&2
done

stored=$("$bin" status --db "$work/bench.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
g=$(printf '%s\n' "${git_times[@]}" | median)
s=$(printf '%s\n' "${sync_times[@]}" | median)
n=$(printf '%s\n' "${noop_times[@]}" | median)
rss=$(printf '%s\n' "${sync_rss[@]}" | sort -n | tail -1)
ratio=$(python3 -c "print(f'{$s / $g:.2f}')")
verdict() { python3 -c "print('ok' if $1 else 'MISSED')"; }

echo
echo "events stored:                       $stored (git rev-list --count: $commits)"
echo "git log --numstat --no-renames HEAD: ${g} s (median)"
echo "athena-ingest sync (fresh store):    ${s} s (median)"
echo "ratio sync / git log:                ${ratio}  (target <= 0.6: $(verdict "$ratio <= 0.6"))"
echo "no-op re-sync:                       ${n} s  (target <= 0.3: $(verdict "$n <= 0.3"))"
echo "peak RSS of sync:                    ${rss} MB  (target <= 300: $(verdict "$rss <= 300"))"

# How often the per-file line counts agree with git's, both ways: a file change git lists that
# athena-ingest does not (or lists with other counts) is a disagreement, and so is one athena
# lists that git does not.
"$bin" events --db "$work/bench.db" --limit 100000000 --format jsonl > "$work/events.jsonl"
git -C "$repo" -c core.quotePath=false log --numstat --no-renames --format=@%H HEAD > "$work/numstat.txt"
python3 - "$work/events.jsonl" "$work/numstat.txt" <<'PY'
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
print(f"numstat agreement with git:          {same}/{len(pairs)} file changes ({100 * same / max(len(pairs), 1):.2f}%), commits missing: {missing}")
PY
