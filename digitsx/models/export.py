"""What every task's export shares: packing a folder into the download archive (atomically),
the progress an export reports, the verdict on an export checked against PyTorch, and the
worker's entry point (``python -m <task>.export MODEL_JOB_DIR EPOCH ARCHIVE_PATH`` prints one
JSON line). Each task's :mod:`export` module builds its files and checks its exports.
"""
from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

TOLERANCE = 1e-3  # largest |output difference| an export may show and still ship


def verdict(name: str, diff: float, out: Path, tolerance: float = TOLERANCE) -> dict:
    """An export checked against PyTorch: shipped (its file and largest difference) or removed
    with why."""
    if diff > tolerance:  # do not ship an export that disagrees
        (out / name).unlink(missing_ok=True)
        return {"file": None, "max_abs_diff": diff,
                "error": f"outputs differ from PyTorch by up to {diff:.3g} (> {tolerance})"}
    return {"file": name, "max_abs_diff": diff}


def report(archive: Path, step: str, progress: float) -> None:
    """Say how far the export is, in ``ARCHIVE.progress`` (the server's status route reads it)."""
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.with_name(archive.name + ".progress").write_text(
            json.dumps({"step": step, "progress": progress}))
    except OSError:
        pass


def pack(folder: Path, archive: Path) -> None:
    """The folder's files as ``archive`` (.tar.gz, .tgz, .tar or .zip), written beside it and
    renamed into place: a download never sees half an archive."""
    report(archive, "packing the archive", 0.9)
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(archive.name + ".partial")
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(folder.iterdir()):
                zf.write(f, f.name)
    else:
        mode = "w" if archive.name.endswith(".tar") else "w:gz"
        with tarfile.open(tmp, mode) as tf:
            for f in sorted(folder.iterdir()):
                tf.add(f, f.name)
    tmp.replace(archive)


def run_export(export_fn, job_dir: str, epoch: str, archive: str) -> int:
    """Any task's export entry point: ``export_fn(job_dir, epoch, archive)`` → its info,
    printed as one JSON line (``{"ok", "info"}`` or ``{"ok": false, "error"}``) for the route."""
    report(Path(archive), "loading the snapshot", 0.05)
    try:
        info = export_fn(Path(job_dir), float(epoch) if epoch else None, Path(archive))
        print(json.dumps({"ok": True, "info": info}))
        return 0
    except Exception as err:
        print(json.dumps({"ok": False, "error": f"{type(err).__name__}: {err}"}))
        return 2


