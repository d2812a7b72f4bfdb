"""Worker: package an image classification snapshot for download, with checked ONNX and
TorchScript exports.

    python -m digitsx.classification.export MODEL_JOB_DIR EPOCH ARCHIVE_PATH

The archive (``.tar.gz``/``.tgz``/``.tar``/``.zip``) holds ``model.pt`` (a plain state dict),
``network.py`` (the definition as Python source), ``labels.txt``, ``mean.npy``/``mean.png``,
``info.json`` (DIGITS's keys plus ours), ``model.onnx`` and ``model.torchscript.pt``. Each export
is checked when it is made: PyTorch's and the exported model's outputs on validation images are
compared and the largest difference goes into ``info.json``; a disagreeing export is reported.
"""
from __future__ import annotations

import inspect
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from ..models import registry
from ..models.export import pack, report, run_export, verdict
from . import networks
from .augment import prepare
from .infer import Classifier
from .task import ClassificationTask


def network_source(spec: dict) -> str:
    """Python source defining ``build(num_classes, in_channels, image_size)`` for the network."""
    net = spec["network"]
    if net["method"] == "pretrained":
        return (Path(net["dir"]) / "network.py").read_text()
    if net["method"] == "custom":
        return "import torch\nfrom torch import nn\n\n" + net["source"]
    name = net["name"]
    head = "import torch\nfrom torch import nn\n\n"
    if name == "lenet":
        return head + inspect.getsource(networks.LeNet) + (
            "\n\ndef build(num_classes, in_channels, image_size):\n"
            "    return LeNet(num_classes, in_channels, image_size)\n")
    kwargs = dict(registry.get("classification", name).kwargs)
    builder = kwargs.pop("builder", name)
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return head + "import torchvision\n\n\n" + inspect.getsource(networks.adapt_first_conv) + (
        f"\n\ndef build(num_classes, in_channels, image_size):\n"
        f"    model = torchvision.models.{builder}(weights=None, num_classes=num_classes{extra})\n"
        f"    return adapt_first_conv(model, in_channels)\n")


def sample_inputs(c: Classifier, count: int = 16) -> torch.Tensor:
    """Up to ``count`` validation (else training) images, preprocessed as the network sees them."""
    split = c.info.split("val") or c.info.split("train")
    batch = torch.stack([split[i][0] for i in range(min(count, len(split)))]).to(c.device)
    return prepare(batch, c.mean, c.aug, training=False)


def export(job_dir: Path, epoch: float | None, archive: Path) -> dict:
    """Build the archive; returns its ``info.json``. Everything happens on the CPU: the weights
    a CPU-only user loads, the traced TorchScript, and the reference the exports are checked
    against (GPU logits with TF32 differ from CPU ONNX Runtime by more than the tolerance)."""
    c = Classifier(job_dir, epoch, device="cpu")
    spec = json.loads((job_dir / "spec.json").read_text())
    x = sample_inputs(c)
    with torch.no_grad():
        reference = c.model(x).float().cpu().numpy()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_package(job_dir, spec, c, out)
        report(archive, "TorchScript and ONNX, each checked against PyTorch", 0.3)
        checks = {"torchscript": _torchscript(c, x, reference, out), "onnx": _onnx(c, x, reference, out)}
        info = _info(job_dir, spec, c, checks)
        (out / "info.json").write_text(json.dumps(info, indent=1))
        pack(out, archive)
    return info


def write_package(job_dir: Path, spec: dict, c: Classifier, out: Path) -> dict:
    """The core files (weights, network source, labels, mean, info.json without exports)."""
    torch.save(c.model.state_dict(), out / "model.pt")
    (out / "network.py").write_text(network_source(spec))
    shutil.copy(c.info.folder / "labels.txt", out / "labels.txt")
    for name in ("mean.npy", "mean.png"):
        if (c.info.folder / name).exists():
            shutil.copy(c.info.folder / name, out / name)
    info = _info(job_dir, spec, c, {})
    (out / "info.json").write_text(json.dumps(info, indent=1))
    return info


def _torchscript(c: Classifier, x, reference, out: Path) -> dict:
    try:
        traced = torch.jit.trace(c.model, x[:1])
        traced.save(str(out / "model.torchscript.pt"))
        loaded = torch.jit.load(str(out / "model.torchscript.pt"), map_location=c.device)
        with torch.no_grad():
            diff = ClassificationTask.parity(reference, loaded(x).float().cpu().numpy())
    except Exception as err:  # reported, not shipped silently
        return {"file": None, "error": f"{type(err).__name__}: {err}"}
    return verdict("model.torchscript.pt", diff, out, ClassificationTask.parity_tolerance)


def _onnx(c: Classifier, x, reference, out: Path) -> dict:
    try:
        import onnxruntime as ort

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(c.model.cpu(), (x[:1].cpu(),), str(out / "model.onnx"), dynamo=False,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        c.model.to(c.device)
        session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.cpu().numpy()})[0]
        diff = ClassificationTask.parity(reference, got)
    except Exception as err:
        return {"file": None, "error": f"{type(err).__name__}: {err}"}
    return verdict("model.onnx", diff, out, ClassificationTask.parity_tolerance)


def _info(job_dir: Path, spec: dict, c: Classifier, checks: dict) -> dict:
    image = c.image
    return {
        "id": job_dir.name, "name": spec.get("form", {}).get("model_name", job_dir.name),
        "framework": "torch", "image dimensions": [image["height"], image["width"], image["channels"]],
        "image resize mode": image["resize_mode"], "labels file": "labels.txt",
        "mean file": "mean.npy" if (c.info.folder / "mean.npy").exists() else None,
        "snapshot file": "model.pt", "model file": "network.py", "creation time": time.time(),
        "epoch": c.epoch, "network": spec["network"].get("name") or "custom",
        "input": {"channels": image["channels"], "height": image["height"], "width": image["width"],
                  "resize_mode": image["resize_mode"], "encoding_in_dataset": image.get("encoding")},
        "preprocessing": {"use_mean": c.aug.use_mean, "crop_size": c.aug.crop_size,
                          "scale": "subtract the mean (0-255) then divide by 255"},
        "exports": checks,
    }


def main(job_dir: str, epoch: str, archive: str) -> int:
    """Entry point: prints the info as JSON, or an error."""
    return run_export(export, job_dir, epoch, archive)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
