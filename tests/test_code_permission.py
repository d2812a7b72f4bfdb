"""Running submitted Python needs ``can_run_code``, decided from the parsed spec that will run.

As a user without the permission, every route that can lead to running submitted Python is
tried with padded, cased and control-character variants of each field that selects code, in
JSON and multipart bodies, with a cookie (+ CSRF) and with a Bearer token: each is a 403 and no
job is made. The routes are found from the app's own forms, so a new route with such a field
fails here until it is added to the walk."""
from __future__ import annotations

import json

import pytest

from digitsx.classification import DATASET as CLS_DATASET
from digitsx.detection import DATASET as DET_DATASET, MODEL as DET_MODEL
from digitsx.engine import checkpoint
from digitsx.classification import MODEL as CLASSIFICATION, PRETRAINED
from digitsx.segmentation import DATASET as SEG_DATASET, MODEL as SEG_MODEL
from tests.test_auth import ADMIN_PW, bearer, make_user

MARKER_SOURCE = "open({marker!r}, 'w').write('ran')\ndef build(*args):\n    return None\n"
CODE_FIELDS = {"custom_network", "previous_networks", "pretrained_networks",
               "backbone_job", "model_def_file", "archive"}
METHODS = ["custom", " custom", "custom\n", "\tcustom", "CUSTOM", "Custom ", "custom\x00",
           "\x0bcustom\r\n"]


def padded(value: str) -> list[str]:
    return [value, f" {value}", f"{value}\n", f"\t{value}", f"{value}\x00", f"\r\n{value} \x1f"]


def done_job(store, kind: str, spec: dict, username: str = "carol", snapshot: bool = False):
    job = store.create(kind, f"{kind} of {username}", spec, username)
    result = {}
    if snapshot:
        checkpoint.snapshot_path(store.job_dir(job.id), 1).write_bytes(b"weights")
        result = {"snapshots": [{"epoch": 1}]}
    store.update(job.id, status="Done", result_json=json.dumps(result))
    return job


@pytest.fixture
def papp(make_app):
    """Password mode; the walk makes hundreds of requests, so no rate limit gets in its way."""
    return make_app(AUTH="password", ADMIN_PASSWORD=ADMIN_PW, JOB_LIMIT="100000 per minute",
                    PROCESS_LIMIT="100000 per minute")


@pytest.fixture
def world(papp, tmp_path):
    """Carol (who may run code) owns custom models of each task and pretrained models made
    from code; bob may not run code."""
    store = papp.extensions["digitsx"].store
    marker = tmp_path / "marker"
    custom = {"method": "custom", "source": MARKER_SOURCE.format(marker=str(marker))}
    make_user(papp, "carol", can_run_code=True)
    bob, headers, token = make_user(papp, "bob")
    ids = {kind: done_job(store, kind, {"image": {"width": 28, "height": 28, "channels": 1}}).id
           for kind in (CLS_DATASET, DET_DATASET, SEG_DATASET)}
    for kind in (CLASSIFICATION, DET_MODEL, SEG_MODEL):
        ids[kind] = done_job(store, kind, {"network": custom}, snapshot=True).id
    # continued twice: the code is found through the lineage, not the newest spec's method
    cont = {"method": "standard", "name": None, "previous": {"job_id": ids[CLASSIFICATION], "epoch": 1}}
    ids["continued"] = done_job(store, CLASSIFICATION, {"network": cont}, snapshot=True).id
    ids["uploaded"] = done_job(store, PRETRAINED, {"source": "files"}).id
    ids["from_custom"] = done_job(store, PRETRAINED, {"source": "snapshot",
                                                      "from_model": ids[CLASSIFICATION]}).id
    ids["standard"] = done_job(store, CLASSIFICATION, {"network": {"method": "standard", "name": "lenet"}},
                               snapshot=True).id
    ids["from_standard"] = done_job(store, PRETRAINED, {"source": "snapshot",
                                                        "from_model": ids["standard"]}).id
    return {"store": store, "bob": bob, "auth": [headers, bearer(token)], "ids": ids,
            "marker": marker, "source": custom["source"], "app": papp}


