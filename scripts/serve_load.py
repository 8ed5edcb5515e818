#!/usr/bin/env python3
"""Load for scripts/bench-serve.sh: appends JSON lines to a log that `serve` follows, at a
steady rate, and reads the store (read-only) to see when each line was stored.

Every line is `{"time": <append ms>, "status": 200, "method": "GET", "path": "/bench",
"query": "seq=<n>"}`: api_log stores `time` as the event's `occurred_at` (a number past 1e11 is
milliseconds), so `ingested_at - occurred_at` of a row is that line's latency, and `seq` (kept
in the event's body, `query: seq=<n>`, which stays text where metadata is packed) tells the
lines apart. A burst of lines is one write() on an O_APPEND
descriptor, so `serve` never sees half a line, and all lines of a burst carry the time taken
just before that write.

Figures go to stdout, one line of space-separated values (`none` for one that could not be
measured, which scripts/lib.sh's `check` reports as missed); progress goes to stderr.

Usage:
  serve_load.py port
  serve_load.py wait-run --db D --source ID [--pid P] [--timeout S]
  serve_load.py latency --log F --db D --source ID --lines N --rate R --burst B [--timeout S]
      → p50_ms p99_ms max_ms stored
  serve_load.py soak --log F --db D --source ID --pid P --first-seq N --rate R --seconds T
      [--interval-ms I] [--timeout S]
      → rss_10s rss_half rss_end rss_max appended lag_s p50_ms p99_ms max_ms  (RSS in MB;
        rss_half is at T/2 s, 30 s of the default 60)
  serve_load.py count --db D --source ID
      → rows distinct_seqs min_seq max_seq
"""
import argparse
import math
import os
import socket
import sqlite3
import sys
import time


def connect(db):
    # mode=ro: the benchmark must not write to (or lock) the store `serve` owns.
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)


def stored(con, source):
    return con.execute("SELECT count(*) FROM events WHERE source_id = ?", (source,)).fetchone()[0]


def wait_stored(db, source, want, timeout):
    """Seconds from now until the store holds `want` rows of `source`, or None at the timeout."""
    start = time.monotonic()
    con = connect(db)
    try:
        while True:
            if stored(con, source) >= want:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                return None
            time.sleep(0.02)
    finally:
        con.close()


def latencies(db, source, first, last):
    """Latency in ms of each line with seq in [first, last]; a line not stored counts as inf."""
    con = connect(db)
    rows = con.execute(
        """SELECT n, ms FROM (
               SELECT CAST(substr(body, 12) AS INTEGER) AS n,
                      ingested_at - occurred_at AS ms
               FROM events WHERE source_id = ?)
           WHERE n BETWEEN ? AND ?""",
        (source, first, last),
    ).fetchall()
    con.close()
    seen = {}
    for seq, ms in rows:
        seen.setdefault(seq, ms)
    return sorted(list(seen.values()) + [math.inf] * (last - first + 1 - len(seen)))


def pct(sorted_ms, p):
    if not sorted_ms:
        return "none"
    v = sorted_ms[min(len(sorted_ms) - 1, math.ceil(p / 100 * len(sorted_ms)) - 1)]
    return "none" if math.isinf(v) else f"{v:.0f}"


def lines(first, n, ms):
    return "".join(
        f'{{"time": {ms}, "status": 200, "method": "GET", "path": "/bench", "query": "seq={s}"}}\n'
        for s in range(first, first + n)
    ).encode()


def now_ms():
    return time.time_ns() // 1_000_000


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def cmd_port(_):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_wait_run(a):
    """Waits for the source's first finished run, so the log is known before lines arrive."""
    start = time.monotonic()
    while time.monotonic() - start < a.timeout:
        if a.pid and not os.path.exists(f"/proc/{a.pid}"):
            sys.exit(f"serve_load.py: serve (pid {a.pid}) exited before a run of {a.source} finished")
        try:
            con = connect(a.db)
            row = con.execute("SELECT status FROM source_runs WHERE source_id = ?", (a.source,)).fetchone()
            con.close()
            if row:
                print(row[0])
                return
        except sqlite3.Error:
            pass  # the store is not created yet
        time.sleep(0.05)
    sys.exit(f"serve_load.py: no run of {a.source} finished within {a.timeout} s")


