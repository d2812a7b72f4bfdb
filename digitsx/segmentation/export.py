"""Worker: package a segmentation snapshot for download, with checked TorchScript and ONNX.

    python -m digitsx.segmentation.export MODEL_JOB_DIR EPOCH ARCHIVE_PATH

The archive holds ``model.pt`` (a state dict), ``network.py`` (``build(num_classes,
in_channels)``), ``labels.txt``, ``palette.json``, ``info.json`` and the exports whose logits
agree with PyTorch on validation images (largest difference ≤ 1e-3): ``model.torchscript.pt``
(traced) and ``model.onnx`` (input ``image`` N×C×H×W float 0–1, output ``logits``).
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

from ..models.export import pack, report, run_export, verdict
from ..models.registry import get
from . import networks
from .infer import Segmenter
from .task import SegmentationTask


def network_source(spec: dict) -> str:
    net = spec["network"]
    if net.get("method") == "custom":
        return "import torch\nfrom torch import nn\n\n" + net["source"]
    if net["name"] == "unet":
        return ("import torch\nfrom torch import nn\n\n\n" + inspect.getsource(networks._block) + "\n\n"
                + inspect.getsource(networks.UNet)
                + "\n\ndef build(num_classes, in_channels):\n    return UNet(num_classes, in_channels)\n")
    builder = get("segmentation", net["name"]).kwargs["builder"]
    return ("import torchvision\nfrom torch import nn\n\n\n" + inspect.getsource(networks.Unwrap)
            + f"\n\ndef build(num_classes, in_channels=3):\n"
              f"    return Unwrap(torchvision.models.segmentation.{builder}(\n"
              f"        weights=None, weights_backbone=None, num_classes=num_classes))\n")


def export(job_dir: Path, epoch: float | None, archive: Path) -> dict:
    seg = Segmenter(job_dir, epoch, device="cpu")
    spec = json.loads((job_dir / "spec.json").read_text())
    split = seg.data.split("val") or seg.data.split("train")
    x = torch.cat([seg.tensor(split[i][0].numpy().transpose(1, 2, 0).squeeze())
                   for i in range(min(4, len(split)))])
    with torch.no_grad():
        reference = seg.model(x).float().numpy()
    checks: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        torch.save(seg.model.state_dict(), out / "model.pt")
        (out / "network.py").write_text(network_source(spec))
        shutil.copy(seg.data.folder / "labels.txt", out / "labels.txt")
        (out / "palette.json").write_text(json.dumps(seg.palette))
        report(archive, "TorchScript, checked against PyTorch", 0.3)
        try:
            traced = torch.jit.trace(seg.model, x[:1])
            traced.save(str(out / "model.torchscript.pt"))
            with torch.no_grad():
                got = torch.jit.load(str(out / "model.torchscript.pt"))(x).float().numpy()
            checks["torchscript"] = verdict("model.torchscript.pt", SegmentationTask.parity(reference, got), out,
                                                SegmentationTask.parity_tolerance)
        except Exception as err:
            checks["torchscript"] = {"file": None, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        report(archive, "ONNX, checked against PyTorch", 0.6)
        try:
            import onnxruntime as ort

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(seg.model, (x[:1],), str(out / "model.onnx"), dynamo=False, opset_version=17,
                                  input_names=["image"], output_names=["logits"],
                                  dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
            session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
            got = session.run(None, {"image": x.numpy()})[0]
            checks["onnx"] = verdict("model.onnx", SegmentationTask.parity(reference, got), out,
                                      SegmentationTask.parity_tolerance)
        except Exception as err:
            (out / "model.onnx").unlink(missing_ok=True)
            checks["onnx"] = {"file": None, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        image = seg.image
        info = {"id": job_dir.name, "name": spec.get("form", {}).get("model_name", job_dir.name),
                "task": "segmentation", "framework": "torch", "epoch": seg.epoch,
                "network": spec["network"].get("name") or "custom", "creation time": time.time(),
                "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
                "classes": seg.labels, "palette file": "palette.json", "ignore label": 255,
                "input": {"channels": seg.channels, "width": image["width"], "height": image["height"],
                          "resize": image.get("resize"), "channel_conversion": image.get("channel_conversion"),
                          "scale": "float 0-1, N×C×H×W"},
                "outputs": "logits N×classes×H×W; argmax over classes is the class map",
                "tolerance": SegmentationTask.parity_tolerance, "exports": checks}
        (out / "info.json").write_text(json.dumps(info, indent=1))
        pack(out, archive)
    return info


def main(job_dir: str, epoch: str, archive: str) -> int:
    return run_export(export, job_dir, epoch, archive)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
