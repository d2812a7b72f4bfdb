"""A new user's first hour, in a real browser (issue 34): a login prompt on every page in
open mode, the demo button's answer in the page's words, the dataset form's tree checked at
submit time, in place."""
from __future__ import annotations

import pytest

from tests.browser.shots import shot

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_open_mode_prompts_for_a_name_and_the_demo_button_says_where(server_factory, page):
    server = server_factory()
    page.goto(server.url + "/")
    prompt = page.locator("#login-prompt")
    assert prompt.is_visible() and "Pick a name to start" in prompt.inner_text()
    assert page.input_value("#prompt-username")  # a name is offered
    page.click("#make-demo-datasets")
    page.locator("#demo-status", has_text="Log in first").wait_for()
    assert "POST /login" not in page.inner_text("#demo-status")
    shot(page, "open-mode-login-prompt")
    page.fill("#prompt-username", "newcomer")
    page.click("#prompt-login")
    page.wait_for_url(server.url + "/")
    assert page.inner_text("#nav-account") == "newcomer"
    assert page.locator("#login-prompt").count() == 0
    page.goto(server.url + "/models/images/classification/new")  # next= brings you back
    assert page.locator("#login-prompt").count() == 0
    page.goto(server.url + "/")
    page.click("#logout-form button")
    page.goto(server.url + "/datasets/images/classification/new")
    page.fill("#prompt-username", "second")
    page.click("#prompt-login")
    page.wait_for_url("**/datasets/images/classification/new")
    assert page.js_errors == []


def test_a_one_class_folder_is_refused_in_place_before_any_job(server_factory, page, tmp_path):
    from PIL import Image

    from tests.browser.test_home_live import api, login

    data = tmp_path / "data"
    (data / "photos" / "cats").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(data / "photos" / "cats" / f"{i}.jpg")
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    login(page, server)
    page.goto(server.url + "/datasets/images/classification/new")
    page.fill("#folder_train", str(data / "photos"))
    page.fill("#dataset_name", "my photos")
    page.click("#create")
    page.locator(".field-error[data-for=folder_train]", has_text="at least 2 classes are needed").wait_for()
    assert "only cats has" in page.inner_text(".field-error[data-for=folder_train]")
    shot(page, "dataset-form-one-class")
    assert page.url.endswith("/datasets/images/classification/new")
    assert api(server).get(server.url + "/index.json").json()["datasets"] == []


def test_weights_not_in_the_cache_are_said_before_create_and_the_error_links_to_the_system_page(
        server_factory, page, tmp_path):
    from digitsx.classification.demo import write_mnist_folder
    from tests.browser.test_home_live import api, login
    from tests.conftest import built_dataset, wait_for

    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=6)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data), DIGITSX_WEIGHTS_MIRROR="http://127.0.0.1:9/",
                            DIGITSX_WEIGHTS_DIR=str(tmp_path / "weights"))
    login(page, server)
    page.goto(server.url + "/models/images/classification/new")
    page.check("#net-resnet18")
    assert page.locator("#weights-not-cached").is_hidden()
    page.select_option("#weights", "ResNet18_Weights.IMAGENET1K_V1")
    warning = page.locator("#weights-not-cached")
    assert warning.is_visible()
    text = warning.inner_text()
    assert "resnet18-f37072fd.pth" in text and "not in this server's weights cache" in text
    assert str(tmp_path / "weights") in text and page.locator("#weights-not-cached a[href='/system#weights']").count() == 1
    shot(page, "model-form-weights-not-cached")
    page.select_option("#weights", "")
    assert warning.is_hidden()

    s = api(server)
    ds = built_dataset(s, server, data / "digits", size=32, folder_pct_val=20)
    job = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "offline", "dataset": ds, "standard_networks": "resnet18",
        "weights": "ResNet18_Weights.IMAGENET1K_V1", "train_epochs": 1}).json()
    wait_for(lambda: s.get(f"{server.url}/models/{job['id']}/status").json()["status"] == "Error", 60, 0.3)
    error = s.get(f"{server.url}/jobs/{job['id']}.json").json()["error"]
    assert "could not download resnet18-f37072fd.pth" in error and "Without internet access" in error
    page.goto(f"{server.url}/models/{job['id']}")
    link = page.locator("#job-error a.error-link[href='/system#weights']")
    link.wait_for()
    # the timeline's note (the same long message, a path and a URL in it) wraps inside its card
    page.locator("#timeline td", has_text="could not download").wait_for()
    assert page.evaluate("(() => { const t = document.getElementById('timeline');"
                         " return t.getBoundingClientRect().right <= t.closest('.card').getBoundingClientRect().right; })()")
    shot(page, "model-page-offline-weights-error")
    link.click()
    page.wait_for_url("**/system#weights")
    assert page.js_errors == []