def attempts(w) -> list[tuple[str, dict]]:
    """(route, fields) for every way a create or preview can select submitted code."""
    ids, source = w["ids"], w["source"]
    base = {"model_name": "m", "train_epochs": 1}
    out = []
    for dataset, model in ((CLS_DATASET, CLASSIFICATION), (DET_DATASET, DET_MODEL),
                           (SEG_DATASET, SEG_MODEL)):
        routes = ["/models/images/generic.json"] if model != CLASSIFICATION else \
            ["/models/images/classification.json", "/models/images/classification"]
        for route in routes:
            for method in METHODS:
                out.append((route, {**base, "dataset": ids[dataset], "method": method,
                                    "custom_network": source}))
            for previous in padded(ids[model]):
                for method in ("previous", " previous", "PREVIOUS\n"):
                    out.append((route, {**base, "dataset": ids[dataset], "method": method,
                                        "previous_networks": previous}))
    for route in ("/models/images/classification.json",):
        for previous in padded(ids["continued"]):
            out.append((route, {**base, "dataset": ids[CLS_DATASET], "method": "previous",
                                "previous_networks": previous}))
        for pretrained in padded(ids["uploaded"]) + padded(ids["from_custom"]):
            for method in ("pretrained", " Pretrained\t"):
                out.append((route, {**base, "dataset": ids[CLS_DATASET], "method": method,
                                    "pretrained_networks": pretrained}))
    for method in METHODS:  # a study of a custom network: refused before the study is made
        out.append(("/models/images/classification.json",
                    {**base, "dataset": ids[CLS_DATASET], "method": method, "custom_network": source,
                     "search_space": '{"learning_rate": {"choice": [0.01, 0.02]}}'}))
    for method in METHODS:
        out.append(("/models/images/classification/visualize-network",
                    {"method": method, "custom_network": source}))
    return out


def test_code_is_refused_from_the_parsed_spec(world):
    bob, store = world["bob"], world["store"]
    before = len(store.db.jobs())
    tried = set()
    for url, fields in attempts(world):
        tried.add(url.removesuffix(".json"))
        for auth in world["auth"]:
            for body in ("json", "multipart", "urlencoded"):
                kw = {"json": fields} if body == "json" else {"data": fields}
                if body == "multipart":
                    kw["content_type"] = "multipart/form-data"
                res = bob.post(url, headers=auth, **kw)
                assert res.status_code == 403, (url, fields, body, res.data[:300])
                assert "may not run code" in res.get_json()["error"]["message"]
    for job_id in (world["ids"][CLASSIFICATION], world["ids"]["continued"]):
        for auth in world["auth"]:
            res = bob.post(f"/models/{job_id}/to_pretrained", headers=auth)
            assert res.status_code == 403, res.data
    tried.add("/models/<job_id>/to_pretrained")
    # bob's own custom model (made while he could run code): resuming it runs the code again
    own = store.create(CLASSIFICATION, "bob's", {"network": {"method": "custom", "source": world["source"]}}, "bob")
    store.update(own.id, status="Aborted")
    for auth in world["auth"]:
        res = bob.post(f"/models/{own.id}/resume", headers=auth)
        assert res.status_code == 403 and "Resuming a custom network" in res.get_json()["error"]["message"]
    assert store.get(own.id).status == "Aborted"
    before += 1
    assert len(store.db.jobs()) == before  # nothing was made, so nothing can run
    assert not world["marker"].exists()
    # every route whose form selects code was walked (uploads: tests/test_auth.py)
    app = world["app"]
    selecting = set()
    for rule in app.url_map.iter_rules():
        form = getattr(app.view_functions[rule.endpoint], "dx_form", None)
        if "POST" in rule.methods and form is not None and CODE_FIELDS & set(form.fields):
            selecting.add(rule.rule.removesuffix(".json"))
    uploads = {"/pretrained_models/new", "/pretrained_models/upload_archive"}
    assert selecting - uploads <= tried, selecting - uploads - tried


def test_code_free_choices_stay_open(world):
    """Standard networks, a pretrained model made from a standard one, and a backbone (weights
    only) need no permission; a user who may run code gets past the check."""
    bob, ids, store = world["bob"], world["ids"], world["store"]
    headers = world["auth"][1]
    base = {"model_name": "m", "train_epochs": 1}
    ok = [("/models/images/classification.json", {**base, "dataset": ids[CLS_DATASET],
                                                   "method": " standard"}),
          ("/models/images/classification.json", {**base, "dataset": ids[CLS_DATASET],
                                                   "method": "pretrained",
                                                   "pretrained_networks": ids["from_standard"]}),
          ("/models/images/generic.json", {**base, "dataset": ids[DET_DATASET], "method": "backbone",
                                           "backbone_job": ids["uploaded"]})]
    for url, fields in ok:
        res = bob.post(url, json=fields, headers=headers)
        assert res.status_code == 200, (fields, res.data[:300])
    res = bob.post(f"/models/{ids['standard']}/to_pretrained", headers=headers)
    assert res.status_code == 200, res.data
    # carol may: the same custom request is made (her job), with the spec it will run
    carol = world["app"].test_client()
    from tests.test_auth import csrf

    h = csrf(carol, "carol", "carol-password")
    res = carol.post("/models/images/classification.json", headers=h,
                     data={**base, "dataset": ids[CLS_DATASET], "method": "\tCustom\n",
                           "custom_network": world["source"]})
    assert res.status_code == 200, res.data
    job = store.get(res.get_json()["id"])
    assert job.spec["network"]["method"] == "custom" and job.username == "carol"
