"""The object-detection pages in a real browser: the new-dataset form, the dataset page, the
model page's mAP graph and per-class AP, and the box view, whose confidence slider and class
filter redraw without a request."""
from __future__ import annotations

import os
import re

import pytest

from tests.browser.shots import shot
from tests.browser.test_home_live import login
from tests.conftest import api_session
from tests.detection.conftest import shapes_fields, train

pytestmark = [pytest.mark.browser, pytest.mark.server]
SHOTS = os.environ.get("DIGITSX_SCREENSHOTS")


def test_dataset_form_model_page_and_box_view(server_factory, page, tmp_path):
    from digitsx.detection.shapes import write_shapes

    data = tmp_path / "data"
    shapes = write_shapes(data / "shapes", train=24, val=8, width=128, height=128, sizes=(28, 56))
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    server.session = api_session(server)
    login(page, server)
    page.click("#new-dataset-images-object-detection")
    page.wait_for_url("**/datasets/images/object-detection/new")
    page.select_option("#label_format", "coco")
    assert page.locator("#train_label_folder").is_hidden() and page.locator("#train_label_file").is_visible()
    fields = shapes_fields(shapes, "coco")
    for name in ("train_image_folder", "train_label_file", "val_image_folder", "val_label_file",
                 "padding_image_width", "padding_image_height", "val_min_box_size"):
        page.fill(f"#{name}", fields[name])
    page.fill("#dataset_name", "browser shapes")
    page.fill("#train_label_file", str(data / "missing.json"))
    page.click("#create")  # an error appears beside its field, the page stays
    page.locator('.field-error[data-for="train_label_file"]', has_text="does not exist").wait_for()
    page.fill("#train_label_file", fields["train_label_file"])
    page.click("#create")
    page.wait_for_url("**/datasets/2*")
    page.locator("#job-status", has_text="Done").wait_for(timeout=60000)
    page.locator("#class-counts td", has_text="triangle").wait_for()
    dataset_id = page.url.rstrip("/").split("/")[-1]
    page.click("#explore-link")
    page.wait_for_function("document.querySelectorAll('#explore-gallery canvas').length > 0 && "
                           "document.querySelector('#explore-gallery canvas').width > 0")

    model = train(server, dataset_id, train_epochs="1")
    assert model["status"] == "Done", model
    page.goto(f"{server.url}/models/{model['id']}")
    page.wait_for_function("(window.dxChartSeries || []).includes('map 50 % (val)')", timeout=20000)
    # every series its own colour, the legend in two groups; a click hides a series
    colours = page.evaluate("Chart.getChart('train-chart').data.datasets.map(d => d.borderColor)")
    assert len(colours) >= 10 and len(set(colours)) == len(colours), colours
    groups = page.locator("#train-legend .legend-group strong").all_inner_texts()
    assert groups == ["Losses", "Quality"]
    shot(page, "detection-model-graph")
    assert "loss (train)" in page.inner_text("#train-legend .legend-group:first-child")
    assert "map 50 % (val)" in page.inner_text("#train-legend .legend-group:last-child")
    page.locator("#train-legend .legend-item", has_text="map 50 % (val)").click()
    assert page.evaluate("Chart.getChart('train-chart').data.datasets.find(d => d.label === 'map 50 % (val)').hidden")
    assert page.locator("#train-legend .legend-item.off").count() == 1
    page.locator("#per-class-ap td", has_text="circle").wait_for()
    page.fill("#test-card input[name=image_path]", str(shapes / "images" / "val" / "0000.png"))
    page.click("#infer-one")  # checked over JSON first, then the result page (at the model's URL)
    page.wait_for_selector("#boxes-canvas[data-drawn]", timeout=60000)
    assert page.url == f"{server.url}/models/{model['id']}"  # a reload does not post again
    requests_after: list[str] = []
    page.on("request", lambda r: requests_after.append(r.url))
    page.fill("#confidence", "0.05")
    page.dispatch_event("#confidence", "input")
    everything = int(page.get_attribute("#boxes-canvas", "data-drawn"))
    assert everything > 0
    page.fill("#confidence", "1")
    page.dispatch_event("#confidence", "input")
    assert page.get_attribute("#boxes-canvas", "data-drawn") == "0"
    note = page.inner_text("#model-note")  # one epoch: the view says what the empty picture means
    assert note.startswith("The model finds nothing above the threshold (1.00) yet; it has trained 1 epoch"), note
    assert page.locator("#found").inner_text() == "Found 0 bounding boxes"
    shot(page, "detection-view-finds-nothing")
    assert page.inner_text("#detections tbody") == \
        f"none at confidence ≥ 1.00 (the model found {everything} above 0.05: lower the slider)"
    # a small image is drawn larger (crisp boxes), within the card
    natural, drawn = page.evaluate("[document.getElementById('boxes-image').naturalWidth, "
                                   "document.getElementById('boxes-canvas').width]")
    assert drawn == min(4 * natural, 900), (natural, drawn)
    page.fill("#confidence", "0.05")
    page.dispatch_event("#confidence", "input")
    option = page.locator("#class-filter option").nth(1)
    page.select_option("#class-filter", option.get_attribute("value"))
    one_class = int(page.get_attribute("#boxes-canvas", "data-drawn"))
    assert 0 < one_class <= everything
    page.fill("#line-width", "4")
    page.dispatch_event("#line-width", "input")
    assert page.evaluate("JSON.parse(localStorage.getItem('dx.boxes.settings')).lineWidth") == 4
    assert requests_after == []  # all of it in the browser
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "detection-view.png"), full_page=True)
    for path in (f"/datasets/{dataset_id}", f"/models/{model['id']}", f"/datasets/{dataset_id}/detection/explore"):
        page.set_viewport_size({"width": 420, "height": 900})  # the task's pages fit a phone too
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, path
    page.goto(server.url + "/models/images/object-detection/new")  # the picker says what the chosen dataset holds
    assert re.fullmatch(r"\d+ train / \d+ val images · \d+ classes · \d+×\d+ colour",
                        page.inner_text("#dataset-summary")), page.inner_text("#dataset-summary")
    assert page.js_errors == []
