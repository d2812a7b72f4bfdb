"""Create a dataset from the form in a real browser; see progress, the chart and the gallery."""
from __future__ import annotations

import os

import pytest

from digitsx.classification.demo import write_mnist_folder
from tests.browser.test_home_live import login

pytestmark = [pytest.mark.browser, pytest.mark.server]
SHOTS = os.environ.get("DIGITSX_SCREENSHOTS")


def test_create_dataset_from_the_form(server_factory, page, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=60)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    login(page, server)
    page.click("#new-dataset-images-classification")
    page.wait_for_url("**/datasets/images/classification/new")
    # The live resize preview follows the chosen mode.
    page.locator("#preview-caption", has_text="squash to 256×256").wait_for(timeout=10000)
    page.select_option("#resize_mode", "half_crop")
    page.fill("#resize_width", "28")
    page.locator("#preview-caption", has_text="half_crop to 28×256").wait_for(timeout=10000)
    page.fill("#resize_height", "28")
    page.select_option("#resize_channels", "1")
    page.select_option("#resize_mode", "squash")
    # A wrong folder gets its message beside the field, and nothing is created.
    page.fill("#folder_train", "/etc")
    page.fill("#dataset_name", "browser digits")
    page.click("#create")
    page.locator(".field-error[data-for=folder_train]", has_text="outside the allowed data roots").wait_for()
    page.fill("#folder_train", str(data / "digits"))
    page.click("#create")
    page.wait_for_url("**/datasets/2*")
    page.locator("#job-status", has_text="Done").wait_for(timeout=60000)
    page.locator("#distribution .bar-row").first.wait_for(timeout=10000)
    assert page.locator("#distribution .bar-row").count() == 10
    page.locator("#mean-image[src$='mean.png']").wait_for(timeout=10000)
    assert "450" in page.inner_text("#dataset-facts")  # train images: 10 × 45
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "dataset-done.png"), full_page=True)
    page.click("#explore-link")
    page.locator("#gallery figure").first.wait_for(timeout=10000)
    assert page.locator("#gallery figure").count() == 25
    with page.expect_navigation():
        page.select_option("select[name=label]", label="seven")
    captions = page.locator("#gallery figcaption").all_inner_texts()
    assert captions and set(captions) == {"seven"}
    with page.expect_navigation():
        page.select_option("select[name=size]", "10")
    assert page.locator("#gallery figure").count() == 10
    page.wait_for_function(  # every stored image decodes at the dataset's size
        "[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth === 28)",
        timeout=15000)
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "explore.png"), full_page=True)
    assert page.js_errors == []
