#!/usr/bin/env bash
# Benchmark of the PostgreSQL store, in one run on this machine: ingest into PostgreSQL with
# 1, 2 and 3 workers beside SQLite on the same data. It starts a PostgreSQL server of its own
# (Debian's `postgresql`; as root, run as the `postgres` user) in a temporary directory, on a
# Unix socket there only, splits LINES combined-log lines (bench_log_input) into 12 files,
# one api_log source each, and measures, ROUNDS times, the median of:
#   - sqlite: `sync` into a fresh SQLite file;
#   - pg-1: `sync --db postgres://…` into a fresh database (one process);
#   - pg-2, pg-3: that many `serve` workers with the config's `[store] url`, sharing the
#     sources by leases, from their start until every line is stored (counted with psql).
# Each figure is events/s and its ratio to SQLite's in the same run. The one target (exits 1
# on a miss, scripts/lib.sh) is a backstop: one PostgreSQL process at least 0.15 of SQLite's
# rate (PG_SYNC_RATIO; about 0.23 when written). On one machine PostgreSQL pays what SQLite
# does not (a server process, a round trip per statement, WAL and GIN index upkeep); the
# workers share the same two cores, so more of them add contention here, not throughput
# (they are for more machines).
#
# Usage: scripts/bench-postgres.sh [LINES] [ROUNDS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=postgres
bench_args "$@"
lines=${args[0]:-300000}
rounds=${args[1]:-3}
sources=12

bin=$(release_bin)
work=$(mktemp -d)
cleanup() {
    pg_stop
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
pg_server "$work/pg"
url_of() { pg_url "$1"; }

bench_log_input "$lines" "$work/all.log"
mkdir -p "$work/logs"
split -n "l/$sources" -d -a 2 "$work/all.log" "$work/logs/part"
echo "log: $(wc -l < "$work/all.log") lines in $sources files, $(nproc) cores"
rm -f "$work/all.log"

config() { # config URL-or-empty
    {
        [ -n "$1" ] && printf '[store]\nurl = "%s"\n\n[cluster]\nlease_ttl = "3s"\n' "$1"
        for f in "$work"/logs/part*; do
            printf '\n[[sources]]\nid = "%s"\ntype = "api_log"\npaths = ["%s"]\n' "$(basename "$f")" "$f"
        done
    } > "$work/athena.toml"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
rate() { awk -v n="$lines" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }

sqlite=() pg1=() pg2=() pg3=()
for ((r = 1; r <= rounds; r++)); do
    config ""
    rm -f "$work"/athena.db*
    start=$(now)
    "$bin" sync -c "$work/athena.toml" --db "$work/athena.db" > /dev/null 2>&1
    s=$(elapsed "$start" "$(now)"); sqlite+=("$s")
    echo "round $r: sqlite $s s ($(rate "$s") events/s)"

    for workers in 1 2 3; do
        db=bench_${r}_$workers
        psql_do -d postgres -c "CREATE DATABASE $db" >/dev/null
        config "$(url_of "$db")"
        "$bin" migrate -c "$work/athena.toml" > /dev/null
        start=$(now)
        if [ "$workers" = 1 ]; then
            "$bin" sync -c "$work/athena.toml" > /dev/null 2>&1
        else
            pids=()
            for ((w = 0; w < workers; w++)); do
                "$bin" serve -c "$work/athena.toml" --listen "127.0.0.1:$((19600 + w))" \
                    > /dev/null 2> "$work/serve-$w.log" &
                pids+=($!)
            done
            until [ "$(psql_do -d "$db" -c 'SELECT count(*) FROM events')" -ge "$lines" ]; do
                sleep 0.2
            done
        fi
        s=$(elapsed "$start" "$(now)")
        if [ "$workers" != 1 ]; then kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true; fi
        n=$(psql_do -d "$db" -c 'SELECT count(*) FROM events')
        [ "$n" = "$lines" ] || { echo "$bench: pg-$workers stored $n events of $lines" >&2; exit 2; }
        case $workers in 1) pg1+=("$s") ;; 2) pg2+=("$s") ;; 3) pg3+=("$s") ;; esac
        echo "round $r: pg with $workers worker(s) $s s ($(rate "$s") events/s)"
    done
done

m_sqlite=$(median "${sqlite[@]}")
echo
printf '%-22s %10s %12s %10s\n' store "median s" "events/s" "/ sqlite"
for name in sqlite pg1 pg2 pg3; do
    declare -n values=$name
    m=$(median "${values[@]}")
    printf '%-22s %10s %12s %10s\n' "$name" "$m" "$(rate "$m")" "$(ratio "$m_sqlite" "$m")"
done
check PG_SYNC_RATIO "pg-1 events/s / sqlite's" "$(ratio "$m_sqlite" "$(median "${pg1[@]}")")" '>=' 0.15
check_report
