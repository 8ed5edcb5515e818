#!/usr/bin/env bash
# The Python package's tests: builds the wheel of crates/athena-python with maturin (with the
# `testing` feature, which adds the fake GitHub the tests read), installs it into a fresh
# virtual environment with pytest and pytest-asyncio, and runs crates/athena-python/tests
# against it. scripts/test.sh runs this after the Rust tests; scripts/test-setup.sh installs
# maturin, pytest and pytest-asyncio into <target>/test-tools/venv. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
tools=$target/test-tools/venv
wheels=$target/wheels-test
fresh=$target/test-tools/wheel-venv

rm -rf "$wheels"
"$tools/bin/maturin" build --quiet -m crates/athena-python/Cargo.toml --features testing \
    --interpreter "$tools/bin/python3" --out "$wheels"
python3 -m venv --clear "$fresh"
# pytest and pytest-asyncio at the versions test-setup.sh installed (pip's cache has them).
"$fresh/bin/python3" -m pip install --quiet --disable-pip-version-check \
    "$wheels"/athena_ingest-*.whl \
    "$(grep '^pytest==' scripts/test-requirements.txt)" \
    "$(grep '^pytest-asyncio==' scripts/test-requirements.txt)"
cd crates/athena-python
exec "$fresh/bin/python3" -m pytest -p no:cacheprovider "$@"
