"""The build worker in-process: threads and processes give identical databases; archives."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from digitsx import archives
from digitsx.classification import build
from digitsx.classification.discover import DatasetInputError
from digitsx.datasets.lmdb_io import LmdbReader
from digitsx.jobs.protocol import Emitter
from tests.datasets.conftest import photo


def make_job(tmp_path, tree, name, **image):
    job = tmp_path / name
    job.mkdir()
    spec = {"method": "folder", "backend": "lmdb", "data_roots": [str(tree.parent)], "seed": 3,
            "workers": 2, "parallel": name,
            "image": {"width": 40, "height": 24, "channels": 3, "resize_mode": "half_crop",
                      "encoding": "png", **image},
            "folder": {"train": str(tree), "archive": None, "pct_val": 30, "pct_test": 10,
                       "train_min": 2, "train_max": None}}
    (job / "spec.json").write_text(json.dumps(spec))
    return job


def test_threads_and_processes_build_identical_datasets(tmp_path):
    tree = tmp_path / "data" / "photos"
    for c in range(3):
        (tree / f"c{c}").mkdir(parents=True)
        for i in range(12):
            photo(tree / f"c{c}" / f"{i}.jpg", seed=c * 100 + i, size=(64 + 7 * i, 48))
    metas = {}
    for kind in ("threads", "processes"):
        job = make_job(tmp_path, tree, kind)
        metas[kind] = build.run(job, Emitter(io.StringIO()))
    assert metas["threads"]["splits"] == metas["processes"]["splits"]
    for split in ("train", "val", "test"):
        a = LmdbReader(tmp_path / "threads" / split)
        b = LmdbReader(tmp_path / "processes" / split)
        assert len(a) == len(b) > 0
        for i in range(len(a)):
            assert a.raw(i) == b.raw(i)  # same order, same pixels (seeded noise padding)
    mean_a = (tmp_path / "threads" / "mean.npy").read_bytes()
    assert mean_a == (tmp_path / "processes" / "mean.npy").read_bytes()


def test_worker_never_imports_flask_or_the_database():
    code = ("import sys, digitsx.classification.build\n"
            "print([m for m in ('flask', 'sqlalchemy', 'flask_socketio') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_zip_slip_and_symlinks_are_refused(tmp_path):
    dest = tmp_path / "out"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("ok/a.txt", "fine")
        zf.writestr("../../evil.txt", "bad")
    with pytest.raises(DatasetInputError, match="outside the extraction folder"):
        archives.extract(evil, dest, 10**6)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "ok" / "a.txt").exists()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("a/passwd")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetInputError, match="symbolic link"):
        archives.extract(link, dest, 10**6)
    tlink = tmp_path / "link.tar"
    with tarfile.open(tlink, "w") as tf:
        info = tarfile.TarInfo("a/b")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tf.addfile(info)
    with pytest.raises(DatasetInputError, match="link or special file"):
        archives.extract(tlink, dest, 10**6)


def test_zip_bomb_is_refused(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/zeros.bin", b"\0" * 5_000_000)
    assert os.path.getsize(bomb) < 100_000
    with pytest.raises(DatasetInputError, match="unpacks to more than"):
        archives.extract(bomb, tmp_path / "out", 1_000_000)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_bombs_are_refused_by_ratio_and_members_and_leave_nothing(tmp_path, kind):
    # 8 MiB of zeros packs to a few KiB: far past 100x, with no cap on the size itself
    bomb = tmp_path / f"bomb.{kind}"
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(b"\0" * 8 * 2**20)
    if kind == "zip":
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a/ok.txt", "fine")
            zf.write(zeros, "a/zeros.bin")
    else:
        with tarfile.open(bomb, "w:gz") as tf:
            tf.add(zeros, "a/zeros.bin")
    out = tmp_path / "out"
    with pytest.raises(DatasetInputError, match=r"more than 100x .* \(a zip bomb\?\)"):
        archives.extract(bomb, out, 2**40, min_bomb_bytes=2**20)
    assert list(out.iterdir()) == []
    # the same archive is fine below the bomb threshold (small archives may compress well)
    assert archives.extract(bomb, out, 2**40, min_bomb_bytes=16 * 2**20) >= 1
    many = tmp_path / f"many.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(many, "w") as zf:
            for i in range(30):
                zf.writestr(f"a/{i}.txt", "x")
    else:
        with tarfile.open(many, "w:gz") as tf:
            for i in range(30):
                tf.addfile(tarfile.TarInfo(f"a/{i}.txt"))
    with pytest.raises(DatasetInputError, match="more than 20 members"):
        archives.extract(many, tmp_path / "out2", 2**40, max_members=20)
    assert list((tmp_path / "out2").iterdir()) == []


def test_not_an_archive(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip")
    with pytest.raises(DatasetInputError, match="not a readable archive"):
        archives.extract(fake, tmp_path / "out", 10**6)


def test_a_killed_image_worker_fails_the_build_within_seconds(monkeypatch):
    import signal
    import time

    import psutil

    from digitsx.classification import imaging

    def slow(job, item):  # forked workers inherit this stand-in
        time.sleep(0.02)
        return imaging.Processed(item[0], item[1], "skipped")

    monkeypatch.setattr(imaging, "process_one", slow)
    images = imaging.ParallelImages(None, [(i, f"e{i}") for i in range(2000)], workers=2,
                                    kind="processes")
    stream = iter(images)
    next(stream)
    victim = psutil.Process().children()[0]
    victim.send_signal(signal.SIGKILL)  # what the OOM killer does
    started = time.time()
    with pytest.raises(RuntimeError, match=r"killed by SIGKILL \(out of memory\?\)"):
        for _ in stream:
            pass
    assert time.time() - started < 10
    gone = lambda: not [c for c in psutil.Process().children() if c.status() != "zombie"]
    deadline = time.time() + 5
    while not gone() and time.time() < deadline:
        time.sleep(0.05)
    assert gone()
