"""Fixtures for the package's tests: git repositories, logs and stores in a temporary
directory. The package under test is the installed wheel (scripts/test-python.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import athena_ingest


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="Ada",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada",
        GIT_COMMITTER_EMAIL="ada@example.com",
    )
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def commit(repo: Path, n: int) -> None:
    """Commit ``n`` of ``repo``: file ``f<n>.txt``, message ``change <n>``."""
    (repo / f"f{n}.txt").write_text(f"line {n}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", f"change {n}", "--date", f"2024-05-01T10:{n:02d}:00Z")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository of three commits."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for n in range(1, 4):
        commit(path, n)
    return path


def log_lines(first: int, last: int) -> str:
    """Combined-log lines ``first..=last``, one a second, paths ``/p/<n>``."""
    out = []
    for n in range(first, last + 1):
        h, m, s = (n // 3600) % 24, (n // 60) % 60, n % 60
        out.append(
            f'10.0.0.{n % 250} - - [17/May/2015:{h:02d}:{m:02d}:{s:02d} +0000] '
            f'"GET /p/{n} HTTP/1.1" 200 {n} "-" "pytest"\n'
        )
    return "".join(out)


@pytest.fixture(autouse=True)
def no_leftover_streams():
    """Every test leaves no source stream running."""
    yield
    import time

    deadline = time.monotonic() + 5
    while athena_ingest.running_streams() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert athena_ingest.running_streams() == 0, "a source stream is still running"
