#!/usr/bin/env bash
# Stops the PostgreSQL server the PostgreSQL store's tests started (athena-store
# postgres::tests), if one runs: a cluster in <target dir>/test-tools/postgres. scripts/test.sh
# runs this after the tests; the next test run starts it again.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
data=$target/test-tools/postgres/data
[ -f "$data/postmaster.pid" ] || exit 0
pg_ctl=$(compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort | tail -n 1)
[ -n "$pg_ctl" ] || exit 0
if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$pg_ctl" -D "$data" -m fast -w stop >/dev/null
else
    "$pg_ctl" -D "$data" -m fast -w stop >/dev/null
fi
