"""A hostile Model Store beside a good one, against a real server: how long the store listing
takes (cut off by its deadline), what it lists, and how fast other requests answer meanwhile,
as ratios against the same requests with no store being read (measured in this run).

    .venv/bin/python bench/hostile_store.py [--port 5097] [--timeout 3]

The stores are ``tests/models/hostile_store.py``'s, on loopback: one that drips a byte every
half second, one that redirects to an "internal" server, one 200 KB deeply nested, and a good
one. Prints one line per figure.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import pct, servers, session  # noqa: E402
from tests.models.hostile_store import Internal, Stores  # noqa: E402


def latencies(s, url: str, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        assert s.get(url + "/index.json").ok
        out.append((time.perf_counter() - start) * 1000)
        time.sleep(0.05)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5097)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    internal = Internal()
    stores = Stores(internal)
    urls = [stores.url + "/drip/", stores.url + "/elsewhere/", stores.url + "/nested/", stores.url + "/good/"]
    try:
        with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp), (args.port, {
                "DIGITSX_MODEL_STORES": ",".join(urls), "DIGITSX_STORE_TIMEOUT": str(args.timeout)})) as [url]:
            s = session(url)
            idle = latencies(s, url, 3)
            listed: dict = {}

            def read() -> None:
                start = time.perf_counter()
                listed["answer"] = session(url, "lister").get(url + "/store/models.json").json()
                listed["seconds"] = time.perf_counter() - start

            reader = threading.Thread(target=read)
            reader.start()
            busy = latencies(s, url, args.timeout)
            reader.join()
            answer = listed["answer"]
            print(f"store listing: {listed['seconds']:.2f} s with a {args.timeout:g} s deadline per document")
            for store_url in urls:
                entry = answer[store_url] if store_url in answer else answer.get(store_url.rstrip("/"))
                models = entry.get("model_list") or []
                fine = sum(1 for m in models if "error" not in m)
                print(f"  {store_url[len(stores.url):]:12s} {entry.get('error') or f'{fine} of {len(models)} models listed'}")
            print(f"internal server hits through the stores: {len(internal.hits)}")
            print(f"/index.json p50 idle {pct(idle, .5):.1f} ms, during the listing {pct(busy, .5):.1f} ms "
                  f"({pct(busy, .5) / pct(idle, .5):.2f}x); max idle {max(idle):.1f} ms, during {max(busy):.1f} ms "
                  f"({max(busy) / max(idle):.2f}x)")
    finally:
        stores.close()
        internal.close()


if __name__ == "__main__":
    main()
