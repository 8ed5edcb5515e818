#!/usr/bin/env python3
"""Writes realistic Apache/nginx combined-log lines, the same bytes for the same arguments.

The benchmarks' default input, and the tests' source of lines with shapes the committed sample
(crates/athena-sources/src/api_log/fixtures/apache_combined.log) lacks. A site of pages and their
assets visited by a few thousand clients, each with its own address and user agent: browsers that
fetch a page then its CSS and images (304 when they have them), feed readers, crawlers, scanners
probing for what is not there (404, 403), redirects (301, 302), partial downloads (206), server
errors (500, 502, 503), HEAD and POST requests, sizes of `-`, referers from the site itself and
from search engines. Times move forward from --start at --mean-gap seconds a line on average.

Usage: gen-combined-log.py [--lines N] [--seed S] [--start RFC3339] [--mean-gap SECONDS]
                           [--output FILE]
"""

import argparse
import datetime as dt
import itertools
import random
import sys

SITE = "http://www.example.org"

# (path, weight, size in bytes, kind); kind: page | asset | feed | download | post
PAGES = [
    ("/", 30, 37932, "page"),
    ("/blog/", 12, 44019, "page"),
    ("/blog/geekery/puppet-facts-into-mcollective.html", 6, 9316, "page"),
    ("/blog/geekery/logstash-grok-patterns.html", 8, 11418, "page"),
    ("/blog/geekery/xvfb-firefox.html", 5, 10975, "page"),
    ("/blog/geekery/elasticsearch-mappings-explained.html", 6, 14210, "page"),
    ("/blog/tags/puppet", 5, 28370, "page"),
    ("/blog/tags/kibana", 4, 24142, "page"),
    ("/blog/tags/ipv6", 2, 12251, "page"),
    ("/articles/dynamic-dns-with-dhcp/", 5, 18848, "page"),
    ("/articles/ssh-security/", 3, 16411, "page"),
    ("/projects/xdotool/", 9, 12292, "page"),
    ("/projects/fex/", 2, 8840, "page"),
    ("/presentations/logstash-monitorama-2013/", 10, 9212, "page"),
    ("/presentations/kibana-puppetconf-2014/", 4, 7731, "page"),
    ("/presentations/elasticsearch-scaling-2015/", 3, 8015, "page"),
    ("/search", 3, 6620, "page"),
    ("/feed/rss.xml", 10, 44702, "feed"),
    ("/blog/tags/puppet?flav=rss20", 6, 14872, "feed"),
    ("/blog/tags/logstash?flav=atom", 3, 16021, "feed"),
    ("/files/logstash/logstash-1.3.2-flatjar.jar", 2, 67891234, "download"),
    ("/files/xdotool/xdotool-2.20110530.1.tar.gz", 2, 103512, "download"),
    ("/files/presentations/kibana-intro.pdf", 1, 2841207, "download"),
    ("/xmlrpc.php", 3, 370, "post"),
    ("/api/comments", 2, 512, "post"),
]
ASSETS = [
    ("/reset.css", 1015),
    ("/style2.css", 4877),
    ("/favicon.ico", 3638),
    ("/images/jordan-80.png", 6146),
    ("/images/web/2009/banner.png", 52315),
    ("/js/jquery.min.js", 93868),
    ("/presentations/logstash-monitorama-2013/images/kibana-search.png", 203023),
    ("/presentations/logstash-monitorama-2013/images/kibana-dashboard.png", 321631),
    ("/presentations/logstash-monitorama-2013/images/elasticsearch.png", 8026),
    ("/presentations/logstash-monitorama-2013/css/fonts/Roboto-Bold.ttf", 38720),
    ("/presentations/kibana-puppetconf-2014/images/puppet-logo.svg", 2126),
]
MISSING = [
    "/wp-login.php", "/wp-admin/", "/administrator/index.php", "/phpmyadmin/", "/.env",
    "/blog/geekery/old-post.html", "/images/missing.png", "/apple-touch-icon.png",
    "/doc/index.html", "/robots.txt.bak", "/cgi-bin/test.cgi", "/blog/tags/kibana/page/99",
]
FORBIDDEN = ["/.git/config", "/files/private/", "/server-status", "/.htaccess"]
REDIRECTED = ["/projects/xdotool", "/blog", "/presentations", "/articles/ssh-security",
              "/feed", "/rss"]
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/32.0.1700.77 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/40.0.2214.115 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:26.0) Gecko/20100101 Firefox/26.0",
    "Mozilla/5.0 (Windows NT 6.2; WOW64; rv:28.0) Gecko/20100101 Firefox/28.0",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 8_1 like Mac OS X) AppleWebKit/600.1.4 (KHTML, like "
    "Gecko) Version/8.0 Mobile/12B411 Safari/600.1.4",
    "Mozilla/5.0 (Linux; Android 4.4.2; Nexus 5 Build/KOT49H) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/33.0.1750.136 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_2) AppleWebKit/600.3.18 (KHTML, like Gecko) "
    "Version/8.0.3 Safari/600.3.18",
]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; archive.org_bot +http://www.archive.org/details/archive.org_bot)",
]
READERS = [
    "Tiny Tiny RSS/1.11 (http://tt-rss.org/)",
    "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
]
TOOLS = [
    "curl/7.35.0",
    "Wget/1.15 (linux-gnu)",
    "python-requests/2.5.1 CPython/2.7.6 Linux/3.13.0-44-generic",
    "Go 1.1 package http",
    "-",
    # Apache writes a quote inside a header as \" and the parser reads it back.
    'Mozilla/5.0 (compatible; \\"scanner\\" 1.0)',
]
SEARCHES = [
    "https://www.google.com/search?q=logstash+grok+patterns",
    "https://www.google.com/search?q=kibana+dashboard",
    "https://www.bing.com/search?q=xdotool+type",
    "https://duckduckgo.com/?q=puppet+facts+mcollective",
    "http://en.wikipedia.org/wiki/Xvfb",
]
USERS = ["alice", "bob", "deploy"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class Client:
    """One visitor: an address, a user agent and what it does."""

    def __init__(self, rng):
        self.kind = rng.choices(["browser", "crawler", "reader", "tool"], [70, 12, 10, 8])[0]
        first = rng.choice([rng.randint(1, 126), rng.randint(128, 223)])
        self.ip = f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if rng.random() < 0.03:
            self.ip = "2001:db8:%x::%x" % (rng.randint(1, 0xFFFF), rng.randint(1, 0xFFFF))
        pool = {"browser": BROWSERS, "crawler": CRAWLERS, "reader": READERS, "tool": TOOLS}
        self.agent = rng.choice(pool[self.kind])
        self.user = rng.choice(USERS) if rng.random() < 0.02 else "-"
        self.protocol = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
        self.seen = set()


def clf_time(t):
    return f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


def generate(lines, seed, start, mean_gap, out):
    rng = random.Random(seed)
    clients = [Client(rng) for _ in range(3000)]
    # A few clients make most of the traffic, as on any site.
    cum_weights = list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(len(clients))))
    page_weights = list(itertools.accumulate(p[1] for p in PAGES))
    t = start
    pending = []  # a page's assets, fetched right after it
    buf = []
    for _ in range(lines):
        t += dt.timedelta(seconds=rng.expovariate(1.0 / mean_gap))
        if pending:
            client, path, size, referer = pending.pop()
            method, status = "GET", 200
            # Most repeat fetches are cache hits the server never sees; some revalidate.
            if path in client.seen and rng.random() < 0.1:
                status, size = 304, None
            client.seen.add(path)
        else:
            client = rng.choices(clients, cum_weights=cum_weights)[0]
            method, status, referer = "GET", 200, "-"
            roll = rng.random()
            if client.kind == "reader":
                path, _, size, _ = rng.choice([p for p in PAGES if p[3] == "feed"])
                if path in client.seen and rng.random() < 0.3:
                    status, size = 304, None
            elif client.kind == "tool" and roll < 0.5:
                path, size = rng.choice(MISSING + FORBIDDEN), rng.randint(196, 512)
                status = 403 if path in FORBIDDEN else 404
                method = rng.choice(["GET", "GET", "HEAD", "POST"])
            elif roll < 0.02:
                path, status, size = rng.choice(MISSING), 404, rng.randint(196, 512)
            elif roll < 0.025:
                path, status, size = rng.choice(FORBIDDEN), 403, rng.randint(196, 300)
            elif roll < 0.04:
                path, status, size = rng.choice(REDIRECTED), rng.choice([301, 301, 302]), 0
            elif roll < 0.046:
                path, _, size, _ = rng.choice(PAGES[:17])
                status = rng.choice([500, 500, 502, 503])
                size = rng.choice([0, rng.randint(300, 800)])
            elif roll < 0.05:
                path, size = "/robots.txt", 1120
            else:
                path, _, size, kind = rng.choices(PAGES, cum_weights=page_weights)[0]
                if kind == "post":
                    method = "POST"
                    status = rng.choice([200, 200, 200, 201, 400, 405])
                elif kind == "download":
                    if rng.random() < 0.3:
                        status, size = 206, rng.randint(1, size)
                    elif rng.random() < 0.03:
                        status, size = 416, 0
                elif kind == "page" and path.startswith("/search"):
                    path += "?q=" + rng.choice(["kibana", "logstash", "puppet", "grok"])
                    size += rng.randint(-2000, 9000)
                if client.kind == "browser":
                    if rng.random() < 0.25:
                        referer = rng.choice(SEARCHES)
                    elif rng.random() < 0.5:
                        referer = SITE + rng.choice(PAGES[:17])[0]
                    if kind == "page" and status == 200:
                        n = rng.randint(2, 6)
                        for asset, asize in rng.sample(ASSETS, n):
                            pending.append((client, asset, asize, SITE + path))
                if rng.random() < 0.01:
                    method = "HEAD"
                    size = None
        if size == 0 or (method == "HEAD" and status == 200):
            size = None
        if client.kind == "tool" and rng.random() < 0.01:
            method = rng.choice(["OPTIONS", "PUT", "DELETE"])
            status, size = 405, rng.randint(220, 300)
        size_text = "-" if size is None else str(max(size, 1))
        buf.append(
            f'{client.ip} - {client.user} [{clf_time(t)}] "{method} {path} {client.protocol}" '
            f'{status} {size_text} "{referer}" "{client.agent}"\n'
        )
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2015-05-17T10:05:00+00:00",
                    help="time of the first line, RFC 3339 (default %(default)s)")
    ap.add_argument("--mean-gap", type=float, default=0.3,
                    help="mean seconds between lines (default %(default)s: a million lines "
                         "span about three and a half days)")
    ap.add_argument("--output", "-o", help="file to write (default: standard output)")
    args = ap.parse_args()
    if args.lines < 0 or args.mean_gap <= 0:
        ap.error("--lines must be >= 0 and --mean-gap > 0")
    try:
        start = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    except ValueError:
        ap.error(f"--start {args.start!r} is not an RFC 3339 time")
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    start = start.astimezone(dt.timezone.utc)
    if args.output:
        with open(args.output, "w", encoding="ascii", newline="\n") as out:
            generate(args.lines, args.seed, start, args.mean_gap, out)
    else:
        generate(args.lines, args.seed, start, args.mean_gap, sys.stdout)


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(0)
