"""What accounts cost per request: password mode (session cookie, API token) against open mode.

Starts two real servers (same code, machine and run): one in open mode, one in password mode.
Sends N keep-alive requests of each kind and prints p50/p99 and the ratio to open mode's
cookie session, which is the baseline (DIGITS's login). Also times a password login (argon2id
verification, on purpose slow) against an open-mode login.

    .venv/bin/python bench/auth_overhead.py [--requests 300]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import pct, servers  # noqa: E402

PASSWORD = "bench-admin-password"


def timed(call, n: int) -> list[float]:
    call()  # warm up
    out = []
    for _ in range(n):
        t = time.perf_counter()
        res = call()
        out.append((time.perf_counter() - t) * 1000)
        assert res.status_code < 400, res.text
    return out


def measure(open_url: str, pw_url: str, n: int) -> dict[str, list[float]]:
    results = {}
    with requests.Session() as o, requests.Session() as c, requests.Session() as t:
        for s in (o, c, t):
            s.headers["Accept"] = "application/json"
        o.post(open_url + "/login", data={"username": "bench"})
        csrf = c.post(pw_url + "/login", data={"username": "admin", "password": PASSWORD}).json()
        token = requests.post(pw_url + "/api/tokens", json={"name": "bench"},
                              auth=("admin", PASSWORD)).json()["token"]
        t.headers["Authorization"] = f"Bearer {token}"
        for label, s, url, extra in (("open, cookie", o, open_url, {}),
                                     ("password, cookie", c, pw_url, {"X-CSRFToken": csrf["csrf_token"]}),
                                     ("password, token", t, pw_url, {})):
            results[f"GET /index.json ({label})"] = timed(lambda: s.get(url + "/index.json"), n)
            results[f"PUT /jobs/<id> 404 ({label})"] = timed(
                lambda: _accept_404(s.put(url + "/jobs/x", data={"job_name": "y"}, headers=extra)), n)
        results["POST /login (open)"] = timed(
            lambda: o.post(open_url + "/login", data={"username": "bench"}), max(10, n // 10))
        results["POST /login (password, argon2id)"] = timed(
            lambda: requests.post(pw_url + "/login", headers={"Accept": "application/json"},
                                  data={"username": "admin", "password": PASSWORD}), max(10, n // 10))
    return results


class _Ok:
    status_code = 200
    text = ""


def _accept_404(res):
    assert res.status_code == 404, res.text  # past every check: authenticated, CSRF, owner
    return _Ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    limits = {"DIGITSX_ADMIN_PASSWORD": PASSWORD, "DIGITSX_LOGIN_LIMIT_USER": "100000 per minute",
              "DIGITSX_LOGIN_LIMIT_ADDRESS": "100000 per minute"}
    with tempfile.TemporaryDirectory() as tmp:
        with servers(Path(tmp), (5611, {**limits, "DIGITSX_AUTH": "open"}),
                     (5612, {**limits, "DIGITSX_AUTH": "password"})) as (open_url, pw_url):
            results = measure(open_url, pw_url, args.requests)
    print(f"keep-alive latency, {args.requests} requests each (ms); ratio: p50 against the same "
          f"request in open mode")
    print(f"{'request':<44}{'p50':>8}{'p99':>8}{'ratio':>8}")
    for name, values in results.items():
        request, _, label = name.partition(" (")
        base = next((v for k, v in results.items() if k.startswith(request) and "open" in k), values)
        print(f"{name:<44}{pct(values, .5):>8.2f}{pct(values, .99):>8.2f}"
              f"{pct(values, .5) / pct(base, .5):>7.2f}x")


if __name__ == "__main__":
    main()
