#!/usr/bin/env bash
# Benchmark of the Singer source, in one run on this machine: RECORDS records (default 1M,
# generated: ids, users, actions, times) read by a real tap (tap-jsonl, built on Meltano's SDK)
# into three places, each ROUNDS times (default 1), medians:
#   - /dev/null: the tap alone, what any pipeline with this tap costs at least;
#   - the store: `athena-ingest sync` with a `singer` source running the tap (a fresh store);
#   - target-jsonl: `tap-jsonl | target-jsonl`, the Singer ecosystem's own simplest loader.
# It prints seconds and records/s of each, sync's peak RSS, and the ratios.
# Targets (scripts/lib.sh; exit 1 on a miss): the store's pipeline at most as long as
# target-jsonl's (SINGER_VS_TARGET, 1.00) and at most 1.5 times the tap alone
# (SINGER_VS_TAP: what athena-ingest adds to a tap is parsing, checking and storing, on the
# second of two cores), every record stored (SINGER_MISSING), athena-ingest's own peak RSS
# at most 200 MB (SINGER_RSS_MB; the tap's is its own: tap-jsonl alone takes about 1 GB for
# 1M records).
# The tools come from the test tools' virtual environments (scripts/test-setup.sh).
#
# Usage: scripts/bench-singer.sh [RECORDS] [ROUNDS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=singer
bench_args "$@"
records=${args[0]:-1000000}
rounds=${args[1]:-1}

bin=$(release_bin)
tools=$(release_dir)/../test-tools
tap=$tools/venv/bin/tap-jsonl
target=$tools/singer-target-venv/bin/target-jsonl
for tool in "$tap" "$target"; do
    [ -x "$tool" ] || { echo "$bench: no $tool (scripts/test-setup.sh installs it)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$records" "$work/records.jsonl" <<'EOF'
import json, sys
n, path = int(sys.argv[1]), sys.argv[2]
actions = ["opened", "closed", "commented", "reviewed", "merged"]
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write(json.dumps({
            "id": i, "user": "user%d" % (i % 97), "action": actions[i % 5],
            "at": "2024-%02d-%02dT%02d:%02d:%02dZ" % (1 + i % 12, 1 + i % 28, i % 24, i % 60, i % 59),
            "size": i % 1000,
        }) + "\n")
EOF
echo "$records records, $(du -m "$work/records.jsonl" | cut -f1) MB; tap-jsonl $("$tap" --version 2>/dev/null | head -1 | awk '{print $NF}'), $(nproc) cores"
printf '{"path": "%s", "stream_name": "actions", "primary_keys": ["id"]}\n' "$work/records.jsonl" > "$work/tap.json"
printf '{"destination_path": "%s/out", "do_timestamp_file": false}\n' "$work" > "$work/target.json"
cat > "$work/athena.toml" <<EOF
[[sources]]
id = "actions"
type = "singer"
command = ["$tap"]
config = "$work/tap.json"
[sources.streams.actions]
occurred_at = "at"
actor = "user"
title = "{user} {action}"
EOF

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
rate_of() { awk -v n="$records" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }

alone=() store=() loader=() rss=() missing=0
for ((r = 1; r <= rounds; r++)); do
    start=$(now)
    "$tap" --config "$work/tap.json" > /dev/null 2>&1
    alone+=("$(elapsed "$start" "$(now)")")

    rm -f "$work"/athena.db*
    start=$(now)
    # athena-ingest's own peak (VmHWM), not its children's: the tap's memory is the tap's.
    "$bin" sync -c "$work/athena.toml" --db "$work/athena.db" > /dev/null 2> "$work/sync.err" &
    sync_pid=$!
    hwm=0
    while kill -0 "$sync_pid" 2> /dev/null; do
        kib=$(awk '/^VmHWM/ { print $2 }' "/proc/$sync_pid/status" 2> /dev/null || true)
        [ -n "$kib" ] && hwm=$kib
        sleep 0.1
    done
    wait "$sync_pid" || { echo "$bench: sync failed"; tail -5 "$work/sync.err"; exit 2; }
    store+=("$(elapsed "$start" "$(now)")")
    rss+=("$(awk -v k="$hwm" 'BEGIN { printf "%.0f\n", k / 1024 }')")
    stored=$("$bin" status --db "$work/athena.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
    [ "$stored" = "$records" ] || missing=$((records - stored))

    rm -rf "$work/out"
    start=$(now)
    "$tap" --config "$work/tap.json" 2> /dev/null | "$target" --config "$work/target.json" > /dev/null 2> "$work/target.err" ||
        { echo "$bench: target-jsonl failed"; tail -5 "$work/target.err"; exit 2; }
    loader+=("$(elapsed "$start" "$(now)")")
    loaded=$(wc -l < "$work/out/actions.jsonl")
    [ "$loaded" = "$records" ] || { echo "$bench: target-jsonl wrote $loaded of $records"; exit 2; }

    echo "round $r: tap alone ${alone[-1]} s ($(rate_of "${alone[-1]}")/s); into the store ${store[-1]} s ($(rate_of "${store[-1]}")/s, $stored stored, peak RSS ${rss[-1]} MB); into target-jsonl ${loader[-1]} s ($(rate_of "${loader[-1]}")/s)"
done

m_alone=$(median "${alone[@]}")
m_store=$(median "${store[@]}")
m_loader=$(median "${loader[@]}")
vs_target=$(ratio "$m_store" "$m_loader")
vs_tap=$(ratio "$m_store" "$m_alone")
echo
echo "medians of $rounds: tap alone $m_alone s ($(rate_of "$m_alone")/s), tap -> store $m_store s ($(rate_of "$m_store")/s), tap -> target-jsonl $m_loader s ($(rate_of "$m_loader")/s)"
echo "store / target-jsonl: $vs_target; store / tap alone: $vs_tap"

check SINGER_VS_TARGET "store / target-jsonl time" "$vs_target" '<=' 1.00
check SINGER_VS_TAP "store / tap alone time" "$vs_tap" '<=' 1.50
check SINGER_MISSING "records not stored" "$missing" '<=' 0
check SINGER_RSS_MB "sync peak RSS (without the tap)" "$(largest "${rss[@]}")" '<=' 200 MB
check_report
