"""Published weights for the tests, which cannot reach download.pytorch.org: files made here
(random weights in the architecture torchvision publishes, under torchvision's file names),
served by a loopback HTTP server, and a catalog (``DIGITSX_WEIGHTS_CATALOG``) that publishes
them with their own hashes."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
import time
from pathlib import Path

from digitsx.models import published


class Files(http.server.SimpleHTTPRequestHandler):
    hits: dict[str, int]

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        self.hits[name] = self.hits.get(name, 0) + 1
        time.sleep(getattr(self.server, "delays", {}).get(Path(name).suffix, 0))
        if getattr(self.server, "endless", False):
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                return
        super().do_GET()


class Mirror:
    """A loopback HTTP server for the files under ``folder``; ``hits`` counts requests;
    ``delays``: seconds to wait before answering for a file, by its suffix (``{".pt": 4}``)."""

    def __init__(self, folder: Path, endless: bool = False, delays: dict[str, float] | None = None) -> None:
        handler = type("Handler", (Files,), {"hits": {}})
        self.hits = handler.hits
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        self.httpd.endless = endless  # type: ignore[attr-defined]
        self.httpd.delays = delays or {}  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def state_dict_file(builder, folder: Path, name: str, **kwargs) -> Path:
    """A torchvision network's random weights, saved as ``name`` (torchvision's file name)."""
    import torch

    torch.manual_seed(0)
    model = builder(weights=None, **kwargs)
    path = folder / name
    torch.save(model.state_dict(), path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish(files: dict[str, Path], target: Path) -> Path:
    """A catalog like torchvision's with ``files`` (weights name → file) published under
    their true hashes; everything else as torchvision publishes it."""
    catalog = json.loads(json.dumps(published.catalog()))
    for name, path in files.items():
        entry = catalog["weights"][name]
        assert entry["file"] == path.name
        entry["sha256_prefix"] = sha256(path)[:8]
        entry["sha256"] = sha256(path)  # pinned, as weights_sha256.json pins the real files
        entry["size_mb"] = path.stat().st_size / 1e6
    target.write_text(json.dumps(catalog))
    return target
