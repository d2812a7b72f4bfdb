"""Every curl line of the README, run as written against live servers.

The README's placeholders become this server's things: ``<dataset id>``, ``<model id>`` and
``<id>`` (a dataset or a model by the route; in the detection section a detection model),
``$HOME`` a fresh home (the default data root), ``@file`` small files made here,
``localhost:5000`` the server's address, ``epoch=30`` the model's one epoch. Each must answer
2xx. The token lines run against a second server in password mode (``host:5000``, alice's
password); a line that assigns a variable (``TOKEN=$(curl ...)``) runs with the lines that use
it. A job from published weights is created (2xx) and, with the mirror a dead loopback port,
ends offline as the troubleshooting page says: no test reaches a hub. None is skipped.
"""
from __future__ import annotations

import json
import os
import re
import sys
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitsx.classification.demo import write_mnist_folder
from tests.conftest import PASSWORD_MODE, Server, api_session, built_dataset, token_session, wait_for

pytestmark = pytest.mark.server
README = Path(__file__).resolve().parents[2] / "README.md"
# Lines whose job must be in another state first: the answer names why, and that is the test.
STATE = {("409", "resume"): "Only aborted, failed or interrupted jobs resume (status Done)",
         ("409", "abort"): "is not running (status Done)",
         ("400", "train_best.json"): "has no finished trial to train further yet"}  # just started


def readme_curls() -> list[tuple[str, str]]:
    """(section, command) for every curl command in the README's sh blocks, continuations
    joined and trailing comments dropped."""
    found, section, block, pending = [], "", False, ""
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            block = line.strip() == "```sh" and not block
            continue
        if not block:
            continue
        text = re.sub(r"\s+#\s.*$", "", line).rstrip()
        if pending:
            pending += " " + text.strip().rstrip("\\").strip()
        elif text.startswith("curl ") or "$(curl" in text:
            pending = text.rstrip("\\").strip()
        if pending and not text.endswith("\\"):
            found.append((section, pending))
            pending = ""
    return found


def section_blocks(title: str) -> list[str]:
    """The ``sh`` blocks of one README section, as written."""
    blocks, section, block = [], "", None
    for line in README.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            if block is not None:
                blocks.append("\n".join(block))
                block = None
            elif line.strip() == "```sh" and section == title:
                block = []
            continue
        if block is not None:
            block.append(line)
    return blocks


def test_the_first_model_tour_runs_verbatim_in_order(server_factory, tmp_path):
    """"Your first model, start to finish" on a fresh install: the shell block (the digitsx
    command) and the REST block, run by bash as written (set -e), in order. Only the server's
    address differs (this test's port) and HOME (a fresh one, the default data root)."""
    home = tmp_path / "home"
    home.mkdir()
    server = server_factory(HOME=str(home), DIGITSX_DATA_ROOTS=str(home))
    work = tmp_path / "here"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix))  # .venv/bin/digitsx, as in the checkout
    env = {**os.environ, "HOME": str(home), "DIGITSX_SERVER": server.url, "DIGITSX_JOBS_DIR": str(server.jobs_dir)}
    shell, rest = section_blocks("Your first model, start to finish")
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], cwd=work, env=env, capture_output=True,
                         text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "100%  Done" in ran.stdout and "best: epoch" in ran.stdout and "epoch 3  val" in ran.stdout, ran.stdout
    assert len([line for line in ran.stdout.splitlines() if line.endswith("%")]) >= 50  # one per seven
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", rest.replace("http://localhost:5000", server.url)],
                         cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert '"predictions"' in ran.stdout, ran.stdout[-2000:]
    archives = list(work.glob("*.tar.gz"))
    assert len(archives) == 1 and archives[0].stat().st_size > 10000


def test_every_readme_curl_line_works_as_written(server_factory, tmp_path):
    home = tmp_path / "home"
    data = home / "digitsx-data"
    write_mnist_folder(data / "mnist", per_class=6)
    (data / "digits").symlink_to(data / "mnist")
    rng = np.random.default_rng(0)
    for name in ("roses", "tulips"):
        (data / "flowers" / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (80, 100, 3), dtype=np.uint8)).save(
                data / "flowers" / name / f"{i}.jpg")
    server = server_factory(DIGITSX_DATA_ROOTS=str(home), DIGITSX_WEIGHTS_MIRROR="http://127.0.0.1:9/")
    s = api_session(server)
    dataset = built_dataset(s, server, data / "mnist", folder_pct_val=25)
    model = s.post(server.url + "/models/images/classification.json", data={
        "model_name": "readme", "dataset": dataset, "train_epochs": 1}).json()["id"]
    wait_for(lambda: s.get(f"{server.url}/models/{model}/status").json()["status"] == "Done", 120)
    spare = built_dataset(s, server, data / "flowers", size=32, channels=3)  # for abort / delete
    detector = detection_model(server, s, data)
    (tmp_path / "accounts-jobs").mkdir()
    accounts = Server(tmp_path / "accounts-jobs", DIGITSX_DATA_ROOTS=str(home), **PASSWORD_MODE).start()
    try:
        token_session(accounts, "alice")  # the token lines' host:5000: alice, with the password alice-password
        run_every_line(server, s, accounts, home, data, (dataset, model, spare, detector), tmp_path)
    finally:
        accounts.stop()


