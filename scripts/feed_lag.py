"""The lag of the feed under `serve`, for scripts/bench-feed.sh.

Appends LINES combined-log lines to LOG at RATE lines a second, each naming its own number
in its path (/lag/N), notes when each was appended, reads the feed back with
`athena-ingest feed tail` (started before the first line), notes when each arrived, and prints
the lag from append to delivery: p50, p99 and max in milliseconds, and how many arrived.

Usage: feed_lag.py BIN CONFIG LOG LINES RATE
"""

import re
import subprocess
import sys
import threading
import time


def line(n):
    return (
        f'10.1.{n // 250 % 250}.{n % 250} - - [17/May/2015:11:{n // 60 % 60:02}:{n % 60:02} +0000] '
        f'"GET /lag/{n} HTTP/1.1" 200 {n} "-" "feed-lag"\n'
    )


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    binary, config, log, lines, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    appended = {}
    arrived = {}
    tail = subprocess.Popen(
        [binary, "feed", "tail", "-c", config, "--durable", "lag", "--count", str(lines)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    number = re.compile(r"/lag/(\d+)")

    def read():
        for text in tail.stdout:
            now = time.monotonic()
            found = number.search(text)
            if found:
                arrived[int(found.group(1))] = now

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)  # the consumer is made before the first line
    start = time.monotonic()
    with open(log, "a") as f:
        for n in range(lines):
            due = start + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            f.write(line(n))
            f.flush()
            appended[n] = time.monotonic()
    deadline = time.monotonic() + 30
    while len(arrived) < lines and time.monotonic() < deadline:
        time.sleep(0.05)
    tail.kill()
    lags = [(arrived[n] - appended[n]) * 1000 for n in appended if n in arrived]
    if not lags:
        print("arrived: 0")
        return
    print(f"arrived: {len(lags)} of {lines}")
    print(f"p50_ms: {percentile(lags, 50):.1f}")
    print(f"p99_ms: {percentile(lags, 99):.1f}")
    print(f"max_ms: {max(lags):.1f}")


main()
