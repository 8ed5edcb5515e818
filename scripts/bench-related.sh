#!/usr/bin/env bash
# Benchmark of `related` (docs/links.md) on a store of EVENTS events (default 1,000,000) that
# reference each other the way work does, in one run on this machine:
#   - the events come from a generated Singer tap (records of a stream `record`, id 1..N, each
#     at its own minute): every 50th is a Jira issue (about `key:PROJ-K` by its URL), every
#     20th a commit (about its SHA by a GitHub commit URL); the rest name one or two issue keys
#     (a few hot ones named by thousands of events, most by a handful) and every tenth a short
#     SHA of an earlier commit. The random draws are seeded: every run builds the same store.
#   - `serve` on it read-only, loaded with wrk from a second process for SECONDS (default 10)
#     over CONNECTIONS (default 4): each request the related events (limit 50) of a random event
#     (scripts/recall_load.lua, mode related).
#   - then pages of 50 events in a random hour, in the jsonl shape and in Athena's (which reads
#     each event's session, the work item it is linked to: docs/links.md), the same pages.
# Targets (scripts/lib.sh; exit 1 on a miss): p99 at most 20 ms (RELATED_P99_MS), no answer
# other than 200 (RELATED_NON_200); an Athena page's p99 at most 50 ms (ATHENA_PAGE_P99_MS, the
# recall target of a page). It prints the store's size, its links, and the sync's time.
#
# Usage: scripts/bench-related.sh [EVENTS] [SECONDS] [CONNECTIONS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=related
bench_args "$@"
events=${args[0]:-1000000}
seconds=${args[1]:-10}
connections=${args[2]:-4}

if ! command -v wrk >/dev/null; then
    echo "installing wrk..." >&2
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 || true
fi
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 2; }
bin=$(release_bin)

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/tap.py" <<PY
import hashlib, json, random, sys
from datetime import datetime, timedelta, timezone
N = $events
rng = random.Random(1)
base = datetime(2024, 1, 1, tzinfo=timezone.utc)
out = sys.stdout
def w(m): out.write(json.dumps(m) + "\n")
w({"type": "SCHEMA", "stream": "record", "key_properties": ["id"],
   "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}})
def sha(i): return hashlib.sha1(str(i).encode()).hexdigest()
def key():
    # A few hot keys, a long tail.
    if rng.random() < 0.05:
        return "PROJ-%d" % rng.randint(1, 10)
    return "PROJ-%d" % rng.randint(1, N // 50)
for i in range(1, N + 1):
    at = (base + timedelta(minutes=i)).isoformat()
    r = {"id": i, "at": at}
    if i % 50 == 0:
        k = "PROJ-%d" % (i // 50)
        r["text"] = "issue %s" % k
        r["url"] = "https://acme.atlassian.net/browse/%s" % k
    elif i % 20 == 0:
        r["text"] = "Fix %s: change %d" % (key(), i)
        r["url"] = "https://github.com/acme/app/commit/%s" % sha(i)
    else:
        words = ["note", str(i), "about", key()]
        if rng.random() < 0.3:
            words.append(key())
        if i > 20 and rng.random() < 0.1:
            words.append(sha(20 * rng.randint(1, i // 20))[:8])
        r["text"] = " ".join(words)
    w({"type": "RECORD", "stream": "record", "record": r})
    if i % 10000 == 0:
        w({"type": "STATE", "value": {"at": i}})
w({"type": "STATE", "value": {"at": N}})
PY
cat > "$work/athena.toml" <<TOML
[[sources]]
id = "work"
type = "singer"
command = ["python3", "tap.py"]
discover = false
batch_size = 10000
[sources.streams.record]
occurred_at = "at"
title = "{text}"
url = "url"
TOML

start=$(date +%s.%N)
"$bin" sync --config "$work/athena.toml" --db "$work/bench.db" > /dev/null 2> "$work/sync.err" ||
    { echo "$bench: sync failed"; tail -5 "$work/sync.err"; exit 2; }
took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }')
stored=$("$bin" status --db "$work/bench.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["sources"][0]["events"])')
links=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM event_links').fetchone()[0])" "$work/bench.db")
echo "store: $stored events, $links links, $(du -m "$work/bench.db" | cut -f1) MB, synced in $took s; $(nproc) cores"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --db "$work/bench.db" -c "$work/none.toml" --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
# One answer to look at.
curl -s "http://127.0.0.1:$port/v1/events/work/record:1000/related?limit=3" | python3 -c '
import json, sys
a = json.load(sys.stdin)
print("record:1000 is", [t["thing"] for t in a["things"]], "and has", len(a["related"]), "related (limit 3)")'
wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" related related work "$stored" -
check RELATED_P99_MS "related p99, $connections connections" "$p99" '<=' 20 ms
check RELATED_NON_200 "answers other than 200" "$bad" '<=' 0
# The records are a minute apart from 2024-01-01.
first=1704067200
last=$((first + 60 * stored))
wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" "page jsonl" window "$first" "$last" -
jsonl_p50=$p50
wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" "page athena" athena "$first" "$last" -
echo "an Athena page's p50 is $(awk -v a="$p50" -v b="$jsonl_p50" 'BEGIN { printf "%.2f", a / b }') x the jsonl page's"
check ATHENA_PAGE_P99_MS "Athena page p99 (sessions read), $connections connections" "$p99" '<=' 50 ms
check ATHENA_NON_200 "answers other than 200" "$bad" '<=' 0
check_report
