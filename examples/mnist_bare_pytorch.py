"""The reference for the MNIST quality bar: a bare PyTorch loop with DIGITS's LeNet settings
(SGD 0.01, momentum 0.9, weight decay lr/100, step policy, 30 epochs, batch 64, image mean) on a
digitsx dataset's LMDB. It prints the validation accuracy to compare with a digitsx job.

    .venv/bin/python examples/mnist_bare_pytorch.py <jobs dir>/<dataset id>
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from digitsx.classification import networks
from digitsx.classification.data import DatasetInfo, loader


def main(folder: str, epochs: int = 30) -> None:
    torch.manual_seed(1)
    info = DatasetInfo(Path(folder))
    model = networks.build("lenet", len(info.labels), info.channels, info.width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    mean = info.mean() / 255.0
    train = loader(info.split("train"), 64, True, 1, 1, False)
    val = loader(info.split("val"), 64, False, 1, 1, False)
    for epoch in range(epochs):
        for group in opt.param_groups:  # DIGITS's step policy: ×0.1 every 33 % of training
            group["lr"] = 0.01 * 0.1 ** math.floor(100 * epoch / epochs / 33)
        model.train()
        for images, labels in train:
            loss = F.cross_entropy(model(images.float() / 255 - mean), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in val:
            correct += (model(images.float() / 255 - mean).argmax(1) == labels).sum().item()
            total += len(labels)
    print(f"bare PyTorch LeNet, {epochs} epochs: validation accuracy {100 * correct / total:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1])
