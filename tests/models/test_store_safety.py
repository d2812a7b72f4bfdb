"""Model stores are hostile: a store's answers are validated (each store and each model entry
fails alone, named), redirects are followed only to the same origin (never to an internal
address, never ftp://), every transfer has a total deadline and a minimum rate, and a failed
import leaves nothing. Everything runs on loopback."""
from __future__ import annotations

import io
import json
import threading
import time

import pytest

from digitsx import netfetch
from digitsx.classification import store_reading as store

from .hostile_store import Internal, Stores


@pytest.fixture
def hostile():
    internal = Internal()
    stores = Stores(internal)
    yield stores, internal
    stores.close()
    internal.close()


def test_each_bad_entry_is_its_own_error_beside_good_ones(hostile):
    stores, internal = hostile
    listed = store.read_store(stores.url + "/good/", 5)
    assert "error" not in listed
    by = {m["dir_name"]: m for m in listed["model_list"]}
    assert "error" not in by["m"] and by["m"]["network"] == "lenet" and by["m"]["input"] == [28, 28, 1]
    assert by["upper"]["files"]["model.pt"]["sha256"] == "ab" * 32  # any case: checked, not skipped
    assert "64 hex digits" in by["badhash"]["error"]
    assert "not a number JSON allows" in by["nan"]["error"]
    assert "crop_size" in by["crop"]["error"]
    assert "bidirectional" in by["bidi"]["error"]
    assert "nested too deeply" in by["deep"]["error"]
    assert "redirected to another server; refused" in by["redir"]["error"]
    assert "not a folder name" in by["{'a': 1}"]["error"] and "not a folder name" in by["../x"]["error"]
    assert internal.hits == []
    assert "SECRET" not in json.dumps(listed)


def test_a_store_that_redirects_elsewhere_or_nests_is_refused_alone(hostile):
    stores, internal = hostile
    nested = store.read_store(stores.url + "/nested/", 5)
    assert "nested too deeply" in nested["error"]
    for name in ("elsewhere", "ftp"):
        answer = store.read_store(f"{stores.url}/{name}/", 5)
        assert "redirected to another server; refused" in answer["error"], answer
    assert internal.hits == []
    same = store.read_store(stores.url + "/same/", 5)  # the same origin: followed
    assert "error" not in same and same["welcome_msg"] == "good"


def test_a_dripping_store_is_cut_off_by_its_deadline(hostile):
    stores, _ = hostile
    start = time.monotonic()
    answer = store.read_store(stores.url + "/drip/", 2)
    assert time.monotonic() - start < 4
    assert "took longer than allowed" in answer["error"] or "minimum" in answer["error"]
    start = time.monotonic()
    with pytest.raises(netfetch.FetchError, match="took longer than allowed"):
        netfetch.copy(stores.url + "/dripfile/m/model.pt", io.BytesIO(), 10**6, 2)
    assert time.monotonic() - start < 4


def test_a_worker_download_never_follows_a_redirect_elsewhere(hostile, tmp_path):
    from digitsx.engine import weights_cache

    stores, internal = hostile
    with pytest.raises(weights_cache.WeightsError, match="redirected to another server"):
        weights_cache.download(stores.url + "/good/redir/info.json", tmp_path / "x.part", 10**6)
    assert internal.hits == []


def test_listing_in_the_app_a_hostile_store_beside_a_good_one(hostile, make_app):
    """The web routes answer (no 500) with the good store listed and the bad ones named; the
    listing is read once and shared; ?refresh=1 reads again at most every 30 s."""
    from tests.conftest import login

    stores, internal = hostile
    app = make_app(MODEL_STORES=[stores.url + "/nested/", stores.url + "/good/", stores.url + "/elsewhere/"],
                   STORE_TIMEOUT=5)
    client = app.test_client()
    login(client)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(client.get("/store/models.json")))
               for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert stores.hits.count("/good/master.json") == 1  # three requests, one read
    listed = answers[0].get_json()
    assert "nested too deeply" in listed[stores.url + "/nested/"]["error"]
    assert "refused" in listed[stores.url + "/elsewhere/"]["error"]
    good = {m["dir_name"]: m for m in listed[stores.url + "/good/"]["model_list"]}
    assert "error" not in good["m"]
    page = client.get("/store", headers={"Accept": "text/html"})
    assert page.status_code == 200 and b"nested too deeply" in page.data
    bad = client.post("/store/push", data={"id": good["crop"]["id"]}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and "crop_size" in bad.get_json()["error"]["message"]
    assert client.get(f"/store/push?id={good['m']['id']}").status_code == 405
    made = client.post("/store/push", data={"id": good["m"]["id"]}, headers={"Accept": "application/json"})
    assert made.status_code == 200, made.data
    spec = app.extensions["digitsx"].store.get(made.get_json()["id"]).spec
    assert sorted(spec["files"]) == ["labels.txt", "model.pt"]  # our lenet: its network.py never fetched
    for _ in range(3):
        assert client.get("/store/models.json?refresh=1").status_code == 200
    assert stores.hits.count("/good/master.json") == 1  # refreshed less than 30 s ago: not again
    assert internal.hits == []
