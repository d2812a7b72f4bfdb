"""Create a model from the form in a real browser and watch its graph grow."""
from __future__ import annotations

import os

import pytest

from digitsx.classification.demo import write_mnist_folder
from tests.browser.test_home_live import login
from tests.conftest import api_session, built_dataset, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server]
SHOTS = os.environ.get("DIGITSX_SCREENSHOTS")


def test_model_form_and_live_graph(server_factory, page, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=40)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    built_dataset(api_session(server), server, data / "digits")  # the form lists it
    login(page, server)
    page.click("button[data-tab=models]")  # the Models tab offers the new-model buttons
    page.click("#new-model-images-classification")
    page.wait_for_url("**/models/images/classification/new")
    page.wait_for_function("document.querySelector('#lr-chart').height > 0")
    page.click("#visualize")
    page.locator("#layers td", has_text="Conv2d").first.wait_for(timeout=30000)
    page.fill("#model_name", "browser lenet")
    page.fill("#train_epochs", "20")
    page.fill("#learning_rate", "0.05")
    page.fill("#random_seed", "1")
    page.click("#create")
    page.wait_for_url("**/models/2*")
    page.locator("#job-status", has_text="Running").wait_for(timeout=30000)
    page.wait_for_function("(window.dxChartPoints || 0) >= 3", timeout=60000)
    page.locator("#train-chart").scroll_into_view_if_needed()
    box = page.locator("#train-chart").bounding_box()  # zoom in by dragging across the graph
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.up()
    zoomed = page.evaluate("Chart.getChart('train-chart').options.scales.x.max")
    assert zoomed is not None
    early = page.evaluate("window.dxChartPoints")
    page.wait_for_function(f"window.dxChartPoints > {early}", timeout=60000)  # it grows live
    assert page.evaluate("Chart.getChart('train-chart').options.scales.x.max") == zoomed  # kept
    page.locator("#job-status", has_text="Done").wait_for(timeout=120000)
    page.locator("#validation-card table#per-class td").first.wait_for(timeout=10000)
    # The series come from the metric names the job reports (a task's own get graphs too).
    page.wait_for_function("(window.dxChartSeries || []).includes('loss (val)')", timeout=10000)
    assert {"loss (train)", "loss (val)", "accuracy % (train)", "accuracy % (val)",
            "accuracy top5 % (val)"} <= set(page.evaluate("window.dxChartSeries"))
    assert page.locator("#confusion tr").count() == 11
    assert page.locator("#snapshots li").count() == 20
    assert page.locator("#snapshots li", has_text="best accuracy").count() == 1  # the best epoch marked
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "model-done.png"), full_page=True)
    assert page.js_errors == []


def test_classify_one_with_visualizations(server_factory, page, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=20)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    s = api_session(server)
    ds = {"id": built_dataset(s, server, data / "digits")}
    model = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "lenet", "dataset": ds["id"], "train_epochs": 2}).json()
    wait_for(lambda: s.get(f"{server.url}/models/{model['id']}/status").json()["status"] == "Done", 120)
    login(page, server)
    page.goto(f"{server.url}/models/{model['id']}")
    page.set_input_files("#test-card input[name=image_file]", str(next((data / "digits" / "four").glob("*.png"))))
    page.check("#test-card input[name=show_visualizations]")
    with page.expect_navigation():
        page.click("#classify-one")
    assert page.title() == "Classify one · lenet · digitsx"
    assert page.locator("#visualizations").count() == 1  # once, in the page body
    assert page.locator("#predictions tbody tr").count() == 5
    rows = page.locator("#visualizations tr.viz-layer")
    assert rows.count() == 8  # LeNet's leaf layers, conv to the last linear
    assert "431,080 parameters" in page.inner_text("#visualizations h2")
    assert page.locator("#visualizations tr.viz-layer", has_text="features.0").locator("img").count() == 2
    page.wait_for_function("[...document.querySelectorAll('#visualizations img')].every(i => i.complete && i.naturalWidth > 0)")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "classify-one.png"), full_page=True)
    assert page.js_errors == []
    # Classify many from the model page: a list with labels becomes a job whose report opens.
    labels = s.get(f"{server.url}/files/{ds['id']}/labels.txt").text.splitlines()
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{p.parent.name}/{p.name} {labels.index(p.parent.name)}\n"
                               for p in sorted((data / "digits").rglob("*.png"))))
    page.goto(f"{server.url}/models/{model['id']}")
    page.set_input_files("#classify-many-form input[name=image_list]", str(listing))
    page.fill("#classify-many-form input[name=image_folder]", str(data / "digits"))
    with page.expect_navigation():
        page.click("#classify-many")
    page.locator("#job-status", has_text="Done").wait_for(timeout=120000)
    page.locator("#accuracy-card:not([hidden]) #test-confusion a.cell").first.wait_for(timeout=20000)
    assert page.locator("#test-per-class tbody tr").count() == 10
    assert "200 images" in page.inner_text("#images-filter")
    assert page.locator("#images-table tbody tr").count() == 25
    cell = page.locator("#test-confusion a.cell").first
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_function("document.querySelector('#images-filter').textContent.includes('most confident first')")
    assert page.locator("#images-table tbody tr").count() == min(count, 25)
    assert f"— {count} images" in page.inner_text("#images-filter")
    assert page.locator("#top-n-grid .gallery").count() == 10
    page.wait_for_function("[...document.querySelectorAll('#images-table img')].every(i => i.complete && i.naturalWidth > 0)")
    assert page.get_attribute("#results-csv", "href").endswith("/results.csv")
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "classify-many.png"), full_page=True)
    # Testing the validation split from the model page.
    page.goto(f"{server.url}/models/{model['id']}")
    with page.expect_navigation():
        page.click("#test-split")
    page.locator("#job-status", has_text="Done").wait_for(timeout=120000)
    page.locator("#report-facts dd[data-fact='Top-1 accuracy']").wait_for(timeout=20000)
    assert page.js_errors == []