def test_the_model_form_shows_the_real_size_and_suggests_a_network_for_photos(server_factory, page, tmp_path):
    """LeNet on 256×256 colour photos is 93 million parameters: the form says so, suggests a
    small ImageNet network (with its weights, which are in the cache here), and estimates the
    snapshots against the disk budget; a digits dataset keeps LeNet."""
    import hashlib

    from PIL import Image

    from digitsx.classification.demo import write_mnist_folder
    from digitsx.engine import weights_cache
    from digitsx.models import published
    from tests.browser.test_home_live import api, login
    from tests.conftest import built_dataset

    data = tmp_path / "data"
    for k, name in enumerate(("cats", "dogs", "owls")):
        (data / "photos" / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (300, 260), (40 * k, 20 * i, 90)).save(data / "photos" / name / f"{i}.jpg")
    write_mnist_folder(data / "digits", per_class=4)
    weights = tmp_path / "weights"
    entry = published.weights()["MobileNet_V3_Small_Weights.IMAGENET1K_V1"]
    cache = weights_cache.folder(weights)
    cache.mkdir(parents=True)
    (cache / entry["file"]).write_bytes(b"stand-in weights")  # recorded as checked: the form lists it as cached
    weights_cache.record(cache / entry["file"], hashlib.sha256(b"stand-in weights").hexdigest(), "test")
    server = server_factory(DIGITSX_DATA_ROOTS=str(data), DIGITSX_WEIGHTS_DIR=str(weights))
    s = api(server)
    photos = built_dataset(s, server, data / "photos", size=256, channels=3, folder_pct_val=25)
    digits = built_dataset(s, server, data / "digits", size=28, channels=1)
    login(page, server)
    page.goto(server.url + "/models/images/classification/new")
    page.select_option("#dataset", photos)
    fit = page.locator("#network-fit")
    fit.wait_for()
    assert "93,053,573" in fit.inner_text() and "MobileNetV3 small" in fit.inner_text()
    assert page.is_checked("#net-mobilenet_v3_small")
    assert page.input_value("#weights") == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    assert page.inner_text("[data-parameters-for=lenet]") == "93.1 M"
    page.check("#net-lenet")  # the user's own choice stays, with the warning
    assert "lenet for this dataset: 93,053,573 parameters (≈ 744 MB a snapshot)" in fit.inner_text()
    assert "warning-box" in fit.get_attribute("class")
    shot(page, "model-form-real-size")
    estimate = page.inner_text("#snapshot-estimate")
    assert "744 MB a snapshot, 30 snapshots" in estimate and "2,048 MB budget keeps about 2" in estimate
    page.select_option("#dataset", digits)
    assert page.is_checked("#net-lenet") and page.inner_text("[data-parameters-for=lenet]") == "431,080"
    assert "LeNet suits them" in fit.inner_text()
    assert page.js_errors == []


def test_mistakes_on_the_system_and_model_pages_are_shown_in_place(server_factory, page, tmp_path):
    """A wrong weights file on the System page: the reason in the import form, the page kept.
    "Make pretrained model" shows only with a snapshot, and lands on the pretrained model."""
    from tests.browser.test_home_live import login
    from tests.browser.test_layout_ui import trained

    server, s, data, dataset, model = trained(server_factory, tmp_path, "m")
    login(page, server)
    page.goto(server.url + "/system#weights")
    page.select_option("#weights-import select[name=weights]", "ResNet18_Weights.IMAGENET1K_V1")
    wrong = tmp_path / "resnet18-f37072fd.pth"
    wrong.write_bytes(b"not the published weights" * 100)
    page.set_input_files("#weights-import input[name=file]", str(wrong))
    page.click("#weights-import button[type=submit]")
    error = page.locator("#weights-import .inline-error")
    error.wait_for()
    assert "resnet18-f37072fd.pth" in error.inner_text() and "Back to the home page" not in page.content()
    assert page.url.endswith("/system#weights")
    shot(page, "system-page-wrong-weights-file")
    # a model without a snapshot has no "Make pretrained model"; one with a snapshot lands on it
    empty = s.post(server.url + "/test/jobs.json", data={"kind": "test.train", "name": "no snapshots", "steps": 1}).json()
    page.goto(f"{server.url}/models/{empty['id']}")
    page.wait_for_load_state("load")
    assert page.locator("#make-pretrained").count() == 0 or page.locator("#make-pretrained").is_hidden()
    page.goto(f"{server.url}/models/{model}")
    page.select_option("#test-split-form select[name=split]", "test")  # the dataset has no test split
    page.click("#test-split")
    page.locator("#test-split-form .inline-error", has_text="the dataset has no test images").wait_for()
    shot(page, "model-page-test-split-error")
    assert page.url == f"{server.url}/models/{model}"
    page.locator("#make-pretrained").click()
    page.wait_for_url(lambda url: "/models/" in url and model not in url)
    page.wait_for_load_state("load")
    page.locator("#related", has_text="Made from: m").wait_for()  # the pretrained model just made
    shot(page, "pretrained-model-landed-on")
    assert page.js_errors == []


def test_the_user_guide_and_troubleshooting_are_linked_from_the_home_page(server_factory, page):
    from tests.browser.test_home_live import login

    server = server_factory()
    login(page, server)
    page.click("#user-guide-link")
    page.wait_for_url("**/docs/user-guide")
    assert page.locator("#guide h1").inner_text() == "A first model from your own photos"
    assert page.locator("#guide h2", has_text="Put the photos on the server").count() == 1
    assert page.locator("#guide pre").count() >= 1  # the folder layout, as code
    shot(page, "user-guide")
    page.click("footer a:has-text('Troubleshooting')")
    page.wait_for_url("**/docs/troubleshooting")
    assert "could not download" in page.inner_text("#guide")
    assert page.goto(server.url + "/docs/../../etc/passwd").status == 404
    assert page.goto(server.url + "/docs/nothing").status == 404
    assert page.js_errors == []
