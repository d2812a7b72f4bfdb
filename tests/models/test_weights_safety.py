"""Weights never run code: a pickle with a ``__reduce__`` payload, under a published file name
with a matching prefix (a forged 32-bit prefix costs minutes), is refused on every path that
loads weights, and nothing in it runs; the full SHA-256 is checked before every use.

The payload would create a marker file; each test asserts the marker never appears."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from digitsx.engine import published as worker_side, weights_cache
from digitsx.jobs import launch
from digitsx.models import published

from .weights_server import Mirror, sha256, state_dict_file


class Payload:
    """Runs ``touch MARKER`` when unpickled by the full pickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_file(path: Path, marker: Path) -> Path:
    torch.save({"fc.weight": Payload(marker), "fc.bias": torch.zeros(2)}, path)
    return path


def cached_entry(tmp_path: Path, name: str, make) -> dict:
    """``name``'s catalog entry with its file made by ``make(path)`` in a cache at ``tmp_path``,
    published (prefix and pinned digest) as that file's own hashes: a forged file that matched."""
    entry = dict(published.weights()[name])
    folder = weights_cache.folder(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = make(folder / entry["file"])
    return {**entry, "sha256_prefix": sha256(path)[:8], "sha256": sha256(path), "cache": str(tmp_path),
            "mirror": ""}


def test_the_payload_is_real(tmp_path):
    """The full pickler does run it (what torch.hub's load_state_dict_from_url used to do)."""
    marker = tmp_path / "ran"
    path = evil_file(tmp_path / "x.pth", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("task,network,weights,key", [
    ("classification", "resnet18", "ResNet18_Weights.IMAGENET1K_V1", "weights"),
    ("detection", "fasterrcnn_mobilenet_v3_large_320_fpn", "MobileNet_V3_Large_Weights.IMAGENET1K_V1",
     "weights_backbone"),
    ("segmentation", "lraspp_mobilenet_v3_large", "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
     "weights"),
])
def test_payload_under_a_published_name_is_refused_by_every_task(tmp_path, task, network, weights, key):
    marker = tmp_path / "ran"
    entry = cached_entry(tmp_path, weights, lambda p: evil_file(p, marker))
    weights_cache.fetch(entry, tmp_path)  # its digest matches what the (forged) catalog says
    with pytest.raises(weights_cache.WeightsError, match="not a plain weights file.*refused"):
        if task == "classification":
            from digitsx.classification.networks import build_published
            build_published({"name": network, key: entry}, 3, 3)
        elif task == "detection":
            from digitsx.detection.networks import published_detector
            published_detector({"name": network, key: entry}, 3, (64, 64))
        else:
            from digitsx.segmentation.networks import published_segmenter
            published_segmenter({"name": network, key: entry}, 3)
    assert not marker.exists()


def test_a_forged_prefix_is_refused_by_the_pinned_digest_before_anything_is_read(tmp_path):
    """The file matches the 8-hex prefix but not the full digest we pin: refused on fetch (found
    in the cache, downloaded from a mirror) and on build, never loaded."""
    import torchvision

    marker = tmp_path / "ran"
    good = state_dict_file(torchvision.models.resnet18, tmp_path, "good.pth")
    entry = cached_entry(tmp_path, "ResNet18_Weights.IMAGENET1K_V1", lambda p: evil_file(p, marker))
    entry["sha256"] = sha256(good)  # the real digest; the prefix stays the forged file's
    with pytest.raises(weights_cache.WeightsError, match="is not the pinned"):
        weights_cache.fetch(entry, tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    evil_file(served / entry["file"], marker)
    mirror = Mirror(served)
    try:
        with pytest.raises(weights_cache.WeightsError, match="is not the pinned"):
            weights_cache.fetch(entry, tmp_path / "other", mirror.url)
    finally:
        mirror.close()
    assert not (weights_cache.folder(tmp_path / "other") / entry["file"]).exists()
    evil_file(weights_cache.folder(tmp_path) / entry["file"], marker)
    from digitsx.classification.networks import build_published
    with pytest.raises(weights_cache.WeightsError, match="is not the pinned"):
        build_published({"name": "resnet18", "weights": entry}, 3, 3)
    assert not marker.exists()


def test_a_file_changed_after_its_first_check_is_refused(tmp_path):
    """No pinned digest: the one recorded on first use is checked before every later use."""
    import torchvision

    entry = cached_entry(tmp_path, "ResNet18_Weights.IMAGENET1K_V1",
                         lambda p: state_dict_file(torchvision.models.resnet18, p.parent, p.name))
    del entry["sha256"]
    path, _ = weights_cache.fetch(entry, tmp_path)
    assert weights_cache.recorded(path)["sha256"] == sha256(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # same size, same prefix in the name
    path.write_bytes(bytes(data))
    with pytest.raises(weights_cache.WeightsError, match="is not the recorded"):
        worker_side.load_state(entry)


def test_an_imported_payload_is_refused_when_a_job_loads_it(tmp_path):
    marker = tmp_path / "ran"
    source = evil_file(tmp_path / "upload.pth", marker)
    entry = {**published.weights()["ResNet18_Weights.IMAGENET1K_V1"], "sha256_prefix": sha256(source)[:8],
             "sha256": sha256(source), "cache": str(tmp_path / "cache"), "mirror": ""}
    with open(source, "rb") as handle:
        weights_cache.import_file(handle, entry, tmp_path / "cache", "uploaded")
    with pytest.raises(weights_cache.WeightsError, match="not a plain weights file"):
        worker_side.load_state(entry)
    assert not marker.exists()


def test_the_builder_may_not_load_any_other_file(tmp_path):
    """While a network is built from one entry, any other weights it asks for are refused
    (never downloaded, never unpickled)."""
    import torchvision

    entry = cached_entry(tmp_path, "ResNet18_Weights.IMAGENET1K_V1",
                         lambda p: state_dict_file(torchvision.models.resnet18, p.parent, p.name))
    with worker_side.weights_from_cache(entry):
        with pytest.raises(weights_cache.WeightsError, match="not the chosen"):
            torchvision.models.resnet34(weights="ResNet34_Weights.IMAGENET1K_V1")
    assert torchvision.models._api.WeightsEnum.get_state_dict.__name__ == "get_state_dict"
    assert "digitsx" not in torchvision.models._api.WeightsEnum.get_state_dict.__module__


def test_workers_load_tensors_only_whatever_a_library_asks(tmp_path):
    """Every worker's environment forces ``weights_only`` (torch.hub asks for the full pickler)."""
    marker = tmp_path / "ran"
    path = evil_file(tmp_path / "x.pth", marker)
    env = launch.environment(tmp_path, "", )
    assert env["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] == "1"
    code = f"import torch; torch.load({str(path)!r}, weights_only=False)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Weights only load failed" in done.stderr
    assert not marker.exists()


def test_store_and_uploaded_pretrained_weights_refuse_the_payload(tmp_path, capsys):
    """A store's model.pt and an uploaded weights file: refused by the pretrained worker, and a
    store import leaves nothing it downloaded."""
    from digitsx.classification import pretrained

    marker = tmp_path / "ran"
    for source in ("files", "store"):
        job = tmp_path / source
        job.mkdir()
        evil_file(job / "model.pt", marker)
        (job / "network.py").write_text("from digitsx.classification.networks import lenet\n"
                                        "def build(num_classes, in_channels, image_size):\n"
                                        "    return lenet(num_classes, in_channels, image_size)\n")
        (job / "labels.txt").write_text("a\nb\n")
        spec = {"source": "files", "name": "x", "width": 28, "height": 28, "channels": 1, "resize_mode": "squash"}
        if source == "store":
            served = tmp_path / "served"
            served.mkdir()
            for name in ("model.pt", "labels.txt"):
                (job / name).replace(served / name)
            (job / "network.py").unlink()
            mirror = Mirror(served)
            spec = {"source": "store", "store": mirror.url + "/", "folder": "m", "standard_network": "lenet",
                    "info": {"image dimensions": [28, 28, 1]}, "max_bytes": 2**30,
                    "files": {n: {"name": n, "sha256": None, "size": None, "url": f"{mirror.url}/{n}"}
                              for n in ("model.pt", "labels.txt")}}
        (job / "spec.json").write_text(json.dumps(spec))
        try:
            assert pretrained.main(str(job)) == 2
        finally:
            if source == "store":
                mirror.close()
        assert "not a plain weights file" in capsys.readouterr().out
        if source == "store":
            assert not (job / "private").exists() and not (job / "model.pt").exists()
    assert not marker.exists()
