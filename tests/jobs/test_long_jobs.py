"""A long job's metrics: the graph's points thinned on the server (each bucket's extremes kept),
only newer points on request, and every point in the streamed CSV."""
from __future__ import annotations

import csv
import io
import json

from digitsx.db import Metric
from tests.conftest import login

JSON = {"Accept": "application/json"}


def long_job(app, n: int):
    store = app.extensions["digitsx"].store
    job = store.create("test.train", "long", {}, "alice")
    with store.db.session() as s:
        s.add_all(Metric(job_id=job.id, phase="train", epoch=i / 1000, step=i,
                         values_json=json.dumps({"loss": 1000.0 if i == 12_345 else 1.0 / (1 + i % 50)}),
                         timestamp=float(i)) for i in range(n))
        s.add_all(Metric(job_id=job.id, phase="val", epoch=e, step=e * 1000,
                         values_json=json.dumps({"loss": 0.5, "accuracy": e}), timestamp=float(e)) for e in range(1, 21))
    return job


def test_thinned_graph_points_newer_points_and_the_full_csv(app, client):
    login(client)
    job = long_job(app, 20_000)
    thin = client.get(f"/models/{job.id}/metrics.json?max_points=500", headers=JSON).get_json()
    train = [p for p in thin["metrics"] if p["phase"] == "train"]
    assert len(train) <= 500 and len([p for p in thin["metrics"] if p["phase"] == "val"]) == 20
    assert any(p["values"]["loss"] == 1000.0 for p in train)  # the spike survives
    assert train[0]["step"] == 0 and train[-1]["step"] == 19_999
    assert len(json.dumps(thin)) < 200_000
    full = client.get(f"/models/{job.id}/metrics.json", headers=JSON).get_json()  # DIGITS's: every point
    assert len(full["metrics"]) == 20_020 and full["last_id"] == thin["last_id"]
    assert client.get(f"/models/{job.id}/metrics.json?after={thin['last_id']}", headers=JSON).get_json()["metrics"] == []
    newer = client.get(f"/models/{job.id}/metrics.json?after={thin['last_id'] - 3}", headers=JSON).get_json()
    assert len(newer["metrics"]) == 3
    assert client.get(f"/models/{job.id}/metrics.json?max_points=abc", headers=JSON).status_code == 400
    rows = list(csv.reader(io.StringIO(client.get(f"/models/{job.id}/metrics.csv").get_data(as_text=True))))
    assert rows[0] == ["phase", "epoch", "step", "time", "accuracy", "loss"] and len(rows) == 20_021


def test_the_streaming_thinner_keeps_what_each_phase_thinned_whole_keeps():
    import random

    from digitsx.jobs.thin import Thinner, _first_number, keep_extremes

    rng = random.Random(1)
    points = [{"id": i, "phase": "train" if i % 9 else "val", "epoch": i, "values": {"loss": rng.random()}}
              for i in range(10_000)]
    counts = {"train": sum(1 for p in points if p["phase"] == "train"), "val": sum(1 for p in points if p["phase"] == "val")}
    streamed = Thinner(counts, 300)
    for k in range(0, len(points), 777):
        streamed.add(points[k:k + 777])
    expected = sorted(p["id"] for phase in ("train", "val")
                      for p in keep_extremes([q for q in points if q["phase"] == phase], 300, _first_number))
    assert [p["id"] for p in streamed.result()] == expected and len(expected) < 700


def test_the_loss_read_from_the_text_is_the_parsed_one():
    import json

    from digitsx.jobs.thin import _first_number, raw_value

    for values in ({"loss": 0.25, "accuracy": 3}, {"val_loss": 9, "accuracy": 2.5}, {"loss": float("nan"), "a": 1},
                   {"accuracy": 1e-7}, {"loss": -3e5}):
        text = json.dumps(values)
        assert raw_value({"raw": text}) == _first_number({"values": json.loads(text)}), text


