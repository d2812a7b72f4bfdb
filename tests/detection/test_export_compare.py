"""The detection export check: an export ships only when every confident PyTorch detection has a
match in it; near-tied scores swapping ranks is not a difference, a moved box is."""
from __future__ import annotations

import numpy as np

from digitsx.detection.task import TOP, DetectionTask

TOLERANCE = DetectionTask.parity_tolerance
_compare = DetectionTask.parity  # the task interface's export check


def detections(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 150, (n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(5, 40, (n, 2))], 1).astype(np.float32)
    return boxes, np.linspace(0.9, 0.1, n).astype(np.float32)


def test_swapped_near_ties_match_a_moved_box_does_not():
    boxes, scores = detections(TOP + 10)
    ours, theirs = scores.copy(), scores.copy()  # two near-tied at the edge of the top swap ranks
    ours[TOP - 1], ours[TOP] = 0.5001, 0.5
    theirs[TOP - 1], theirs[TOP] = 0.5, 0.5001
    assert _compare([(boxes, ours)], [(boxes, theirs)]) <= TOLERANCE
    moved = boxes.copy()
    moved[3] += 2.0  # one confident box two pixels off
    assert _compare([(boxes, scores)], [(moved, scores)]) >= 2.0 - 1e-6
    rescored = scores.copy()
    rescored[0] -= 0.2  # the most confident detection scored lower
    assert _compare([(boxes, scores)], [(boxes, rescored)]) > TOLERANCE
    assert _compare([(boxes, scores)], [(boxes[:5], scores[:5])]) == float("inf")  # fewer found
    assert _compare([(boxes, scores)], [(boxes, scores)]) == 0.0


def test_faster_rcnn_onnx_outputs_are_read_by_name(tmp_path):
    """Faster R-CNN answers boxes, labels, scores (SSD: boxes, scores, labels): the ONNX export
    names its outputs in the detector's own order and is checked by name, so an untrained
    Faster R-CNN's export agrees with PyTorch and ships (it was refused, scores read as labels)."""
    import io
    import json
    import tarfile

    import torch

    from bench.detection_train import build_dataset
    from digitsx.detection import export
    from digitsx.detection.networks import build_network
    from digitsx.engine import checkpoint

    dataset = build_dataset(tmp_path, 4, 2)
    network = {"method": "standard", "name": "fasterrcnn_mobilenet_v3_large_320_fpn"}
    job = tmp_path / "model"
    job.mkdir()
    (job / "spec.json").write_text(json.dumps({"dataset": {"dir": str(dataset)}, "network": network,
                                               "form": {"model_name": "rcnn"}}))
    torch.manual_seed(0)
    labels = (dataset / "labels.txt").read_text().splitlines()
    model = build_network(network, len(labels), (192, 192))
    torch.save({"model": model.state_dict(), "epoch": 1}, checkpoint.snapshot_path(job, 1))
    info = export.export(job, 1.0, tmp_path / "rcnn.tar.gz")
    assert info["exports"]["onnx"]["file"] == "model.onnx", info["exports"]
    assert info["exports"]["onnx"]["max_abs_diff"] <= DetectionTask.parity_tolerance
    assert "boxes, labels, scores" in info["outputs"]
    with tarfile.open(tmp_path / "rcnn.tar.gz") as tf:
        shipped = json.load(io.BytesIO(tf.extractfile(next(n for n in tf.getnames() if n.endswith("info.json"))).read()))
        assert any(n.endswith("model.onnx") for n in tf.getnames()) and shipped["exports"] == info["exports"]