def run_every_line(server, s, accounts, home, data, ids, tmp_path):
    """The README's curl lines, in order (see the module's docstring)."""
    dataset, model, spare, detector = ids
    work = tmp_path / "curl"
    work.mkdir()
    digit = next((data / "mnist" / "seven").glob("*.png"))
    (work / "digit.png").write_bytes(digit.read_bytes())
    shape = next((data / "shapes" / "images" / "val").glob("*.png"))
    Image.open(shape).convert("RGB").save(work / "photo.jpg")
    (work / "paths.txt").write_text("".join(f"{p}\n" for p in sorted((data / "shapes" / "images" / "val").glob("*.png"))[:3]))
    (work / "list.txt").write_text("".join(f"{p.parent.name}/{p.name}\n" for p in sorted((data / "mnist").rglob("*.png"))[:6]))
    with zipfile.ZipFile(work / "photos.zip", "w") as z:
        for p in sorted((data / "mnist").rglob("*.png"))[:4]:
            z.write(p, f"{p.parent.name}/{p.name}")

    made: dict[str, str] = {}  # a study the README's search line made: "<study id>"

    def concrete(command: str, section: str) -> str:
        c = command.replace("http://localhost:5000", server.url)
        c = c.replace("http://host:5000", accounts.url).replace("alice:PASSWORD", "alice:alice-password")
        if section == "Object detection":
            c = c.replace("<model id>", detector)
        c = c.replace("<study id>", made.get("study_id", "<study id>"))
        c = c.replace("<dataset id>", dataset).replace("<model id>", model)
        c = c.replace("/datasets/<id>", f"/datasets/{dataset}").replace("dataset=<id>", f"dataset={dataset}")
        c = c.replace("/models/<id>", f"/models/{model}").replace("<id>_epoch_30", f"{model}_epoch_1")
        c = c.replace("job_ids[]=<id>", f"job_ids[]={model}")
        c = c.replace("epoch=30", "epoch=1").replace("<id>", spare)
        return c.replace("/data/", f"{data}/")

    # the REST section's login line first: every other line sends its cookie jar (-b c)
    subprocess.run(f"curl -s -c c -F username=alice {server.url}/login -o /dev/null", shell=True,
                   cwd=work, check=True, timeout=30)
    env = {**os.environ, "HOME": str(home)}  # $HOME/digitsx-data/... as the README writes it
    ran, failures, assigned = 0, [], []
    for section, command in readme_curls():
        if section == "Your first model, start to finish":
            continue  # run whole by test_the_first_model_tour_runs_verbatim_in_order
        variable = re.match(r"^([A-Z_]+)=\$\(curl", command)
        if variable:
            assigned.append((variable.group(1), concrete(command, section)))  # run with the lines that use it
            continue
        cmd = "; ".join([a for name, a in assigned if f"${name}" in command] + [concrete(command, section)])
        (work / "answer.txt").unlink(missing_ok=True)
        out = "-w '%{http_code}'" if " -OJ " in cmd else "-o answer.txt -w '%{http_code}'"
        for _ in range(150):  # a first download answers 202 while its archive is built: ask again
            proc = subprocess.run(f"{cmd} -s {out}", shell=True, cwd=work, capture_output=True, text=True, timeout=300,
                                  env=env)
            code = proc.stdout.strip()[-3:]
            if code != "202" or " -OJ " not in cmd:
                break
            time.sleep(2)
        ran += 1
        answer = (work / "answer.txt").read_text() if (work / "answer.txt").exists() else proc.stderr
        if '"study_id"' in answer:
            made["study_id"] = json.loads(answer)["study_id"]
        documented = STATE.get((code, command.split()[-1].rsplit("/", 1)[-1]))
        if documented and documented in answer:
            continue  # answered as documented for a job in this state (resume: after an abort)
        if not code.startswith("2") and not (code == "302" and command.endswith("/login")):
            failures.append(f"{code} for: {command}\n    {answer[:300]}")
    assert failures == []
    every = [c for sec, c in readme_curls() if sec != "Your first model, start to finish"]
    assert ran == len(every) - len(assigned) and ran >= 25 and assigned, (ran, len(every))  # none skipped
    assert (work / f"{model}_epoch_1.tar.gz").stat().st_size > 10000  # the real archive, not a redirect page
    for job in s.get(server.url + "/completed_jobs.json").json()["running"]:  # the README's sweep etc.
        s.post(f"{server.url}/jobs/{job['id']}/abort")


def detection_model(server, s, data: Path) -> str:
    """A one-epoch detector on generated shapes (the README's detection section tests it)."""
    from digitsx.detection.shapes import write_shapes
    from tests.detection.conftest import build, shapes_fields, train

    shapes = write_shapes(data / "shapes", train=12, val=4, width=96, height=96, sizes=(24, 40))
    server.session = s
    dataset = build(server, shapes_fields(shapes, "voc"))
    assert dataset["status"] == "Done", dataset
    model = train(server, dataset["id"])
    assert model["status"] == "Done", model
    return model["id"]
