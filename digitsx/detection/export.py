"""Worker: package a detection snapshot for download, with checked TorchScript and ONNX.

    python -m digitsx.detection.export MODEL_JOB_DIR EPOCH ARCHIVE_PATH

The archive holds ``model.pt`` (a state dict), ``network.py`` (``build(num_classes)`` as
Python), ``labels.txt`` (class i on line i, 0 = don't care), ``info.json`` (input size,
padding/resize, classes, the F1-best threshold is the model page's), and the exports that agree
with PyTorch on validation images: ``model.torchscript.pt`` (``torch.jit.script``: takes a list
of float 0–1 C×H×W images, returns ``(losses, detections)``) and ``model.onnx`` (one image →
named boxes, scores, labels: read them by name, their order is the detector's). An export
that fails or disagrees is left out and ``info.json`` says why.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from ..models.export import pack, report, run_export
from ..models.registry import get
from .infer import Detector
from .task import TOP, DetectionTask



def network_source(spec: dict) -> str:
    net = spec["network"]
    if net.get("method") == "custom":
        return "import torch\nfrom torch import nn\n\n" + net["source"]
    entry = get("detection", net["name"])
    kwargs = {k: v for k, v in entry.kwargs.items() if k not in ("builder", "native_size")}
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    size = ""
    if entry.kwargs.get("native_size"):
        size = ", min_size=min(image_size), max_size=max(image_size)"
    return ("import torchvision\n\n\n"
            "def build(num_classes, image_size):\n"
            f"    \"\"\"{entry.title}: image_size is the dataset's (width, height).\"\"\"\n"
            f"    return torchvision.models.detection.{entry.kwargs['builder']}(\n"
            f"        weights=None, weights_backbone=None, num_classes=num_classes{size}{extra})\n")


def _verdict(name: str, diff: float, out: Path) -> dict:
    if diff > DetectionTask.parity_tolerance:
        (out / name).unlink(missing_ok=True)
        why = "a different number of detections" if diff == float("inf") else f"differences up to {diff:.3g}"
        return {"file": None, "max_abs_diff": None if diff == float("inf") else diff,
                "error": f"{why} from PyTorch on validation images (top {TOP}); not shipped"}
    return {"file": name, "max_abs_diff": diff}


def export(job_dir: Path, epoch: float | None, archive: Path) -> dict:
    d = Detector(job_dir, epoch, device="cpu")
    spec = json.loads((job_dir / "spec.json").read_text())
    split = d.data.split("val") or d.data.split("train")
    images = []
    for i in range(min(4, len(split))):
        x = split[i][0].float().div(255)
        images.append(x.expand(3, -1, -1) if x.shape[0] == 1 else x)
    with torch.no_grad():
        outputs = d.model(images)
    reference = [(o["boxes"].numpy(), o["scores"].numpy()) for o in outputs]
    # The ONNX outputs are the answer's values in its key order, which differs between
    # detectors (Faster R-CNN: boxes, labels, scores; SSD, RetinaNet, FCOS: boxes, scores, labels).
    names = list(outputs[0])
    checks: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        torch.save(d.model.state_dict(), out / "model.pt")
        (out / "network.py").write_text(network_source(spec))
        shutil.copy(d.data.folder / "labels.txt", out / "labels.txt")
        report(archive, "TorchScript, checked against PyTorch", 0.3)
        try:
            scripted = torch.jit.script(d.model)
            scripted.save(str(out / "model.torchscript.pt"))
            loaded = torch.jit.load(str(out / "model.torchscript.pt"))
            with torch.no_grad():
                got = [(o["boxes"].numpy(), o["scores"].numpy()) for o in loaded(images)[1]]
            checks["torchscript"] = _verdict("model.torchscript.pt", DetectionTask.parity(reference, got), out)
        except Exception as err:  # reported, not shipped
            checks["torchscript"] = {"file": None, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        report(archive, "ONNX, checked against PyTorch", 0.6)
        try:
            import onnxruntime as ort

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(d.model, ([images[0]],), str(out / "model.onnx"), dynamo=False,
                                  opset_version=17, input_names=["image"], output_names=names)
            session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
            got = [tuple(session.run(["boxes", "scores"], {"image": x.numpy()})) for x in images]
            checks["onnx"] = _verdict("model.onnx", DetectionTask.parity(reference, got), out)
        except Exception as err:
            (out / "model.onnx").unlink(missing_ok=True)
            checks["onnx"] = {"file": None, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        info = _info(job_dir, spec, d, names, checks)
        (out / "info.json").write_text(json.dumps(info, indent=1))
        pack(out, archive)
    return info


def _info(job_dir: Path, spec: dict, d, names: list, checks: dict) -> dict:
    """The archive's ``info.json``: what the files are and how to feed the exports."""
    image = d.image
    return {
        "id": job_dir.name, "name": spec.get("form", {}).get("model_name", job_dir.name),
        "task": "object detection", "framework": "torch", "epoch": d.epoch,
        "network": spec["network"].get("name") or "custom", "creation time": time.time(),
        "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
        "classes": d.labels, "background": "class 0 is don't care (the detectors' background)",
        "input": {"width": image["width"], "height": image["height"], "channels": image["channels"],
                  "padding": image.get("padding"), "resize": image.get("resize"),
                  "channel_conversion": image.get("channel_conversion"),
                  "scale": "RGB float 0-1; pad top-left on black, then resize, as the dataset"},
        "outputs": "ONNX outputs named boxes ([left, top, right, bottom] in the padded/resized image), "
                   "scores and labels, in the order " + ", ".join(names),
        "exports": checks,
    }


def main(job_dir: str, epoch: str, archive: str) -> int:
    return run_export(export, job_dir, epoch, archive)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
