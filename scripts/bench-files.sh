#!/usr/bin/env bash
# Benchmark of the files source, in one run on this machine:
#   - builds a tree of FILES small files (100 per directory, a .gitignore at the top)
#   - the first sync (hashes every file), with its peak RSS
#   - a no-op re-scan (nothing changed), median of ROUNDS, against
#     `find ROOT -type f -printf '%s %T@\n'`, median of ROUNDS, and the ratio (target <= 1.5)
#   - a re-scan after touching 1% of the files and modifying 1%
#
# Usage: scripts/bench-files.sh [FILES] [ROUNDS]
set -euo pipefail

files=${1:-100000}
rounds=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
measure="python3 $root/scripts/measure.py"

echo "building the release binary..." >&2
(cd "$root" && cargo build --release --quiet)
bin="$root/target/release/athena-ingest"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
python3 - "$tree" "$files" <<'PY'
import os, sys
tree, n = sys.argv[1], int(sys.argv[2])
exts = ["rs", "py", "md", "txt", "json"]
for i in range(n):
    d = os.path.join(tree, f"d{i // 10000:02d}", f"s{(i // 100) % 100:02d}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.{exts[i % 5]}"), "w") as f:
        f.write(f"file {i}\n" * (1 + i % 7))
with open(os.path.join(tree, ".gitignore"), "w") as f:
    f.write("*.tmp\nbuild/\n")
PY
echo "tree: $(find "$tree" -type f | wc -l) files, $(du -sh "$tree" | cut -f1), $(nproc) cores"

cat > "$work/athena.toml" <<TOML
[[sources]]
id = "tree"
type = "files"
path = "tree"
TOML

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

read -r t rss < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
echo "first sync:        ${t} s (hashes every file), peak RSS ${rss} MB"

noop=$(for ((i = 0; i < rounds; i++)); do
    $measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db" | cut -d' ' -f1
done | median)
found=$(for ((i = 0; i < rounds; i++)); do
    $measure -- find "$tree" -type f -printf '%s %T@\n' | cut -d' ' -f1
done | median)
read -r _ nrss < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db")
echo "no-op re-scan:     ${noop} s (median of $rounds), peak RSS ${nrss} MB"
echo "find -printf:      ${found} s (median of $rounds)"
echo "re-scan / find:    $(python3 -c "print(f'{$noop / $found:.2f}')")   (target <= 1.5)"

python3 - "$tree" "$files" <<'PY'
import os, sys
tree, n = sys.argv[1], int(sys.argv[2])
for i in range(0, n, 100):
    p = os.path.join(tree, f"d{i // 10000:02d}", f"s{(i // 100) % 100:02d}", f"f{i}.{['rs','py','md','txt','json'][i % 5]}")
    os.utime(p, (1_800_000_000, 1_800_000_000))              # touched, same content
    q = os.path.join(tree, f"d{(i + 1) // 10000:02d}", f"s{((i + 1) // 100) % 100:02d}", f"f{i + 1}.{['rs','py','md','txt','json'][(i + 1) % 5]}")
    with open(q, "a") as f:
        f.write("changed\n")                                # modified
PY
read -r c _ < <($measure -- "$bin" sync --config "$work/athena.toml" --db "$work/bench.db" --format json)
echo "re-scan, 1% touched + 1% modified: ${c} s"
