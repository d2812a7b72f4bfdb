"""The Getting-started button's ``POST /demo/data``: calls at the same moment share one
writing (none answers 500, no half-written folder is left), and later calls reuse it."""
from __future__ import annotations

import threading

from tests.conftest import login, wait_for


def test_simultaneous_first_calls_share_one_writing(make_app, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(DATA_ROOTS=[str(data)], DEMO_WAIT_SECONDS=0.5)
    answers = []

    clients = []
    for name in ("alice", "bob", "carol"):
        clients.append(app.test_client())
        login(clients[-1], name)

    def call(client):
        answers.append(client.post("/demo/data", headers={"X-Requested-With": "x"}))

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(a.status_code for a in answers) in ([202, 202, 202], [200, 200, 200]), \
        [(a.status_code, a.data[:200]) for a in answers]
    client = app.test_client()
    login(client)
    done = wait_for(lambda: (r := client.post("/demo/data")).status_code != 202 and r, 300, 1,
                    "the demo data")
    assert done.status_code == 200, done.data
    assert [d["task"] for d in done.get_json()["datasets"]] == ["image classification", "object detection",
                                                                "segmentation"]
    root = data / "digitsx-demo"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["mnist", "shapes", "trees"]
