#!/usr/bin/env python3
"""Floods the recall API with many concurrent clients and reports what they got.

Each of --clients clients keeps one HTTP/1.1 connection and asks one request after another,
closed-loop: mostly pages of /v1/events (limits up to 1000, random windows), with a share of
costly full-text pages (--costly, a fraction) mixed in. A client turned away with 503 waits a
short random pause (50-150 ms, not the full Retry-After, to keep the pressure on) and asks
again. Beside them a probe asks /v1/events?limit=5 every 100 ms on its own connection and
records how long each answer took. Meanwhile the server's resident memory is sampled from
/proc (and its peak read from VmHWM at the end).

Prints one JSON object: counts per status, latency percentiles (ms) of the answers with data
(200) and of the refusals (503), the probe's answers, the server's peak RSS and threads.

Usage: recall_flood.py --port P --pid PID [--clients N] [--seconds S] [--costly F]
       [--since SECONDS --until SECONDS] [--seed N]
"""

import argparse
import asyncio
import json
import random
import time


# Words of a combined log, from common to rare: one costly search asks for several of them,
# joined by OR, the most a query may join.
WORDS = ["get", "mozilla", "logstash", "kibana", "blog", "png", "css", "linux", "windows",
         "puppet", "elasticsearch", "dashboard", "xdotool", "firefox", "chrome", "iphone"]


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return round(values[k], 1)


def summary(values):
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": round(max(values), 1) if values else None,
    }


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.reader = None
        self.writer = None

    async def get(self, path):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        body = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, len(body)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
        self.reader = self.writer = None


def request_path(rng, args):
    if rng.random() < args.costly:
        words = rng.sample(WORDS, 8)
        q = "%20OR%20".join(words)
        return "costly", f"/v1/events?limit=50&q={q}"
    limit = rng.choice([50, 100, 500, 1000])
    span = max(1, args.until - args.since)
    start = args.since + rng.randrange(span)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
    return "page", f"/v1/events?limit={limit}&since={since}&order=asc"


async def client_loop(i, args, deadline, results):
    rng = random.Random(args.seed * 1000 + i)
    client = Client(args.port, args.token)
    while time.monotonic() < deadline:
        kind, path = request_path(rng, args)
        t0 = time.monotonic()
        try:
            status, _ = await client.get(path)
        except Exception as e:  # a reset connection counts, and the client reconnects
            results["errors"].append(type(e).__name__)
            await asyncio.sleep(0.1)
            continue
        ms = (time.monotonic() - t0) * 1000
        results["status"][status] = results["status"].get(status, 0) + 1
        results["latency"].setdefault((kind, status), []).append(ms)
        if status == 503:
            await asyncio.sleep(rng.uniform(0.05, 0.15))
    await client.close()


async def probe_loop(args, deadline, probe):
    client = Client(args.port, args.token)
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        try:
            status, _ = await asyncio.wait_for(client.get("/v1/events?limit=5"), 30)
        except Exception as e:
            probe.append((type(e).__name__, (time.monotonic() - t0) * 1000))
            await client.close()
            continue
        probe.append((status, (time.monotonic() - t0) * 1000))
        await asyncio.sleep(0.1)
    await client.close()


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


async def sample_loop(args, deadline, samples):
    while time.monotonic() < deadline:
        st = proc_status(args.pid)
        samples.append((int(st["VmRSS"].split()[0]) / 1024, int(st["Threads"])))
        await asyncio.sleep(0.5)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--costly", type=float, default=0.02)
    ap.add_argument("--since", type=int, default=0)
    ap.add_argument("--until", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    results = {"status": {}, "latency": {}, "errors": []}
    probe, samples = [], []
    deadline = time.monotonic() + args.seconds
    tasks = [client_loop(i, args, deadline, results) for i in range(args.clients)]
    tasks.append(probe_loop(args, deadline, probe))
    tasks.append(sample_loop(args, deadline, samples))
    await asyncio.gather(*tasks)

    st = proc_status(args.pid)
    served = [ms for (kind, status), v in results["latency"].items() if status == 200 for ms in v]
    refused = [ms for (kind, status), v in results["latency"].items() if status == 503 for ms in v]
    by_kind = {
        f"{kind} {status}": summary(v) for (kind, status), v in sorted(results["latency"].items())
    }
    probe_ok = [ms for status, ms in probe if status == 200]
    errors = {}
    for e in results["errors"]:
        errors[e] = errors.get(e, 0) + 1
    out = {
        "clients": args.clients,
        "seconds": args.seconds,
        "status": {str(k): v for k, v in sorted(results["status"].items())},
        "errors": errors,
        "served_ms": summary(served),
        "refused_ms": summary(refused),
        "by_kind": by_kind,
        "probe": {
            "asked": len(probe),
            "answered_200": len(probe_ok),
            "other": sorted({str(s) for s, _ in probe if s != 200}),
            "max_ms": round(max(ms for _, ms in probe), 1) if probe else None,
            "p99_ms": percentile([ms for _, ms in probe], 99),
        },
        "rss_peak_mb": round(int(st["VmHWM"].split()[0]) / 1024, 1),
        "rss_end_mb": round(int(st["VmRSS"].split()[0]) / 1024, 1),
        "rss_max_sampled_mb": round(max(r for r, _ in samples), 1) if samples else None,
        "threads_max": max(t for _, t in samples) if samples else None,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