def test_a_zoomed_range_comes_at_full_resolution(app, client):
    """The graph zoomed into epochs 12.0–12.5 asks for that range: every point of it (500 of
    the job's 20,000), where the whole job thinned to 500 holds only ~12 of them."""
    login(client)
    job = long_job(app, 20_000)
    whole = client.get(f"/models/{job.id}/metrics.json?max_points=500", headers=JSON).get_json()["metrics"]
    assert len([p for p in whole if 12.0 <= p["epoch"] <= 12.5 and p["phase"] == "train"]) < 30
    zoom = client.get(f"/models/{job.id}/metrics.json?max_points=2000&from_epoch=12&to_epoch=12.5",
                      headers=JSON).get_json()["metrics"]
    train = [p for p in zoom if p["phase"] == "train"]
    assert len(train) == 501 and all(12.0 <= p["epoch"] <= 12.5 for p in zoom)
    assert any(p["values"]["loss"] == 1000.0 for p in train)  # step 12,345 is in the range
    assert [p["epoch"] for p in zoom if p["phase"] == "val"] == [12]
    open_ended = client.get(f"/models/{job.id}/metrics.json?from_epoch=19.99", headers=JSON).get_json()["metrics"]
    assert len(open_ended) == 11  # 19.990…19.999 and the val point of epoch 20
    for bad in ("from_epoch=abc", "to_epoch=nan", "from_epoch=3&to_epoch=2", "to_epoch=inf"):
        res = client.get(f"/models/{job.id}/metrics.json?max_points=100&{bad}", headers=JSON)
        assert res.status_code == 400 and "epoch" in res.get_data(as_text=True), bad


def test_thinning_rows_a_bucket_at_a_time_keeps_what_point_by_point_keeps():
    import random
    from operator import itemgetter

    from digitsx.jobs.thin import Thinner

    rng = random.Random(2)
    for n, limit, batch in ((10_000, 300, 777), (5_003, 2000, 10_000), (50, 100, 7), (3_001, 11, 1)):
        rows = [(i, "train" if i % 9 else "val", rng.choice([rng.random(), 0.5])) for i in range(n)]
        counts = {ph: sum(1 for r in rows if r[1] == ph) for ph in ("train", "val")}
        one = Thinner(counts, limit, value=itemgetter(2), phase_of=itemgetter(1))
        many = Thinner(counts, limit, value=itemgetter(2), phase_of=itemgetter(1))
        for k in range(0, n, batch):
            one.add(rows[k:k + batch])
            many.add_rows(rows[k:k + batch], order_of=itemgetter(0))
        assert [r[0] for r in many.result()] == [r[0] for r in one.result()], (n, limit, batch)


TURN_CHECK = r"""
import sys, time
from gevent import monkey
monkey.patch_all()
import gevent, socket
from digitsx import create_app
from digitsx.extensions import give_turn
app = create_app({"JOBS_DIR": sys.argv[1], "SCHEDULER_AUTOSTART": False, "SECRET_KEY": "t",
                  "PRESTART_WORKER": False})
a, b = socket.socketpair()
got = []
gevent.spawn(lambda: got.append(a.recv(1)))
gevent.sleep(0.01)  # the other request now waits for its bytes
b.send(b"x")
turns = 0
while not got and turns < 1000:
    sum(range(20000))  # a batch of a long answer
    give_turn()
    turns += 1
print(turns)
app.extensions["digitsx"].stop()
"""


def test_a_long_answer_lets_a_waiting_request_in_at_its_next_turn(tmp_path):
    """Under gevent (as the server runs), a request whose bytes arrived runs at the streaming
    answer's next turn: ``sleep(0)`` let it wait up to a second behind a 200,000-point
    metrics.json (it can run the same greenlet again before the loop polls for I/O)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", TURN_CHECK, str(tmp_path / "jobs")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) <= 2, out.stdout
