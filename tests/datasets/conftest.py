"""Image trees on disk for the dataset tests: real MNIST digits and generated photos."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from digitsx.classification.demo import write_mnist_folder
from tests.conftest import PASSWORD_MODE, token_session

_CACHE: dict[int, Path] = {}


@pytest.fixture
def data_root(tmp_path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def mnist_tree(data_root, tmp_path_factory) -> Path:
    """A class-per-folder tree of 30 real MNIST digits per class (300 PNG files)."""
    if 30 not in _CACHE:
        _CACHE[30] = tmp_path_factory.mktemp("mnist") / "mnist"
        write_mnist_folder(_CACHE[30], per_class=30)
    dest = data_root / "mnist"
    shutil.copytree(_CACHE[30], dest)
    return dest


def photo(path: Path, seed: int, size=(500, 375)) -> Path:
    """A JPEG with smooth structure (not noise), like a small photo."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.BICUBIC).save(path, quality=90)
    return path


@pytest.fixture
def dataset_server(request, server_factory, data_root):
    """A real server whose only data root is the test's data folder; logged-in session.

    Open mode by default (a username login); parametrized indirectly with "password", the
    server has accounts and the session uses an API token (``Authorization: Bearer``)."""
    mode = getattr(request, "param", "open")
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root), DIGITSX_MAX_CONTENT_LENGTH="5000000",
                            **(PASSWORD_MODE if mode == "password" else {}))
    if mode == "password":
        server.session = token_session(server)
        return server
    s = requests.Session()
    s.headers["Accept"] = "application/json"
    assert s.post(server.url + "/login", data={"username": "alice"}).ok
    server.session = s
    return server
