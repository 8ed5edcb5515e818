#!/usr/bin/env python3
"""Run a command, print `<wall seconds> <peak RSS in MB>` of it (and its children) to stdout.

Usage: measure.py [--stdout FILE] -- CMD ARGS...
The command's own output goes to FILE (default: /dev/null)."""
import os
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
out = os.devnull
if args[:1] == ["--stdout"]:
    out, args = args[1], args[2:]
if args[:1] == ["--"]:
    args = args[1:]
with open(out, "wb") as sink:
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=sink)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
if code != 0:
    sys.exit(f"measure.py: {' '.join(args)} exited {code}")
# ru_maxrss is in KiB on Linux.
print(f"{wall:.3f} {usage.ru_maxrss / 1024:.1f}")
