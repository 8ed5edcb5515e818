#!/usr/bin/env bash
# The README's test command: installs what the tests need where it can (scripts/test-setup.sh,
# which says what is missing where it cannot), then runs every test of the workspace with all
# features, then the Python package's tests against its wheel (scripts/test-python.sh).
# Arguments go to `cargo nextest run`, e.g. scripts/test.sh -E 'test(/api_log/)' (and then the
# Python tests are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! scripts/test-setup.sh; then
    echo "scripts/test.sh: stopping before the tests: install what is listed above, or run" \
        "'cargo nextest run --workspace --all-features' to run them anyway (the tests named" \
        "above will fail)" >&2
    exit 1
fi
status=0
cargo nextest run --workspace --all-features "$@" || status=$?
# The PostgreSQL store's tests leave their server running for the next test process; stop it.
scripts/test-postgres-stop.sh || true
[ "$status" = 0 ] || exit "$status"
# The Python package, against its wheel (skipped when the arguments pick some Rust tests).
if [ $# -eq 0 ]; then
    scripts/test-python.sh
else
    echo "scripts/test.sh: arguments given: the Python package's tests (scripts/test-python.sh) not run" >&2
fi
