"""A long job's graph in a real browser: thinned on the server, and a zoomed range fetched again
at full resolution (drawn in place of the thinned points), then the whole job again."""
from __future__ import annotations

import json

import pytest

from digitsx.models import CLASSIFICATION
from tests.browser.test_home_live import login

pytestmark = [pytest.mark.browser, pytest.mark.server]


def long_model(jobs_dir, n: int) -> str:
    from digitsx import create_app
    from digitsx.db import Metric

    app = create_app({"JOBS_DIR": str(jobs_dir), "DATABASE_URL": f"sqlite:///{jobs_dir / 'digitsx.db'}",
                      "TESTING": True, "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "test",
                      "PRESTART_WORKER": False})
    store = app.extensions["digitsx"].store
    try:
        job = store.create(CLASSIFICATION, "long run", {"dataset": {"id": "", "path": "/x"},
                                                         "network": {"method": "standard", "name": "lenet"},
                                                         "train_epochs": 20}, "alice")
        with store.db.session() as s:
            s.add_all(Metric(job_id=job.id, phase="train", epoch=i / 1000, step=i,
                             values_json=json.dumps({"loss": 1.0 / (1 + i % 50)}), timestamp=float(i))
                      for i in range(n))
        return job.id
    finally:
        app.extensions["digitsx"].stop()


def test_zoom_fetches_the_range_at_full_resolution(server_factory, page, tmp_path):
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir(exist_ok=True)
    job_id = long_model(jobs_dir, 20_000)
    server = server_factory()
    login(page, server)
    page.goto(server.url + f"/models/{job_id}")
    page.wait_for_function("(window.dxChartPoints || 0) > 0", timeout=20000)
    thinned = page.evaluate("window.dxShownPoints")
    assert thinned <= 2000
    inside = "Chart.getChart('train-chart').data.datasets.find(d => d.label === 'loss (train)').data" \
             ".filter(p => p.x >= 12 && p.x <= 12.5).length"
    assert page.evaluate(inside) < 60
    page.evaluate("window.dxZoom(12, 12.5)")
    page.wait_for_function("window.dxZoomLoads === 1")
    assert page.evaluate(inside) == 501  # every point of those epochs
    assert page.evaluate("Chart.getChart('train-chart').options.scales.x.min") == 12
    page.dblclick("#train-chart")
    page.wait_for_function(f"window.dxShownPoints === {thinned}")
    assert page.evaluate("Chart.getChart('train-chart').options.scales.x.min") is None
    assert page.js_errors == []
