"""Worker: make a pretrained model — from a snapshot, an uploaded download archive, or uploaded
weights + network source + labels — and check that the weights load into the network.

    python -m digitsx.classification.pretrained JOB_DIR

A pretrained model's folder holds the download format: ``model.pt``, ``network.py`` (defining
``build(num_classes, in_channels, image_size)``), ``labels.txt``, ``info.json``, maybe
``mean.npy``. New models can start from it (``method=pretrained``).
"""
from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path

import torch

from .. import archives
from ..engine import weights_cache
from ..jobs.protocol import Emitter, run_worker
from .export import write_package
from .infer import Classifier
from .networks import build_from

REQUIRED = ("model.pt", "network.py", "labels.txt", "info.json")
PRIVATE = "private"  # a job's files not yet checked: /files never serves this folder


def load_weights(path: Path):
    """``model.pt`` read as tensors only (``weights_only=True``); ValueError for a file that holds
    Python objects (a pickle that would run code: refused, nothing in it runs) or is no weights
    file at all."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path.name} is not a plain weights file: it holds Python objects that "
                         f"would run code when loaded ({' '.join(str(err).split())[:160]}); refused") from None
    except (RuntimeError, EOFError) as err:
        raise ValueError(f"{path.name} is not a weights file torch can read: "
                         f"{' '.join(str(err).split())[:160]}") from None


def from_snapshot(folder: Path, spec: dict) -> None:
    model_dir = Path(spec["model_dir"])
    c = Classifier(model_dir, float(spec["epoch"]) if spec.get("epoch") is not None else None,
                   device="cpu")  # the stored weights load anywhere
    write_package(model_dir, json.loads((model_dir / "spec.json").read_text()), c, folder)


def from_archive(folder: Path, spec: dict) -> None:
    dest = folder / "unpacked"
    archives.extract(folder / spec["archive"], dest, 4 * 2**30)
    root = archives_root(dest)
    for name in REQUIRED + ("mean.npy", "mean.png"):
        if (root / name).exists():
            shutil.copy(root / name, folder / name)
    shutil.rmtree(dest, ignore_errors=True)


def archives_root(dest: Path) -> Path:
    """The folder of the archive that holds info.json (top level or one folder down)."""
    found = sorted(dest.rglob("info.json"), key=lambda p: len(p.parts))
    if not found:
        raise ValueError("the archive has no info.json (expected digitsx's download format)")
    return found[0].parent


# What a store file may weigh when its info.json gives no size (one that does is held to it,
# and everything to the server's upload limit).
UNDECLARED = {"model.pt": 512 * 2**20, "network.py": 2**20, "labels.txt": 2**20, "mean.npy": 64 * 2**20}


def from_store(folder: Path, spec: dict, out: Emitter) -> None:
    """A model folder of a DIGITS Model Store: each file downloaded into the job's private
    folder (not served: ``/files`` refuses it) under a total deadline and a minimum rate,
    size-capped, the store's SHA-256 checked where it gives one; :func:`run` moves them into the
    job's folder only once they make a model that loads, and deletes them otherwise.
    A network the store names that is one of ours is rebuilt from our own source: the store's
    network.py is neither downloaded nor run."""
    files = spec["files"]
    limit_all = int(spec.get("max_bytes") or 2 * 2**30)
    private = folder / PRIVATE
    private.mkdir(exist_ok=True)
    for i, (local, f) in enumerate(sorted(files.items())):
        if local not in UNDECLARED:
            raise ValueError(f"the store names an unexpected file {local!r}")
        if local == "network.py" and spec.get("standard_network"):
            continue
        limit = min(limit_all, int(f["size"] * 1.05) + 2**20 if f.get("size") else UNDECLARED[local])
        shown = [-1]

        def progress(done: int, total: int, speed: float, name: str = f["name"]) -> None:
            tenth = int(10 * done / total) if total else -1
            if tenth != shown[0]:
                shown[0] = tenth
                size = f" of {total / 1e6:.1f} MB" if total else ""
                out.log(f"downloading {name}: {done / 1e6:.1f} MB{size} at {speed / 1e6:.1f} MB/s")

        target = private / local
        try:
            weights_cache.download(f["url"], target, limit, progress, name=f"{f['name']} from {spec['store']}")
        except weights_cache.WeightsError as err:
            raise ValueError(str(err)) from None
        if f.get("sha256"):
            digest = weights_cache.sha256(target)
            if digest != str(f["sha256"]).lower():
                raise ValueError(f"{f['name']}: SHA-256 {digest[:16]}… is not the store's "
                                 f"{f['sha256'][:16]}… (a wrong or truncated file); not used")
        out.progress(i + 1, len(files) + 1)
    info = dict(spec.get("info") or {})
    dims = info.get("image dimensions")
    if not (isinstance(dims, list) and len(dims) == 3 and all(isinstance(d, int) and 0 < d <= 4096 for d in dims)):
        raise ValueError("the store's info.json gives no 'image dimensions' [height, width, channels]")
    crop = (info.get("preprocessing") or {}).get("crop_size")
    if crop is not None and not (isinstance(crop, int) and 0 < crop <= min(dims[:2])):
        raise ValueError("the store's info.json gives a crop_size larger than its images")
    info.update({"snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
                 "mean file": "mean.npy" if "mean.npy" in files else None,
                 "store": {"url": spec["store"], "folder": spec["folder"]}})
    (private / "info.json").write_text(json.dumps(info, indent=1))
    if spec.get("standard_network"):
        from .export import network_source

        (private / "network.py").write_text(network_source({"network": {"method": "standard",
                                                                        "name": spec["standard_network"]}}))


def from_files(folder: Path, spec: dict) -> None:
    """Uploaded weights, network source and labels, with the image facts from the form."""
    info = {"id": folder.name, "name": spec["name"], "framework": "torch",
            "image dimensions": [spec["height"], spec["width"], spec["channels"]],
            "image resize mode": spec["resize_mode"], "labels file": "labels.txt",
            "snapshot file": "model.pt", "model file": "network.py",
            "preprocessing": {"use_mean": "none", "crop_size": None}}
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    state = load_weights(folder / "model.pt")
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        torch.save(state["model"], folder / "model.pt")  # a digitsx snapshot: keep the weights


def run(folder: Path, out: Emitter) -> dict:
    spec = json.loads((folder / "spec.json").read_text())
    where = folder  # a store's files are checked where /files does not serve them
    if spec["source"] == "store":
        where = folder / PRIVATE
        try:
            from_store(folder, spec, out)
            model, info, labels = check(where)
        except BaseException:  # a failed import leaves nothing it fetched
            shutil.rmtree(where, ignore_errors=True)
            raise
        for path in where.iterdir():  # whole, hash-checked and loading: now the job's
            path.replace(folder / path.name)
        where.rmdir()
    else:
        {"snapshot": from_snapshot, "archive": from_archive, "files": from_files}[spec["source"]](folder, spec)
        model, info, labels = check(folder)
    out.result(info=info, labels=labels, parameters=sum(p.numel() for p in model.parameters()))
    out.progress(1, 1)
    return info


def check(where: Path):
    """(network, info, labels) once the files in ``where`` make a model: all there, and the
    weights (read as tensors only) fit the network exactly."""
    missing = [name for name in REQUIRED if not (where / name).exists()]
    if missing:
        raise ValueError(f"missing from the pretrained model: {', '.join(missing)}")
    model = build_from(where)
    model.load_state_dict(load_weights(where / "model.pt"))  # strict: the weights must fit exactly
    info = json.loads((where / "info.json").read_text())
    return model, info, (where / "labels.txt").read_text().splitlines()


def main(job_dir: str) -> int:
    """Entry point: 0 when the pretrained model loads, 2 for unusable files (named), 1 for a bug."""
    return run_worker(run, job_dir, (ValueError, FileNotFoundError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
