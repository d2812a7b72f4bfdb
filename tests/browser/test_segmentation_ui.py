"""The segmentation pages in a real browser: the dataset form and page, the model page's mIoU
graph, and the overlay view, whose opacity and hover work without a request."""
from __future__ import annotations

import re

import pytest

from tests.browser.shots import shot
from tests.browser.test_home_live import login
from tests.conftest import api_session
from tests.segmentation.conftest import fields, train

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_dataset_form_model_page_and_overlay_view(server_factory, page, tmp_path):
    from digitsx.segmentation.shapes import write_shapes

    data = tmp_path / "data"
    shapes = write_shapes(data / "seg", train=16, val=4, width=96, height=96)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    server.session = api_session(server)
    login(page, server)
    page.click("#new-dataset-images-segmentation")
    page.wait_for_url("**/datasets/images/segmentation/new")
    values = fields(shapes, "textfile")
    for name in ("feature_folder", "label_folder", "validation_feature_folder", "validation_label_folder",
                 "class_labels_file", "colormap_text_file"):
        page.fill(f"#{name}", values[name])
    page.check("#has_val_folder")
    page.select_option("#colormap_method", "textfile")
    page.fill("#dataset_name", "browser seg")
    page.click("#create")
    page.wait_for_url("**/datasets/2*")
    page.locator("#job-status", has_text="Done").wait_for(timeout=60000)
    page.locator("#class-shares td", has_text="triangle").wait_for()
    dataset_id = page.url.rstrip("/").split("/")[-1]
    chip = page.locator('#class-shares tr[data-class="1"] .key')  # the class's colour, visible
    box = chip.bounding_box()
    assert box and box["width"] >= 8 and box["height"] >= 8
    assert chip.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(%d, %d, %d)" % tuple(
        server.session.get(f"{server.url}/datasets/{dataset_id}.json").json()["segmentation"]["palette"][1])
    page.click("#explore-link")
    page.wait_for_load_state("load")  # the scripts after the gallery have run
    assert page.locator("#explore-gallery img.label-layer").count() == 16
    page.fill("#label-opacity", "0.9")
    page.dispatch_event("#label-opacity", "input")
    assert page.evaluate("document.querySelector('.label-layer').style.opacity") == "0.9"
    model = train(server, dataset_id, standard_networks="unet")
    assert model["status"] == "Done", model
    page.goto(f"{server.url}/models/{model['id']}")
    page.wait_for_function("(window.dxChartSeries || []).includes('miou % (val)')", timeout=20000)
    page.locator("#per-class-iou td", has_text="circle").wait_for()
    charted = page.evaluate("Chart.getChart(document.getElementById('train-chart')).data.datasets"
                            ".find((d) => d.label === 'miou % (val)').data.map((p) => p.y)")
    reported = [p["values"]["miou"] for p in server.session.get(f"{server.url}/models/{model['id']}/metrics.json")
                .json()["metrics"] if p["phase"] == "val"]
    assert charted == pytest.approx([100 * v for v in reported])  # a fraction, drawn on the percent axis
    page.fill("#test-card input[name=image_path]", str(shapes / "images" / "val" / "0000.png"))
    page.click("#infer-one")  # checked over JSON first, then the result page (at the model's URL)
    page.wait_for_selector("#overlay-canvas[data-drawn]", timeout=60000)
    # The page got the map as a grey-palette PNG, not lists; the canvas reads every class back.
    html = page.content()
    assert "class_map_png" in html and '"class_map":' not in html
    lists = server.session.post(server.url + "/models/images/generic/infer_one.json", data={
        "job_id": model["id"], "image_path": str(shapes / "images" / "val" / "0000.png")}).json()["outputs"]["class_map"]
    drawn = sum(1 for row in lists for c in row if c != 0)  # shapes' 3 classes + background
    assert page.get_attribute("#overlay-canvas", "data-drawn") == str(drawn)
    # only background in the answer: said in words, with the epochs trained (else no note)
    only_background = all(c in (0, 255) for row in lists for c in row)
    assert page.locator("#model-note").is_visible() == only_background
    if only_background:
        assert "finds only background" in page.inner_text("#model-note") and "trained 1 epoch" in page.inner_text("#model-note")
        shot(page, "segmentation-view-only-background")
    import base64
    import io

    import numpy as np
    from PIL import Image

    every = (np.arange(256 * 3) % 256).astype(np.uint8).reshape(24, 32)  # each value 0–255, 3 times
    png = Image.frombytes("P", (32, 24), every.tobytes())
    png.putpalette([c for i in range(256) for c in (i, i, i)])
    buf = io.BytesIO()
    png.save(buf, format="PNG")
    read = page.evaluate("b64 => new Promise(done => dx.readClassMap(b64, (m, w, h) => done([Array.from(m), w, h])))",
                         base64.b64encode(buf.getvalue()).decode())
    assert read == [every.ravel().tolist(), 32, 24]  # exact: no colour management, no smoothing
    requests_after: list[str] = []
    page.on("request", lambda r: requests_after.append(r.url))
    page.fill("#opacity", "0.8")
    page.dispatch_event("#opacity", "input")
    assert page.get_attribute("#overlay-canvas", "data-opacity") == "0.8"
    assert page.evaluate("JSON.parse(localStorage.getItem('dx.overlay.settings')).opacity") == 0.8
    box = page.locator("#overlay-canvas").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.wait_for_function("document.querySelector('#hovered').textContent.includes('(class ')")
    assert requests_after == []  # all of it in the browser
    # The note, both ways, whatever this 1-epoch model happens to answer: the answer's map is
    # swapped on its way to the browser for one of only background, then one with a shape
    for fill, note_shown in ((0, True), (1, False)):
        def swap(route, _request, fill=fill):
            res = route.fetch()
            html = res.text()
            b64 = re.search(r'"class_map_png": ?"([^"]+)"', html).group(1)
            size = Image.open(io.BytesIO(base64.b64decode(b64))).size
            swapped = Image.new("P", size, 0)
            swapped.putpalette([c for i in range(256) for c in (i, i, i)])
            if fill:
                swapped.paste(fill, (0, 0, size[0] // 2, size[1] // 2))
            out = io.BytesIO()
            swapped.save(out, format="PNG")
            route.fulfill(response=res, body=html.replace(b64, base64.b64encode(out.getvalue()).decode()))
        page.route(lambda url: "infer_one" in url and ".json" not in url, swap)
        page.goto(f"{server.url}/models/{model['id']}")
        page.fill("#test-card input[name=image_path]", str(shapes / "images" / "val" / "0000.png"))
        page.click("#infer-one")
        page.wait_for_selector("#overlay-canvas[data-drawn]", timeout=60000)
        assert (page.get_attribute("#overlay-canvas", "data-drawn") == "0") == note_shown
        assert page.locator("#model-note").is_visible() == note_shown
        if note_shown:
            assert "finds only background" in page.inner_text("#model-note")
            shot(page, "segmentation-view-only-background")
            assert "trained 1 epoch" in page.inner_text("#model-note")
        else:
            assert page.locator("#overlay-legend .legend-item").count() == 1
        page.unroute_all()
    for path in (f"/datasets/{dataset_id}", f"/models/{model['id']}", f"/datasets/{dataset_id}/segmentation/explore"):
        page.set_viewport_size({"width": 420, "height": 900})  # the task's pages fit a phone too
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, path
    page.goto(server.url + "/models/images/segmentation/new")  # the picker says what the chosen dataset holds
    assert re.fullmatch(r"\d+ train / \d+ val images · \d+ classes · \d+×\d+ colour",
                        page.inner_text("#dataset-summary")), page.inner_text("#dataset-summary")
    assert page.js_errors == []
