"""Every page at a phone's width and a desktop's, light and dark: nothing wider than the window,
screenshots kept for review; in-page dialogs and errors where the user is; the system page."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from digitsx.classification.demo import write_mnist_folder
from tests.browser.test_home_live import login
from tests.conftest import api_session, built_dataset, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.server]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("DIGITSX_SCREENSHOTS") or ROOT / "test-screenshots")
WIDTHS = (420, 1366)
DARK_BG = "rgb(18, 22, 29)"


def trained(server_factory, tmp_path, name: str, per_class: int = 4, **dataset_fields):
    """A server over MNIST digits with a dataset and a one-epoch model named ``name``:
    ``(server, session, data folder, dataset id, model id)``."""
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=per_class)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    s = api_session(server)
    dataset = built_dataset(s, server, data / "digits", **dataset_fields)
    model = s.post(server.url + "/models/images/classification.json", data={
        "model_name": name, "dataset": dataset, "train_epochs": 1, "random_seed": 1}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/models/{model}/status").json()["status"] == "Done", 120)
    return server, s, data, dataset, model


def overflow(page) -> int:
    """How many pixels the page is wider than the window (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_every_page_fits_from_phone_to_desktop_in_light_and_dark(server_factory, browser, tmp_path):
    data = tmp_path / "data"
    write_mnist_folder(data / "digits", per_class=8)
    server = server_factory(DIGITSX_DATA_ROOTS=str(data))
    s = api_session(server)
    # an empty home page welcomes a new user
    context = browser.new_context(viewport={"width": 420, "height": 800})
    page = context.new_page()
    login(page, server)
    assert page.locator("#getting-started").is_visible()
    assert "digitsx demo-data" in page.inner_text("#getting-started")
    context.close()
    dataset = built_dataset(s, server, data / "digits", folder_pct_val=25)
    model = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "a model with a rather long name that must wrap on a phone", "dataset": dataset,
        "train_epochs": 2, "random_seed": 1}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/models/{model}/status").json()["status"] == "Done", 120)
    pages = {"home": "/", "system": "/system", "dataset": f"/datasets/{dataset}",
             "explore": f"/datasets/images/classification/explore?job_id={dataset}&db=train", "model": f"/models/{model}",
             "new-dataset": "/datasets/images/classification/new",
             "new-model": "/models/images/classification/new",
             "new-detection-model": "/models/images/object-detection/new",
             "account": "/account"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for scheme in ("light", "dark"):
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            login(page, server)
            for name, path in pages.items():
                response = page.goto(server.url + path)
                if response.status != 200:
                    problems.append(f"{name} answered {response.status}")
                    continue
                page.wait_for_load_state("networkidle")
                if overflow(page) > 0:
                    problems.append(f"{name} at {width} px ({scheme}) is {overflow(page)} px too wide")
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                if (background == DARK_BG) != (scheme == "dark"):
                    problems.append(f"{name} ({scheme}) has background {background}")
                page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
            if width == 420:  # the training chart keeps a usable height on a phone
                page.goto(f"{server.url}/models/{model}")
                page.wait_for_function("window.Chart && Chart.getChart('train-chart')")
                height = page.evaluate("document.getElementById('train-chart').getBoundingClientRect().height")
                if height < 200:
                    problems.append(f"the training chart is {height} px tall at 420 px")
            problems += [f"{scheme} {width}: {e}" for e in errors]
            context.close()
    assert problems == []


def test_theme_toggle_is_kept_and_dialogs_and_errors_stay_in_the_page(server_factory, page, tmp_path):
    server, s, data, dataset, model = trained(server_factory, tmp_path, "uses the dataset")
    native = []
    page.on("dialog", lambda d: (native.append(d.message), d.dismiss()))
    login(page, server)
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != DARK_BG
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == DARK_BG  # kept
    # Delete a dataset a model uses: an in-page dialog, then the server's reason in words.
    row = page.locator(f"#jobs-table tr[data-id='{dataset}']")
    row.locator("input.sel").check()
    page.click("#btn-delete")
    dialog = page.locator("dialog.dx-dialog:not(#columns-dialog)")
    assert dialog.is_visible() and "Delete 1 job(s)" in dialog.inner_text()
    dialog.locator(".dialog-cancel").click()
    page.locator("dialog.dx-dialog:not(#columns-dialog)").wait_for(state="detached")  # removed on close
    assert row.count() == 1  # cancelled
    row.locator("input.sel").check()
    page.click("#btn-delete")
    page.locator("dialog.dx-dialog:not(#columns-dialog) .dialog-ok").click()
    page.locator("#action-message.error-text").wait_for(timeout=10000)
    reason = page.inner_text("#action-message")
    assert "uses the dataset" in reason or "used by" in reason, reason
    assert "BAD REQUEST" not in reason and row.count() == 1
    # Group: an in-page prompt
    page.click(".tabs button[data-tab=models]")
    # metric columns: DIGITS's "<metric> (train|val) last|min|max", chosen in an in-page dialog
    assert page.locator("#jobs-table th.metric").all_inner_texts() == ["loss (val) last"]
    loss = page.locator(f"#jobs-table tr[data-id='{model}'] td.metric").inner_text()
    assert float(loss) > 0
    page.click("#btn-columns")
    page.check("#columns-dialog input[data-key='accuracy (val)'][data-agg='max']")
    page.click("#columns-apply")
    page.wait_for_function("document.querySelectorAll('#jobs-table th.metric').length == 2")  # on close
    assert page.locator("#jobs-table th.metric").all_inner_texts() == ["loss (val) last", "accuracy (val) max"]
    accuracy = float(page.locator(f"#jobs-table tr[data-id='{model}'] td.metric").nth(1).inner_text())
    assert 0 <= accuracy <= 100
    page.reload()
    page.click(".tabs button[data-tab=models]")
    assert page.locator("#jobs-table th.metric").count() == 2  # kept in this browser
    page.locator(f"#jobs-table tr[data-id='{model}'] input.sel").check()
    page.click("#btn-group")
    page.fill("dialog.dx-dialog:not(#columns-dialog) .dialog-input", "experiments")
    page.keyboard.press("Enter")
    page.locator("#jobs-table .group-row", has_text="experiments").wait_for(timeout=10000)
    assert native == []  # no browser confirm()/prompt()
    # the system page, from the GPU badge
    page.click("#gpu-badge")
    page.wait_for_url("**/system")
    assert "torch" in page.inner_text("#system-versions")
    assert "free of" in page.inner_text("#system-host")
    assert page.locator("#about").is_visible()
    # the model form: the dataset in a line, the networks as a table with their sizes
    page.goto(server.url + "/models/images/classification/new")
    assert page.inner_text("#dataset-summary") == "30 train / 10 val images · 10 classes · 28×28 grayscale"
    lenet = page.locator("#networks tr", has=page.locator("#net-lenet"))
    assert "28×28" in lenet.inner_text() and "431,080" in lenet.inner_text()  # its real size for this grey dataset
    assert page.js_errors == []


def test_a_bad_image_in_test_one_is_an_error_beside_the_form_and_a_result_keeps_the_form_url(
        server_factory, page, tmp_path):
    server, s, data, dataset, model = trained(server_factory, tmp_path, "m")
    login(page, server)
    page.goto(f"{server.url}/models/{model}")
    assert page.locator("#test-card").is_visible()  # a snapshot exists
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    page.set_input_files("#test-card input[name=image_file]", str(text))
    page.click("#classify-one")
    error = page.locator("#test-card .form-error")
    error.wait_for(timeout=10000)
    assert error.inner_text() == ("image_file: notes.png is not a readable image "
                                  "(PNG, JPEG, BMP, GIF, TIFF or WebP)")
    assert page.url == f"{server.url}/models/{model}"  # the user stays on the page
    page.set_input_files("#test-card input[name=image_file]", str(next((data / "digits" / "four").glob("*.png"))))
    with page.expect_response(lambda r: r.url.endswith("/classify_one.json")) as check, page.expect_navigation():
        page.click("#classify-one")
    # the pre-check was answered without inference (an inferred answer carries Server-Timing):
    assert check.value.status == 200 and "server-timing" not in check.value.headers  # infers once
    page.locator("#predictions tbody tr").first.wait_for()
    assert page.url == f"{server.url}/models/{model}"  # a reload shows the model, it does not post again
    assert page.js_errors == []


def test_forms_say_login_first_and_share_the_servers_limits(server_factory, page):
    server = server_factory()
    page.goto(server.url + "/datasets/images/classification/new")
    assert "log in" in page.inner_text("#login-first")  # before the form, in the UI's words
    login(page, server)
    page.goto(server.url + "/datasets/images/classification/new")
    assert page.locator("#login-first").count() == 0
    pct = page.locator("#folder_pct_val")
    assert (pct.get_attribute("min"), pct.get_attribute("max")) == ("0", "100")  # the server's bounds
    assert page.locator("#resize_width").get_attribute("max") == "4096"
    page.fill("#dataset_name", "x")
    page.fill("#folder_train", "/nowhere/at/all")
    page.click("#create")
    page.locator('.field-error[data-for="folder_train"]').filter(has_text="nowhere").wait_for(timeout=10000)
    assert "nowhere" not in page.inner_text("#form-message")  # said once, under its field
    # only the fields that apply: the policy's parameters, HSV behind its box, no CUDA options on a CPU host
    page.goto(server.url + "/models/images/classification/new")
    assert page.locator("#lr_step_size").is_visible() and not page.locator("#lr_exp_gamma").is_visible()
    page.select_option("#lr_policy", "exp")
    assert page.locator("#lr_exp_gamma").is_visible() and not page.locator("#lr_step_size").is_visible()
    assert not page.locator("#rms_decay").is_visible()  # only for RMSprop
    page.select_option("#solver_type", "RMSPROP")
    assert page.locator("#rms_decay").is_visible()
    assert not page.locator("#aug_hsv_h").is_visible()
    page.check("#aug_hsv_use")
    assert page.locator("#aug_hsv_h").is_visible()
    for name, high in (("aug_rot", "180"), ("aug_scale", "1"), ("aug_noise", "1"), ("aug_hsv_h", "0.5"),
                       ("rms_decay", "1"), ("pretrained_lr_mult", "10")):  # numbers, with the server's limits
        field = page.locator("#" + name)
        assert (field.get_attribute("type"), field.get_attribute("min"), field.get_attribute("max")) == ("number", "0", high)
    page.fill("#aug_rot", "500")
    assert not page.eval_on_selector("#aug_rot", "e => e.checkValidity()")  # the browser refuses it
    page.fill("#aug_rot", "")
    assert page.locator("#no-gpu-hint").is_visible() and page.locator("#amp").count() == 0
    assert page.js_errors == []


def test_pretrained_page_upload_form_and_lineage(server_factory, page, tmp_path):
    server, s, data, dataset, model = trained(server_factory, tmp_path, "source model")
    pretrained = s.post(f"{server.url}/models/{model}/to_pretrained", headers={"Accept": "application/json"}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/models/{pretrained}/status").json()["status"] == "Done", 120)
    login(page, server)
    page.goto(f"{server.url}/models/{pretrained}")
    assert page.locator("#pretrained-source a").inner_text() == "source model"
    assert page.inner_text("#pretrained-input").startswith("28×28, grayscale")
    page.click("#new-from-pretrained")
    assert page.locator("#method").input_value() == "pretrained"
    assert page.locator("select[name=pretrained_networks]").input_value() == pretrained
    page.fill("#model_name", "fine-tuned")
    page.fill("#train_epochs", "1")
    page.click("#create")
    page.wait_for_url("**/models/2*")
    page.locator("#related", has_text="Pretrained from: source model (epoch 1)").wait_for(timeout=10000)
    # the first download builds the exports: the page says so, then saves the archive
    page.goto(f"{server.url}/models/{model}")
    with page.expect_download(timeout=120000) as download:
        page.click("#snapshots a[data-download] >> nth=0")
        page.locator("#snapshots .download-note", has_text="preparing the archive").wait_for(timeout=5000)
        # the job's page is drawn again meanwhile (here: Save; also a socket that reconnects):
        # the note stays
        with page.expect_response(lambda r: r.url.endswith(f"/models/{model}.json") and r.request.method == "GET"):
            page.click("#btn-save")
        page.wait_for_timeout(200)  # the answer drawn
        assert "preparing the archive" in page.locator("#snapshots .download-note >> nth=0").inner_text()
        # a new snapshot arrives meanwhile (the job still training): the list is drawn again, and
        # epoch 1's note goes with its row (else the file name below lands in a detached note)

        def newer_snapshot(route):
            answer = route.fetch()
            job = answer.json()
            route.fulfill(response=answer, json={**job, "snapshots": job["snapshots"] + [99]})
        page.route(f"**/models/{model}.json", newer_snapshot)
        with page.expect_response(lambda r: r.url.endswith(f"/models/{model}.json") and r.request.method == "GET"):
            page.click("#btn-save")
        page.locator("#snapshots li", has_text="epoch 99").wait_for(timeout=5000)
        page.unroute(f"**/models/{model}.json")
        assert page.locator("#snapshots .download-note >> nth=0").inner_text() != ""
    assert download.value.suggested_filename == f"{model}_epoch_1.tar.gz"
    page.locator("#snapshots .download-note", has_text=f"{model}_epoch_1.tar.gz").wait_for(timeout=10000)
    # the upload form: a missing archive is an error beside its field
    page.goto(server.url + "/pretrained_models/upload")
    page.click("#archive-form button[type=submit]")
    page.locator('#archive-form .field-error[data-for="archive"]', has_text="download archive").wait_for(timeout=10000)
    assert page.url.endswith("/pretrained_models/upload") and page.js_errors == []
