"""Keep-alive REST latency of a real digitsx server, with TCP_NODELAY against without it.

Starts two servers (same code, same machine, same run), sends N keep-alive requests of each
kind to each, and prints p50/p99 per server and the ratio. gevent writes a response in two
sends (headers, body), which Nagle's algorithm stalled ~40 ms; since the server sends small
responses in one (server.OneSendHandler) the two servers measure the same, ratio ~1.0x.

    .venv/bin/python bench/rest_latency.py [--requests 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import pct, servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def measure(url: str, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"GET /index.json": [], "POST /login": [],
                                   "GET /jobs/<id>/status (404)": []}
    with requests.Session() as s:
        s.headers["Accept"] = "application/json"
        s.get(url + "/index.json")
        for _ in range(n):
            for name, call in (("GET /index.json", lambda: s.get(url + "/index.json")),
                               ("POST /login", lambda: s.post(url + "/login", data={"username": "bench"})),
                               ("GET /jobs/<id>/status (404)", lambda: s.get(url + "/jobs/x/status"))):
                t = time.perf_counter()
                call()
                out[name].append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with servers(Path(tmp), (5601, {"DIGITSX_TCP_NODELAY": "true"}),
                     (5602, {"DIGITSX_TCP_NODELAY": "false"})) as (on, off):
            results = {True: measure(on, args.requests), False: measure(off, args.requests)}
    print(f"keep-alive latency over {args.requests} requests each (ms)")
    print(f"{'request':<30}{'nodelay p50':>12}{'p99':>8}{'nagle p50':>12}{'p99':>8}{'p50 ratio':>11}")
    for name in results[True]:
        on, off = results[True][name], results[False][name]
        print(f"{name:<30}{pct(on, .5):>12.2f}{pct(on, .99):>8.2f}{pct(off, .5):>12.2f}"
              f"{pct(off, .99):>8.2f}{pct(off, .5) / pct(on, .5):>10.1f}x")
    print(f"mean with TCP_NODELAY: {statistics.mean(sum(results[True].values(), [])):.2f} ms")


if __name__ == "__main__":
    main()
