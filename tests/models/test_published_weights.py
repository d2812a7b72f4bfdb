"""Published weights: the catalog against torchvision's own metadata, the shared cache
(download once, SHA-256 checked, refused and deleted when wrong, size limits, one download for
two jobs, imports), and torchvision networks built from them for each task's classes.

Nothing here reaches a hub: files are made here and served on loopback (``weights_server``)."""
from __future__ import annotations

import importlib.util
import io
import json
import threading
from pathlib import Path

import pytest
import torch

from digitsx.engine import published as worker_side, weights_cache
from digitsx.models import published

from .weights_server import Mirror, publish, sha256, state_dict_file

ROOT = Path(__file__).resolve().parents[2]


def test_catalog_is_torchvisions_metadata():
    spec = importlib.util.spec_from_file_location("published_weights", ROOT / "scripts" / "published_weights.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    live = script.catalog()
    stored = json.loads((ROOT / "digitsx" / "models" / "published_weights.json").read_text())
    assert stored == json.loads(json.dumps(live)), "run scripts/published_weights.py"
    resnet = published.choices("classification", "resnet18")
    assert resnet["default"] == "ResNet18_Weights.IMAGENET1K_V1"
    entry = resnet["weights"][0]
    assert entry["file"] == "resnet18-f37072fd.pth" and entry["sha256_prefix"] == "f37072fd"
    assert entry["classes"] == 1000 and entry["trained_on"] == "ImageNet-1K" and entry["metrics"]["acc@1"] > 69
    ssd = published.choices("detection", "ssdlite320_mobilenet_v3_large")
    assert ssd["weights"][0]["metrics"]["box_map"] == 21.3 and ssd["weights"][0]["classes"] == 91
    assert "MobileNet_V3_Large_Weights.IMAGENET1K_V1" in [w["name"] for w in ssd["backbone"]]
    assert published.choices("classification", "lenet")["weights"] == []
    assert published.choices("segmentation", "unet")["backbone"] == []


def test_resolve_names_default_and_refuses_others():
    options = published.choices("classification", "resnet50")
    assert published.resolve(options["weights"], options["default"], "DEFAULT")["name"] == "ResNet50_Weights.IMAGENET1K_V2"
    assert published.resolve(options["weights"], options["default"], "resnet50_weights.imagenet1k_v1")["name"] \
        == "ResNet50_Weights.IMAGENET1K_V1"
    with pytest.raises(ValueError, match="ResNet50_Weights.IMAGENET1K_V1"):
        published.resolve(options["weights"], options["default"], "ResNet18_Weights.IMAGENET1K_V1")


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    mirror = Mirror(folder)
    yield folder, mirror
    mirror.close()


def entry_for(path: Path, **extra) -> dict:
    return {"name": "Test_Weights.V1", "file": path.name, "url": "http://127.0.0.1:9/never",
            "sha256_prefix": sha256(path)[:8], "size_mb": path.stat().st_size / 1e6, **extra}


def test_download_once_checked_and_recorded(tmp_path, files):
    folder, mirror = files
    path = folder / "thing-00000000.pth"
    path.write_bytes(b"x" * 3_000_000)
    entry = entry_for(path)
    seen = []
    got, downloaded = weights_cache.fetch(entry, tmp_path / "cache", mirror.url,
                                          lambda done, total, speed: seen.append((done, total)))
    assert downloaded and got.read_bytes() == path.read_bytes()
    assert seen[-1] == (3_000_000, 3_000_000)
    assert weights_cache.recorded(got)["sha256"] == sha256(path)
    assert weights_cache.fetch(entry, tmp_path / "cache", mirror.url) == (got, False)
    assert mirror.hits[path.name] == 1
    listing = weights_cache.listing(tmp_path / "cache", {"Test_Weights.V1": entry, **published.weights()})
    mine = [f for f in listing["files"] if f["file"] == path.name][0]
    assert mine["verified"] and mine["weights"] == ["Test_Weights.V1"] and mine["size"] == 3_000_000
    missing = {m["file"]: m for m in listing["missing"]}
    assert missing["resnet18-f37072fd.pth"]["path"] == str(tmp_path / "cache" / "checkpoints" / "resnet18-f37072fd.pth")


def test_wrong_hash_under_torchvisions_name_is_refused_and_deleted(tmp_path, files):
    folder, mirror = files
    entry = published.weights()["ResNet18_Weights.IMAGENET1K_V1"]
    (folder / entry["file"]).write_bytes(b"not resnet weights" * 1000)
    with pytest.raises(weights_cache.WeightsError, match="does not match the published f37072fd"):
        weights_cache.fetch(entry, tmp_path / "cache", mirror.url)
    assert list((tmp_path / "cache" / "checkpoints").glob("resnet18*")) == []


def test_larger_than_published_and_endless_downloads_are_refused(tmp_path, files):
    folder, mirror = files
    path = folder / "big-00000000.pth"
    path.write_bytes(b"y" * 4_000_000)
    small = {**entry_for(path), "size_mb": 1.0}
    with pytest.raises(weights_cache.WeightsError, match="larger than the published"):
        weights_cache.fetch(small, tmp_path / "cache", mirror.url)
    endless = Mirror(folder, endless=True)
    try:
        with pytest.raises(weights_cache.WeightsError, match="larger than the published"):
            weights_cache.fetch(small, tmp_path / "cache", endless.url)
    finally:
        endless.close()
    assert [p.name for p in (tmp_path / "cache" / "checkpoints").iterdir() if p.is_file()] == []


def test_unreachable_mirror_and_bad_mirror_url(tmp_path, files):
    folder, mirror = files
    path = folder / "t-00000000.pth"
    path.write_bytes(b"z" * 1000)
    with pytest.raises(weights_cache.WeightsError, match="could not download t-00000000.pth: http://127.0.0.1:9/t-00000000.pth did not answer"):
        weights_cache.fetch(entry_for(path), tmp_path / "cache", "http://127.0.0.1:9/", timeout=5)
    with pytest.raises(weights_cache.WeightsError, match="http:// or https://"):
        weights_cache.fetch(entry_for(path), tmp_path / "cache", "file:///etc")


def test_two_jobs_needing_one_file_download_it_once(tmp_path, files):
    folder, mirror = files
    path = folder / "shared-00000000.pth"
    path.write_bytes(b"s" * 8_000_000)
    entry, results = entry_for(path), []
    threads = [threading.Thread(target=lambda: results.append(weights_cache.fetch(entry, tmp_path / "c", mirror.url)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(downloaded for _, downloaded in results) == [False, True]
    assert mirror.hits[path.name] == 1


def test_import_checks_the_file(tmp_path):
    entry = published.weights()["ResNet18_Weights.IMAGENET1K_V1"]
    with pytest.raises(weights_cache.WeightsError, match="does not match"):
        weights_cache.import_file(io.BytesIO(b"garbage"), entry, tmp_path, "upload")
    assert not (tmp_path / "checkpoints" / entry["file"]).exists()
    data = b"right" * 100
    good = {**entry, "sha256_prefix": __import__("hashlib").sha256(data).hexdigest()[:8]}
    path = weights_cache.import_file(io.BytesIO(data), good, tmp_path, "upload")
    assert path.read_bytes() == data and weights_cache.recorded(path)["source"] == "upload"


def hub_entry(tmp_path: Path, name: str, builder, **kwargs) -> dict:
    """``name``'s file (random weights in its architecture) in a cache at ``tmp_path``."""
    entry = dict(published.weights()[name])
    folder = weights_cache.folder(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = state_dict_file(builder, folder, entry["file"], **kwargs)
    return {**entry, "sha256_prefix": sha256(path)[:8], "sha256": sha256(path), "cache": str(tmp_path),
            "mirror": ""}


def test_classifier_from_published_weights_for_grey_images(tmp_path):
    import torchvision

    from digitsx.classification.networks import build_published

    entry = hub_entry(tmp_path, "MobileNet_V3_Small_Weights.IMAGENET1K_V1", torchvision.models.mobilenet_v3_small)
    worker_side.fetch(entry)
    model = build_published({"name": "mobilenet_v3_small", "weights": entry}, 3, 1)
    reference = torch.load(weights_cache.folder(tmp_path) / entry["file"], weights_only=True)
    state = model.state_dict()
    assert torch.equal(state["features.1.block.0.0.weight"], reference["features.1.block.0.0.weight"])
    assert torch.allclose(state["features.0.0.weight"], reference["features.0.0.weight"].sum(1, keepdim=True))
    assert state["classifier.3.weight"].shape == (3, 1024)
    transfer = model.digitsx_transfer
    assert "classifier.3.weight" in transfer["fresh"] and "features.1.block.0.0.weight" in transfer["loaded"]
    assert model.eval()(torch.zeros(2, 1, 32, 32)).shape == (2, 3)


def test_detector_and_segmenter_from_coco_weights_and_backbone(tmp_path):
    from torchvision.models import detection, mobilenet_v3_large, segmentation

    from digitsx.detection.networks import published_detector
    from digitsx.segmentation.networks import published_segmenter

    ssd = hub_entry(tmp_path, "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1",
                    detection.ssdlite320_mobilenet_v3_large, weights_backbone=None)
    model = published_detector({"name": "ssdlite320_mobilenet_v3_large", "weights": ssd}, 4, (64, 64))
    assert model.head.classification_head.module_list[0][1].out_channels == 6 * 4
    assert "head.classification_head.module_list.0.1.weight" in model.digitsx_transfer["fresh"]
    assert model.eval()([torch.rand(3, 64, 64)])[0]["boxes"].shape[1] == 4
    lraspp = hub_entry(tmp_path, "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                       segmentation.lraspp_mobilenet_v3_large, weights_backbone=None, num_classes=21)
    seg = published_segmenter({"name": "lraspp_mobilenet_v3_large", "weights": lraspp}, 3)
    assert seg.eval()(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    assert set(seg.digitsx_transfer["fresh"]) == {f"model.classifier.{c}_classifier.{p}"
                                                  for c in ("low", "high") for p in ("weight", "bias")}
    backbone = hub_entry(tmp_path, "MobileNet_V3_Large_Weights.IMAGENET1K_V1", mobilenet_v3_large)
    model = published_detector({"name": "fasterrcnn_mobilenet_v3_large_320_fpn", "weights_backbone": backbone},
                               3, (64, 64))
    loaded = model.digitsx_transfer["loaded"]
    assert loaded and all(n.startswith("backbone.body.") for n in loaded)
    reference = torch.load(weights_cache.folder(tmp_path) / backbone["file"], weights_only=True)
    assert torch.equal(model.state_dict()["backbone.body.0.0.weight"], reference["features.0.0.weight"])


def test_weights_that_do_not_fit_the_network_name_the_layer(tmp_path):
    import torchvision

    from digitsx.classification.networks import build_published

    entry = dict(published.weights()["MobileNet_V3_Small_Weights.IMAGENET1K_V1"])
    folder = weights_cache.folder(tmp_path)
    folder.mkdir(parents=True)
    path = state_dict_file(torchvision.models.resnet18, folder, entry["file"])  # another network's
    entry.update(sha256_prefix=sha256(path)[:8], sha256=sha256(path), cache=str(tmp_path), mirror="")
    with pytest.raises(weights_cache.WeightsError, match=r"does not fit mobilenet_v3_small.*(Missing key|Unexpected key)"):
        build_published({"name": "mobilenet_v3_small", "weights": entry}, 3, 3)