def cmd_latency(a):
    fd = os.open(a.log, os.O_WRONLY | os.O_APPEND)
    start = time.monotonic()
    for k, first in enumerate(range(0, a.lines, a.burst)):
        delay = start + k * a.burst / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        n = min(a.burst, a.lines - first)
        os.write(fd, lines(first, n, now_ms()))
    os.close(fd)
    took = time.monotonic() - start
    print(f"latency: appended {a.lines} lines in {took:.2f} s ({a.lines / took:,.0f} lines/s)", file=sys.stderr)
    lag = wait_stored(a.db, a.source, a.lines, a.timeout)
    print(f"latency: {'all stored ' + format(lag, '.2f') + ' s after the last append' if lag is not None else 'NOT all stored within ' + str(a.timeout) + ' s'}", file=sys.stderr)
    ms = latencies(a.db, a.source, 0, a.lines - 1)
    done = sum(1 for v in ms if not math.isinf(v))
    print(pct(ms, 50), pct(ms, 99), pct(ms, 100), done)


def cmd_soak(a):
    fd = os.open(a.log, os.O_WRONLY | os.O_APPEND)
    total = a.rate * a.seconds
    written = 0
    samples = {}  # second → RSS in MB
    start = time.monotonic()
    tick = 0
    next_sample = 1
    while written < total:
        tick += 1
        delay = start + tick * a.interval_ms / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elapsed = time.monotonic() - start
        due = min(total, int(a.rate * elapsed))
        if due > written:
            os.write(fd, lines(a.first_seq + written, due - written, now_ms()))
            written = due
        while elapsed >= next_sample and next_sample <= a.seconds:
            samples[next_sample] = rss_mb(a.pid)
            next_sample += 1
    os.close(fd)
    took = time.monotonic() - start
    while next_sample <= a.seconds:  # the last second's sample, when the writes ended first
        samples[next_sample] = rss_mb(a.pid)
        next_sample += 1
    print(f"soak: appended {written} lines in {took:.2f} s ({written / took:,.0f} lines/s)", file=sys.stderr)
    # Keep sampling while the backlog drains: the peak may come after the last append.
    want = a.first_seq + written
    con = connect(a.db)
    drain_start = time.monotonic()
    lag = None
    drain = []
    while time.monotonic() - drain_start <= a.timeout:
        drain.append(rss_mb(a.pid))
        if stored(con, a.source) >= want:
            lag = time.monotonic() - drain_start
            break
        time.sleep(0.02)
    con.close()
    half = max(1, a.seconds // 2)
    for s in sorted(samples):
        if s in (1, 5, half) or s % 10 == 0:
            rss = samples[s]
            # One sample swings by 20 MB as SQLite's cache and the allocator breathe; the
            # window's peak shows whether a point sample was a trough.
            window = [samples[w] for w in range(max(1, s - 9), s + 1)]
            peak = "" if s % 10 or None in window else f" (max {max(window):.1f} MB over {max(1, s - 9)}-{s} s)"
            print(f"soak: RSS at {s:3d} s: {'gone' if rss is None else format(rss, '.1f') + ' MB'}{peak}", file=sys.stderr)
    all_rss = list(samples.values()) + drain
    fmt = lambda v: "none" if v is None else f"{v:.1f}"
    rss_max = "none" if None in all_rss else fmt(max(all_rss))
    ms = latencies(a.db, a.source, a.first_seq, want - 1)
    print(
        fmt(samples.get(10)), fmt(samples.get(half)), fmt(samples.get(a.seconds)), rss_max,
        written, "none" if lag is None else f"{lag:.2f}", pct(ms, 50), pct(ms, 99), pct(ms, 100),
    )


def cmd_count(a):
    con = connect(a.db)
    row = con.execute(
        """SELECT count(*), count(DISTINCT q), min(s), max(s) FROM (
               SELECT substr(body, 8) AS q,
                      CAST(substr(body, 12) AS INTEGER) AS s
               FROM events WHERE source_id = ?)""",
        (a.source,),
    ).fetchone()
    con.close()
    print(*("none" if v is None else v for v in row))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port")
    for name in ("wait-run", "latency", "soak", "count"):
        s = sub.add_parser(name)
        s.add_argument("--db", required=True)
        s.add_argument("--source", required=True)
        s.add_argument("--timeout", type=float, default=30)
        if name == "wait-run":
            s.add_argument("--pid", type=int)
        if name in ("latency", "soak"):
            s.add_argument("--log", required=True)
            s.add_argument("--rate", type=int, required=True)
        if name == "latency":
            s.add_argument("--lines", type=int, required=True)
            s.add_argument("--burst", type=int, default=10)
        if name == "soak":
            s.add_argument("--pid", type=int, required=True)
            s.add_argument("--first-seq", type=int, required=True)
            s.add_argument("--seconds", type=int, required=True)
            s.add_argument("--interval-ms", type=float, default=10)
    a = p.parse_args()
    {"port": cmd_port, "wait-run": cmd_wait_run, "latency": cmd_latency, "soak": cmd_soak,
     "count": cmd_count}[a.cmd](a)


if __name__ == "__main__":
    main()
