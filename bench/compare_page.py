"""The compare page of 100 finished models of 30 epochs, in chromium, against the same page of 2
models in the same run: from opening the page to its chart, table and parallel coordinates drawn
(median of 3), and the size of its ``compare.json``.

    .venv/bin/python bench/compare_page.py [--jobs 100]

The models are copies of one finished classification model's rows (as in ``bench/scale.py``: 30
epochs × train and val of loss and accuracy), each with its own learning rate and batch size, so
the runs differ in two numeric settings.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import session, start  # noqa: E402
from bench.scale import SPEC, populate  # noqa: E402


def vary_settings(jobs_dir: Path, n: int) -> list[str]:
    """Give each model its own learning rate and batch size; returns the ids, oldest first."""
    from sqlalchemy import select

    from digitsx import create_app
    from digitsx.db import Job

    app = create_app({"JOBS_DIR": str(jobs_dir), "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "bench",
                      "PRESTART_WORKER": False})
    db = app.extensions["digitsx"].store.db
    try:
        with db.session() as s:
            jobs = list(s.scalars(select(Job).order_by(Job.created).limit(n)))
            for i, job in enumerate(jobs):
                job.spec_json = json.dumps({**SPEC, "lr": {**SPEC["lr"], "base_lr": 0.001 * (1 + i % 10)},
                                            "batch_size": 16 * (1 + i % 4)})
            return [j.id for j in jobs]
    finally:
        app.extensions["digitsx"].stop()


def drawn_seconds(page, url: str) -> float:
    """Median of 3: opening the page until the chart, every table row and the parallel
    coordinates are drawn."""
    times = []
    for _ in range(3):
        start_t = time.perf_counter()
        page.goto(url)
        page.wait_for_function("(window.dxCompareDrawn || 0) >= 1 && document.querySelectorAll('#cmp-table tbody tr')"
                               ".length > 0 && document.querySelectorAll('#cmp-parallel polyline').length > 0",
                               timeout=60000)
        times.append(time.perf_counter() - start_t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--port", type=int, default=5096)
    args = parser.parse_args()
    exe = shutil.which("chromium")
    if exe is None:
        sys.exit("chromium is not installed (bash scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        jobs_dir = Path(tmp) / "jobs"
        populate(jobs_dir, args.jobs)
        ids = vary_settings(jobs_dir, args.jobs)
        url = f"http://127.0.0.1:{args.port}"
        proc = start(args.port, Path(tmp), jobs_dir, DIGITSX_PRESTART_WORKER="0")
        try:
            s = session(url)
            query = "&".join(f"job_id={i}" for i in ids)
            answer = s.get(f"{url}/models/compare.json?{query}")
            assert answer.ok, answer.text[:300]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url + "/login")
                page.fill("#username", "viewer")
                page.click("button[type=submit]")
                page.wait_for_url(url + "/")
                two = drawn_seconds(page, f"{url}/models/compare?job_id={ids[0]}&job_id={ids[1]}")
                many = drawn_seconds(page, f"{url}/models/compare?{query}")
                rows = page.locator("#cmp-table tbody tr").count()
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"compare.json for {args.jobs} models of 30 epochs: {len(answer.content) / 1e6:.2f} MB")
    print(f"compare page drawn (chart, table of {rows} rows, parallel coordinates; median of 3): "
          f"{args.jobs} models {many:.2f} s, 2 models {two:.2f} s, ratio {many / two:.2f}x")


if __name__ == "__main__":
    main()
