"""Inference against hostile images and dying workers, through a real (gevent) server: a
decompression-bomb PNG is a 400 naming it (alone) or that image's error (in a list) and the warm
worker lives on; a warm worker killed between or during requests is replaced and the request
answers 200; numbers the field declarations refuse are 400s."""
from __future__ import annotations

import io
import os
import signal
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

from tests.detection.conftest import build, shapes_fields, train

pytestmark = pytest.mark.server
ONE = "/models/images/generic/infer_one.json"
MANY = "/models/images/generic/infer_many.json"


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A few hundred bytes that claim ``width`` × ``height`` pixels (a 1×1 PNG's header
    rewritten): Pillow refuses it at open, as it would a real bomb, without us writing 900 MB."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def worker_pids(model_id: str) -> list[int]:
    """The warm inference workers of a model (their command lines name its folder)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"digitsx.detection.infer" in cmd and any(model_id.encode() in part for part in cmd):
                found.append(int(entry))
    return found


def test_bombs_bad_numbers_and_killed_workers(server, shapes):
    s, url = server.session, server.url
    dataset = build(server, shapes_fields(shapes, "voc"))
    model = train(server, dataset["id"])
    assert model["status"] == "Done", model
    model_id = model["id"]
    good = str(shapes / "images" / "val" / "0000.png")
    bomb = shapes / "bomb.png"
    bomb.write_bytes(bomb_png())
    assert len(bomb.read_bytes()) < 200

    up = s.post(url + ONE, data={"job_id": model_id}, files={"image_file": ("bomb.png", bomb.read_bytes())})
    assert up.status_code == 400 and "bomb.png is too large" in up.text, up.text
    by_path = s.post(url + ONE, data={"job_id": model_id, "image_path": str(bomb)})
    assert by_path.status_code == 400 and "bomb.png is too large" in by_path.text, by_path.text

    first = s.post(url + ONE, data={"job_id": model_id, "image_path": good})
    assert first.status_code == 200, first.text
    pids = worker_pids(model_id)
    assert len(pids) == 1
    listing = s.post(url + MANY, data={"job_id": model_id},
                     files={"image_list": ("list.txt", "\n".join([good, str(bomb), good]))})
    assert listing.status_code == 200, listing.text
    outputs = listing.json()["outputs"]
    assert "error" in outputs[str(bomb)] and "exceeds limit" in outputs[str(bomb)]["error"]
    assert outputs[good] == first.json()["outputs"]
    assert worker_pids(model_id) == pids  # the same worker: the bomb did not kill it

    for field, route in (("num_test_images", MANY), ("num_test_images", "/models/images/generic/infer_db.json")):
        for bad in ("²", "1e3", "0", "-2"):
            res = s.post(url + route, data={"job_id": model_id, field: bad, "db_path": f"{dataset['id']}/val",
                                            "split": "val"})
            assert res.status_code == 400 and field in res.json()["errors"], (route, bad, res.text)

    # killed between requests: the pool may still think it alive; the request is answered
    os.kill(pids[0], signal.SIGKILL)
    again = s.post(url + ONE, data={"job_id": model_id, "image_path": good})
    assert again.status_code == 200, again.text
    assert again.json()["outputs"] == first.json()["outputs"]
    # killed while it works on a large image: answered by a fresh worker
    from PIL import Image

    large = shapes / "large.png"
    Image.open(good).convert("RGB").resize((2000, 2000)).save(large)
    answers = []
    asking = threading.Thread(target=lambda: answers.append(
        s.post(url + ONE, data={"job_id": model_id, "image_path": str(large)})))
    victims = worker_pids(model_id)
    asking.start()
    time.sleep(0.15)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    asking.join(120)
    assert answers and answers[0].status_code == 200, answers and answers[0].text
    assert worker_pids(model_id) and not set(worker_pids(model_id)) & set(victims)
