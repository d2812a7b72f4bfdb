"""The published-weights choice on the model forms and the Model Store page, in a real browser."""
from __future__ import annotations

import json

import pytest

from digitsx.models import published
from tests.browser.shots import shot
from tests.browser.test_home_live import login
from tests.conftest import api_session

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_weights_follow_the_network(server_factory, page, tmp_path):
    server = server_factory(DIGITSX_DATA_ROOTS=str(tmp_path))
    login(page, server)
    page.goto(server.url + "/models/images/classification/new")
    page.check("#net-lenet")
    assert page.locator("#weights").is_disabled()  # LeNet: nothing published
    page.check("#net-resnet50")
    options = page.locator("#weights option").all_inner_texts()
    assert options[0].startswith("None") and any("ResNet50_Weights.IMAGENET1K_V2" in o and "ImageNet-1K" in o
                                                 and "acc@1 80.858" in o for o in options)
    page.select_option("#weights", "ResNet50_Weights.IMAGENET1K_V2")
    page.goto(server.url + "/models/images/object-detection/new")
    page.check("#net-ssdlite320_mobilenet_v3_large")
    whole = page.locator("#weights option").all_inner_texts()
    assert any("COCO-val2017" in o and "box_map 21.3" in o and "91 classes" in o for o in whole)
    page.select_option("#weights_backbone", "MobileNet_V3_Large_Weights.IMAGENET1K_V1")
    page.select_option("#weights", "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1")
    assert page.input_value("#weights_backbone") == ""  # one or the other
    expected = [w["name"] for w in published.choices("detection", "ssdlite320_mobilenet_v3_large")["backbone"]]
    assert page.locator("#weights_backbone option").evaluate_all("os => os.map(o => o.value)")[1:] == expected
    assert page.js_errors == []


def test_store_page_lists_and_says_what_is_wrong(server_factory, page, tmp_path):
    from tests.models.weights_server import Mirror

    folder = tmp_path / "store"
    (folder / "m1").mkdir(parents=True)
    (folder / "m1" / "info.json").write_text(json.dumps({
        "name": "digits net", "network": "lenet", "image dimensions": [28, 28, 1], "classes": 10,
        "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
        "sizes": {"model.pt": 1_700_000}}))
    (folder / "master.json").write_text(json.dumps({"msg": "the lab's models", "children": ["m1"]}))
    mirror = Mirror(folder)
    try:
        server = server_factory(DIGITSX_DATA_ROOTS=str(tmp_path),
                                DIGITSX_MODEL_STORES=f"{mirror.url},http://127.0.0.1:9/")
        login(page, server)
        page.goto(server.url + "/pretrained_models/upload")
        page.click("#from-store")
        page.wait_for_url("**/store")
        row = page.locator("tr[data-model]", has_text="digits net")
        assert "lenet" in row.inner_text() and "28×28×1" in row.inner_text() and "10" in row.inner_text()
        assert page.locator(".store-error", has_text="did not answer").count() == 1
        assert page.locator("text=the lab's models").count() == 1
        assert page.js_errors == []
    finally:
        mirror.close()


def test_an_imported_models_card_fills_in_when_its_import_ends(server_factory, page, tmp_path):
    """A model imported from a store: its page, opened while the import runs, shows the
    network, input and classes as soon as the job is Done, without a reload (issue 34 saw
    "Network network.py · Input (blank) · Classes 0" until one). The store is a loopback copy of
    a model published by a real server, slow to send its weights so the page opens first."""
    from tests.browser.test_layout_ui import trained
    from tests.conftest import Server, wait_for
    from tests.models.weights_server import Mirror

    first, s, _, _, model = trained(server_factory, tmp_path, "digits")
    made = s.post(f"{first.url}/models/{model}/to_pretrained", data={}).json()["id"]
    wait_for(lambda: s.get(f"{first.url}/models/{made}/status").json()["status"] == "Done", 120)
    assert s.post(f"{first.url}/pretrained_models/{made}/publish", data={"published": 1}).ok
    folder = tmp_path / "slow-store" / "m1"
    folder.mkdir(parents=True)
    info = s.get(f"{first.url}/store/{made}/info.json").json()
    (folder / "info.json").write_text(json.dumps(info))
    for key, name in info.items():  # every file it names (weights, labels, mean…)
        if key.endswith(" file") and isinstance(name, str):
            answer = s.get(f"{first.url}/store/{made}/{name}")
            assert answer.ok, (key, name, answer.status_code)
            (folder / name).write_bytes(answer.content)
    (folder.parent / "master.json").write_text(json.dumps({"msg": "a slow store", "children": ["m1"]}))
    mirror = Mirror(folder.parent, delays={".pt": 4})
    (tmp_path / "jobs2").mkdir()
    second = Server(tmp_path / "jobs2", DIGITSX_MODEL_STORES=mirror.url + "/")
    try:
        second.start()
        b = api_session(second)
        [listed] = b.get(second.url + "/store/models.json").json()[mirror.url + "/"]["model_list"]
        job = b.post(f"{second.url}/store/push?id={listed['id']}").json()["id"]
        login(page, second)
        page.goto(f"{second.url}/models/{job}")
        page.evaluate("window.notReloaded = true")
        assert page.inner_text("#job-status") != "Done"  # the weights are still on their way
        page.wait_for_function("['Done', 'Error'].includes(document.getElementById('job-status').innerText)",
                               timeout=60000)
        assert page.inner_text("#job-status") == "Done", page.inner_text("#job-error")
        page.wait_for_function("(window.dxRefreshedWhenDone || 0) >= 1", timeout=10000)
        card = page.inner_text("#pretrained-card")
        assert "lenet" in card and "28×28, grayscale" in card and "10: " in card, card
        assert page.evaluate("window.notReloaded === true")
        shot(page, "imported-model-card-filled-in")
        assert page.js_errors == []
    finally:
        second.stop()
        mirror.close()


def test_getting_started_makes_the_three_demo_datasets(server_factory, page, tmp_path):
    from tests.conftest import api_session, wait_for

    server = server_factory(DIGITSX_DATA_ROOTS=str(tmp_path))
    login(page, server)
    page.goto(server.url + "/")
    page.click("#make-demo-datasets")
    # (the card hides itself once jobs exist: the new datasets show in the list below)
    page.wait_for_function("document.getElementById('demo-status').textContent.includes('Three datasets are building')",
                           timeout=180000)
    s = api_session(server)

    def datasets():
        return [j for j in s.get(server.url + "/index.json").json()["datasets"]]

    wait_for(lambda: len(datasets()) == 3 and all(j["status"] == "Done" for j in datasets()), 300, 1,
             "the three demo datasets")
    assert {j["name"] for j in datasets()} == {"MNIST digits (demo)", "Aerial trees (demo)", "Shapes (demo)"}
    assert page.js_errors == []
