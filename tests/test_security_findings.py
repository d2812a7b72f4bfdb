"""Issue 31's smaller findings, in password mode: integers of hundreds of digits answer 400;
the weights cache shows server paths to admins only and an import never waits on a lock (409);
this server's store routes are public, as the README says; publishing a copy of another user's
model is that user's (or an admin's) act."""
from __future__ import annotations

import threading

import pytest

from digitsx.engine import weights_cache
from digitsx.jobs.status import Status
from digitsx.models import published

from .test_auth import JSON, csrf, make_user

pytestmark = pytest.mark.usefixtures("papp")


@pytest.fixture
def papp(make_app):
    return make_app(AUTH="password", ADMIN_PASSWORD="admin-password-1")


HUGE = "9" * 400


@pytest.mark.parametrize("url,field", [
    ("/models/images/classification.json", "batch_size"),
    ("/models/images/classification.json", "train_epochs"),
    ("/models/images/generic.json", "batch_size"),
    ("/datasets/images/classification.json", "resize_width"),
])
def test_a_400_digit_integer_is_a_400_naming_the_field(papp, url, field):
    bob, headers, _ = make_user(papp, "bob")
    for body in ({"data": {field: HUGE}}, {"json": {field: int(HUGE)}}):
        res = bob.post(url, headers=headers, **body)
        assert res.status_code == 400, (url, field, res.data[:300])
        errors = res.get_json().get("errors") or {}
        if field in errors:  # named with its length, never echoed whole
            assert "characters" in " ".join(errors[field]), errors[field]


def test_weights_cache_paths_for_admins_only_and_import_never_waits(papp):
    bob, headers, _ = make_user(papp, "bob")
    mine = bob.get("/weights.json", headers=JSON).get_json()
    assert mine["folder"] is None and mine["cache"] is None
    assert all(m["path"] is None for m in mine["missing"]) and mine["missing"]
    admin = papp.test_client()
    admin_headers = csrf(admin)
    theirs = admin.get("/weights.json", headers=JSON).get_json()
    assert theirs["folder"] and all(m["path"] for m in theirs["missing"])
    entry = published.weights()["ResNet18_Weights.IMAGENET1K_V1"]
    dest = weights_cache.folder(papp.config["WEIGHTS_DIR"]) / entry["file"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    held, release = threading.Event(), threading.Event()

    def download():  # stands for a job downloading that file
        with weights_cache.locked(dest):
            held.set()
            release.wait(10)

    worker = threading.Thread(target=download)
    worker.start()
    held.wait(5)
    try:
        import io
        res = admin.post("/weights/import", headers=admin_headers, data={
            "weights": entry["name"], "file": (io.BytesIO(b"x" * 100), entry["file"])})
        assert res.status_code == 409 and "being downloaded or imported" in res.get_json()["error"]["message"]
    finally:
        release.set()
        worker.join()


def test_store_routes_are_public_and_publishing_a_copy_is_the_owners(papp):
    anonymous = papp.test_client()
    res = anonymous.get("/store/master.json")
    assert res.status_code == 200 and res.get_json()["children"] == []
    assert anonymous.get("/store/nope/info.json").status_code == 404
    assert anonymous.get("/store/models.json", headers=JSON).status_code == 401  # reading stores: a user's
    p = papp.extensions["digitsx"]
    alice, alice_headers, _ = make_user(papp, "alice")
    bob, bob_headers, _ = make_user(papp, "bob")
    model = p.store.create("test.train", "alice's model", {}, "alice")
    from digitsx.models import PRETRAINED

    copy = p.store.create(PRETRAINED, "bob's copy", {"source": "snapshot", "from_model": model.id}, "bob")
    p.store.set_status(copy.id, Status.RUNNING)
    p.store.set_status(copy.id, Status.DONE)
    res = bob.post(f"/pretrained_models/{copy.id}/publish", headers=bob_headers, data={"published": 1})
    assert res.status_code == 403 and "alice" in res.get_json()["error"]["message"]
    assert anonymous.get(f"/store/{copy.id}/info.json").status_code == 404
    admin = papp.test_client()
    admin_headers = csrf(admin)
    assert admin.post(f"/pretrained_models/{copy.id}/publish", headers=admin_headers,
                      data={"published": 1}).status_code == 200
    assert bob.post(f"/pretrained_models/{copy.id}/publish", headers=bob_headers,
                    data={"published": 0}).status_code == 200  # withdrawing is the copy's owner's
