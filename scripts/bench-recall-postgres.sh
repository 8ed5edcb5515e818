#!/usr/bin/env bash
# Benchmark of recall from PostgreSQL beside SQLite, in one run on this machine. It builds the
# recall benchmark's SQLite store (EVENTS combined-log lines, default 1,000,000; scripts/lib.sh
# recall_store), copies it exactly into a PostgreSQL server of its own (`athena-ingest copy`),
# and for each store starts `serve` read-only on it and loads it with wrk from a second process
# (scripts/recall_load.lua, fixed seed), as scripts/bench-recall.sh does:
#   - window: a page of 50 in a random one-hour window;
#   - search: a full-text page of 50 for one of a dozen words of the log, rare to common.
# It prints p50, p90 and p99 of each page on each store and PostgreSQL's p99 over SQLite's.
# Targets (exit 1 on a miss, scripts/lib.sh): PostgreSQL's p99 of each page at most 50 ms, the
# recall target (RECALL_PG_WINDOW_P99_MS, RECALL_PG_SEARCH_P99_MS), and no answer other than 200
# on either store (RECALL_PG_NON_200). PostgreSQL runs on the same two cores as serve and wrk.
#
# Usage: scripts/bench-recall-postgres.sh [--log FILE] [EVENTS] [SECONDS] [CONNECTIONS]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/lib.sh"
bench=recall-postgres
bench_args "$@"
events=${args[0]:-1000000}
seconds=${args[1]:-10}
connections=${args[2]:-4}

command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk)" >&2; exit 2; }
bin=$(release_bin)

work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pg_stop
    rm -rf "$work"
}
trap cleanup EXIT

recall_store "$bin" "$work" "$events"
pg_server "$work/pg"
psql_do -d postgres -c "CREATE DATABASE recall" >/dev/null
url=$(pg_url recall)
start=$(date +%s.%N)
"$bin" copy --from "$work/recall.db" --to "$url" > "$work/copy.log" 2>&1 ||
    { cat "$work/copy.log" >&2; exit 2; }
psql_do -d recall -c "VACUUM ANALYZE" >/dev/null
echo "copied to PostgreSQL in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s:" \
    "$(psql_do -d recall -c 'SELECT count(*) FROM events') events," \
    "$(psql_do -d recall -c "SELECT pg_size_pretty(pg_database_size('recall'))")"
echo "wrk: $connections connections, ${seconds}s each, $(nproc) cores"

# measure NAME DB — serve DB, warm it up, load it; sets NAME_window, NAME_search, NAME_bad.
measure() {
    local name=$1 db=$2 bad_total=0
    serve_store "$bin" "$work" "$db"
    wrk -t1 -c1 -d2s -s "$root/scripts/recall_load.lua" "http://127.0.0.1:$port" \
        -- window "$first" "$last" - >/dev/null
    wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" "$name window" window "$first" "$last" -
    printf -v "${name}_window" '%s' "$p99"
    bad_total=$((bad_total + bad))
    wrk_pages "http://127.0.0.1:$port" "$seconds" "$connections" "$name search" search "$RECALL_WORDS" -
    printf -v "${name}_search" '%s' "$p99"
    bad_total=$((bad_total + bad))
    printf -v "${name}_bad" '%s' "$bad_total"
    kill "$pid" && wait "$pid" 2>/dev/null || true
    pid=""
}
measure sqlite "$work/recall.db"
measure postgres "$url"

echo
printf '%-8s %14s %14s %10s\n' page "sqlite p99 ms" "pg p99 ms" "pg/sqlite"
printf '%-8s %14s %14s %10s\n' window "$sqlite_window" "$postgres_window" "$(ratio "$postgres_window" "$sqlite_window")"
printf '%-8s %14s %14s %10s\n' search "$sqlite_search" "$postgres_search" "$(ratio "$postgres_search" "$sqlite_search")"

check RECALL_PG_WINDOW_P99_MS "pg time-window page p99" "$postgres_window" '<=' 50 ms
check RECALL_PG_SEARCH_P99_MS "pg full-text page p99" "$postgres_search" '<=' 50 ms
check RECALL_PG_NON_200 "answers other than 200" "$((sqlite_bad + postgres_bad))" '<=' 0
check_report
