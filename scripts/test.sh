#!/usr/bin/env bash
# The README's test command: installs what the tests need where it can (scripts/test-setup.sh,
# which says what is missing where it cannot), then runs every test of the workspace with all
# features. Arguments go to `cargo nextest run`, e.g. scripts/test.sh -E 'test(/api_log/)'.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! scripts/test-setup.sh; then
    echo "scripts/test.sh: stopping before the tests: install what is listed above, or run" \
        "'cargo nextest run --workspace --all-features' to run them anyway (the tests named" \
        "above will fail)" >&2
    exit 1
fi
exec cargo nextest run --workspace --all-features "$@"
