# Helpers shared by scripts/bench-*.sh (sourced, not run): medians, and targets that can fail.
#
# A benchmark script sets `bench` to its name, prints its figures, calls `check` once per figure
# that has a target (or `skip` when it could not measure one), and ends with `check_report`,
# which prints every verdict and exits 1 if any target was missed, naming the figure and the
# target. Nothing exits before all figures are printed.
#
# Every target can be overridden with ATHENA_BENCH_TARGET_<KEY>=VALUE (the KEY is printed beside
# each verdict), to tighten one and watch it fail, or to loosen one on a slower machine.
# With ATHENA_BENCH_RESULTS=FILE each verdict is also appended to FILE, one line of |-separated
# fields (bench, key, figure, value, op, target, unit, verdict); scripts/bench.sh reads them.

_checks=()
_load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)

# A measurement that failed leaves an empty or odd value behind; a median or ratio of it would
# read as a fast run, so these helpers refuse it (and `x=$(median ...)` stops the script).
_numbers() {
    local what=$1 v
    shift
    [ $# -gt 0 ] || { echo "$what: no values" >&2; return 1; }
    for v in "$@"; do
        _is_number "$v" || { echo "$what: '$v' is not a number (did a measurement fail?)" >&2; return 1; }
    done
}

# median VALUE... — the median of the values, the mean of the two middle ones for an even count.
median() {
    _numbers median "$@" || return 1
    printf '%s\n' "$@" | sort -g | awk '
        { a[NR] = $1 }
        END { printf "%.3f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# largest VALUE... — the largest of the values, as given.
largest() {
    _numbers largest "$@" || return 1
    printf '%s\n' "$@" | sort -g | tail -n 1
}

# ratio A B — A / B with two decimals, the precision the ratio targets are written in.
ratio() {
    _numbers ratio "$@" || return 1
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
}

_is_number() {
    [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]
}

_record() {
    _checks+=("$1")
    if [ -n "${ATHENA_BENCH_RESULTS:-}" ]; then
        printf '%s|%s\n' "$bench" "$1" >> "$ATHENA_BENCH_RESULTS"
    fi
}

# check KEY FIGURE VALUE OP TARGET [UNIT] — records whether VALUE OP TARGET holds (OP is <= or
# >=); ATHENA_BENCH_TARGET_KEY, when set, replaces TARGET.
check() {
    local key=$1 figure=$2 value=$3 op=$4 target=$5 unit=${6:-} verdict
    local override="ATHENA_BENCH_TARGET_$key"
    target=${!override:-$target}
    case $op in '<=' | '>=') ;; *) echo "check: unknown OP $op" >&2; exit 2 ;; esac
    if ! _is_number "$target"; then
        echo "$bench: $override=$target is not a number" >&2
        exit 2
    fi
    if ! _is_number "$value"; then
        verdict=MISSED # a figure that came out as no number at all is no pass
    elif awk -v v="$value" -v t="$target" -v op="$op" \
        'BEGIN { exit !(op == "<=" ? v <= t : op == ">=" ? v >= t : 0) }'; then
        verdict=ok
    else
        verdict=MISSED
    fi
    _record "$(printf '%s|%s|%s|%s|%s|%s|%s' "$key" "$figure" "$value" "$op" "$target" "$unit" "$verdict")"
}

# skip KEY FIGURE REASON — a target that could not be checked in this run: shown as skipped,
# never as a pass.
skip() {
    _record "$(printf '%s|%s|%s||||skipped' "$1" "$2" "$3")"
}

# A busy machine slows a program that uses both cores more than a single-threaded peer (git log,
# goaccess, find), so a ratio can miss because of the neighbours; say so beside the verdicts.
_load_note() {
    local end cores
    end=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
    cores=$(nproc)
    echo "load average (1 min): $_load_start at the start, $end at the end, on $cores cores"
    if awk -v a="$_load_start" -v b="$end" -v n="$cores" 'BEGIN { exit !(a > n || b > n) }'; then
        echo "note: the machine was busy (load above $cores); a miss may be the neighbours', run again"
    fi
}

# check_report — prints every verdict; exits 1 naming each missed target, if any.
check_report() {
    local line key figure value op target unit verdict missed=()
    echo
    echo "targets ($bench; override one with ATHENA_BENCH_TARGET_<KEY>=VALUE):"
    for line in "${_checks[@]}"; do
        IFS='|' read -r key figure value op target unit verdict <<< "$line"
        if [ "$verdict" = skipped ]; then
            printf '  %-8s %-34s %s  [%s]\n' "$verdict" "$figure" "$value" "$key"
            continue
        fi
        printf '  %-8s %-34s %16s  %s %-18s [%s]\n' "$verdict" "$figure" "$value${unit:+ $unit}" "$op" "$target${unit:+ $unit}" "$key"
        if [ "$verdict" = MISSED ]; then
            missed+=("$figure is $value${unit:+ $unit}, target $op $target${unit:+ $unit} (ATHENA_BENCH_TARGET_$key)")
        fi
    done
    _load_note
    if [ ${#missed[@]} -gt 0 ]; then
        for line in "${missed[@]}"; do echo "$(basename "$0"): missed: $line" >&2; done
        exit 1
    fi
}

# bench_log_input LINES OUT — writes LINES combined-log lines to OUT and prints which input they
# came from. By default they are generated (scripts/gen-combined-log.py, seed ATHENA_BENCH_SEED,
# default 1: the same bytes every run); with ATHENA_BENCH_LOG=FILE (the scripts' --log FILE)
# they are FILE's lines, FILE repeated as often as needed, e.g. a real access log of yours.
bench_log_input() {
    local lines=$1 out=$2 src=${ATHENA_BENCH_LOG:-} seed=${ATHENA_BENCH_SEED:-1} per full i
    if [ -z "$src" ]; then
        python3 "$(dirname "${BASH_SOURCE[0]}")/gen-combined-log.py" \
            --lines "$lines" --seed "$seed" --output "$out" || return 2
        echo "input: generated, scripts/gen-combined-log.py --lines $lines --seed $seed" \
            "(ATHENA_BENCH_LOG=FILE or --log FILE to use a real log)"
        return
    fi
    if [ ! -f "$src" ] || [ ! -r "$src" ]; then
        echo "$bench: the log to benchmark with, $src (ATHENA_BENCH_LOG or --log), is not a readable file" >&2
        return 2
    fi
    per=$(wc -l < "$src")
    if [ "$per" -eq 0 ]; then
        echo "$bench: the log to benchmark with, $src, has no complete line" >&2
        return 2
    fi
    # Whole copies, then the first lines of one more: no `cat | head`, whose early exit would
    # fail the pipeline under pipefail.
    full=$((lines / per))
    {
        for ((i = 0; i < full; i++)); do cat "$src"; done
        head -n "$((lines % per))" "$src"
    } > "$out"
    echo "input: $src ($per lines), repeated to $lines lines"
}

# bench_args "$@" — reads `--log FILE` (sets ATHENA_BENCH_LOG) from a script's arguments and
# leaves the others, in order, in the array `args`.
bench_args() {
    args=()
    while [ $# -gt 0 ]; do
        case $1 in
            --log)
                [ $# -ge 2 ] || { echo "$(basename "$0"): --log needs a FILE" >&2; exit 2; }
                ATHENA_BENCH_LOG=$2
                shift 2
                ;;
            --log=*) ATHENA_BENCH_LOG=${1#--log=}; shift ;;
            *) args+=("$1"); shift ;;
        esac
    done
}

# The words of the recall benchmarks' full-text pages: a dozen of the log's, rare to common.
RECALL_WORDS="kibana,puppet,logstash,elasticsearch,xmlrpc,rss,feed,images,presentations,blog,favicon,robots"

# recall_store BIN WORK EVENTS — syncs EVENTS log lines (bench_log_input) into WORK/recall.db
# with BIN, the store the recall benchmarks read; sets `stored`, and `first` and `last`: the
# oldest and newest event's time in seconds since the epoch.
recall_store() {
    local bin=$1 work=$2 events=$3
    bench_log_input "$events" "$work/access.log" || exit 2
    cat > "$work/athena.toml" <<TOML
[[sources]]
id = "web"
type = "api_log"
paths = ["access.log"]
TOML
    echo "store: syncing $events lines..." >&2
    "$bin" sync --config "$work/athena.toml" --db "$work/recall.db" > "$work/sync.log" 2>&1 ||
        { cat "$work/sync.log" >&2; exit 2; }
    read -r stored first last < <(python3 - "$work/recall.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
n, lo, hi = c.execute("SELECT count(*), min(occurred_at), max(occurred_at) FROM events").fetchone()
print(n, lo // 1000, hi // 1000)
PY
)
    echo "store: $stored events from $(date -u -d "@$first" +%FT%TZ) to $(date -u -d "@$last" +%FT%TZ), $(du -h "$work/recall.db" | cut -f1)"
}

# serve_store BIN WORK [DB] — starts `serve` read-only over WORK/recall.db, or DB (a file or a
# postgres:// URL) (no config file and --db: the API alone) on a free port, and waits for
# /healthz; sets `pid` and `port`. The caller's EXIT trap stops it.
serve_store() {
    local bin=$1 work=$2 db=${3:-$2/recall.db}
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" serve --config "$work/no-such.toml" --db "$db" --listen "127.0.0.1:$port" \
        2> "$work/serve.log" &
    pid=$!
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return
        sleep 0.1
    done
    cat "$work/serve.log" >&2
    exit 2
}

# The release binary to measure: $ATHENA_BENCH_BIN if set (to compare a build of another commit),
# else this checkout's, built first (in $CARGO_TARGET_DIR when that is set, as cargo does).
release_dir() {
    local dir=${CARGO_TARGET_DIR:-$root/target}
    case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
    echo "$dir/release"
}
release_bin() {
    if [ -n "${ATHENA_BENCH_BIN:-}" ]; then
        echo "$ATHENA_BENCH_BIN"
        return
    fi
    echo "building release binary..." >&2
    # Run in a command substitution, where errexit does not reach: a failed build must not
    # leave an older binary to be measured.
    (cd "$root" && cargo build --release --quiet) || { echo "the release build failed" >&2; exit 2; }
    echo "$(release_dir)/athena-ingest"
}

# wrk_pages URL SECONDS CONNECTIONS NAME ARGS... — loads URL with wrk and
# scripts/recall_load.lua (ARGS: its mode and values), prints one line of figures; sets p50 p90
# p99 (ms), bad (answers other than 200) and rps.
wrk_pages() {
    local url=$1 seconds=$2 connections=$3 name=$4 out
    shift 4
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" \
        -s "$(dirname "${BASH_SOURCE[0]}")/recall_load.lua" "$url" -- "$@")
    p50=$(sed -n 's/^p50_ms: //p' <<< "$out")
    p90=$(sed -n 's/^p90_ms: //p' <<< "$out")
    p99=$(sed -n 's/^p99_ms: //p' <<< "$out")
    bad=$(sed -n 's/^non-200: //p' <<< "$out")
    rps=$(sed -n 's/^Requests\/sec: *//p' <<< "$out")
    printf '%-16s p50 %6s ms, p90 %6s ms, p99 %6s ms, %8s requests/s, non-200: %s\n' \
        "$name" "$p50" "$p90" "$p99" "$rps" "$bad"
}

# pg_server DIR — makes and starts a PostgreSQL server of the benchmark's own in DIR (Debian's
# `postgresql`; as root, run as the `postgres` user), on a Unix socket there only; defines
# psql_do ARGS... (psql on it) and pg_url NAME (a database's postgres:// URL), and pg_stop,
# which the caller's EXIT trap runs.
pg_server() {
    pg_dir=$1
    pg_bin=$(compgen -G '/usr/lib/postgresql/*/bin' | sort | tail -n 1)
    [ -x "$pg_bin/initdb" ] || { echo "$bench: no PostgreSQL server programs (Debian: postgresql)" >&2; exit 2; }
    mkdir -p "$pg_dir"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$pg_dir"
        chmod 755 "$(dirname "$pg_dir")"
    fi
    _as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale C.UTF-8 >/dev/null
    pg_port=55432
    _as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start \
        -o "-p $pg_port -k $pg_dir -c listen_addresses='' -c max_connections=100" >/dev/null
    echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}'), a server of its own in $pg_dir"
}
_as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
psql_do() { psql -h "$pg_dir" -p "$pg_port" -U postgres -qAt "$@"; }
pg_url() { echo "postgres://postgres@${pg_dir//\//%2F}:$pg_port/$1"; }
pg_stop() {
    [ -n "${pg_dir:-}" ] && _as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
}
