"""Classify an image with a model downloaded from digitsx, using only onnxruntime, Pillow and
numpy (no torch, no digitsx), with the same preprocessing digitsx used.

    curl -b c -o model.tar.gz "http://localhost:5000/models/<id>/download.tar.gz"
    mkdir model && tar xzf model.tar.gz -C model
    python examples/onnx_classify.py model image.png
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image


def preprocess(path: str, info: dict, folder: Path) -> np.ndarray:
    """Squash-resize (the other modes: see digitsx/datasets/resize.py), subtract the mean, /255."""
    spec = info["input"]
    image = Image.open(path)
    image = image.convert("L" if spec["channels"] == 1 else "RGB")
    if spec["resize_mode"] != "squash":
        print(f"note: the dataset used {spec['resize_mode']}; this example squashes", file=sys.stderr)
    array = np.asarray(image.resize((spec["width"], spec["height"]), Image.BILINEAR), np.float32)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    mean_file = info.get("mean file")
    use_mean = info["preprocessing"]["use_mean"]
    if mean_file and use_mean != "none":
        mean = np.load(folder / mean_file)
        mean = mean[None] if mean.ndim == 2 else mean.transpose(2, 0, 1)
        array = array - (mean.mean(axis=(1, 2), keepdims=True) if use_mean == "pixel" else mean)
    return (array / 255.0)[None].astype(np.float32)


def main(folder: str, image: str) -> None:
    folder_path = Path(folder)
    info = json.loads((folder_path / "info.json").read_text())
    labels = (folder_path / "labels.txt").read_text().splitlines()
    session = ort.InferenceSession(str(folder_path / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": preprocess(image, info, folder_path)})[0][0]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    for i in np.argsort(-probs)[:5]:
        print(f"{labels[i]}\t{100 * probs[i]:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
