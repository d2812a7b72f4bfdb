"""A loopback HTTP server that plays hostile model stores, one per top folder, beside a good
one, and an "internal" server that must never be reached through them."""
from __future__ import annotations

import http.server
import json
import threading
import time

GOOD_INFO = {"name": "good", "framework": "torch", "network": "lenet", "image dimensions": [28, 28, 1],
             "snapshot file": "model.pt", "model file": "network.py", "labels file": "labels.txt",
             "classes": 2}


class Internal:
    """Stands for a service on the server's own network (a database, a metadata endpoint)."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                body = b"SECRET internal answer"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Stores:
    """``/<store>/master.json`` and ``/<store>/<model>/<file>`` for each store in ``routes``."""

    def __init__(self, internal: Internal, model_pt: bytes = b"") -> None:
        nested = "[" * 100_000 + "]" * 100_000
        routes = {
            "/good/master.json": {"msg": "good", "children": ["m", "nan", "upper", "badhash", "crop", "bidi", "deep", "redir",
                                                               {"a": 1}, "../x"]},
            "/good/m/info.json": GOOD_INFO,
            "/good/nan/info.json": '{"name": "x", "classes": NaN, "snapshot file": "model.pt", "model file": "n.py"}',
            "/good/upper/info.json": {**GOOD_INFO, "sha256": {"MODEL.PT": "AB" * 32}},
            "/good/badhash/info.json": {**GOOD_INFO, "sha256": {"model.pt": "AB" * 31 + "G1"}},
            "/good/crop/info.json": {**GOOD_INFO, "preprocessing": {"use_mean": "none", "crop_size": 10**9}},
            "/good/bidi/info.json": {**GOOD_INFO, "name": "harmless\u202egpj.exe"},
            "/good/deep/info.json": nested,
            "/good/redir/info.json": ("redirect", internal.url + "/info.json"),
            "/good/m/model.pt": model_pt,
            "/nested/master.json": nested,
            "/elsewhere/master.json": ("redirect", internal.url + "/master.json"),
            "/ftp/master.json": ("redirect", "ftp://127.0.0.1/master.json"),
            "/same/master.json": ("redirect", "/good/master.json"),
            "/drip/master.json": ("drip", b'{"children": []}' + b" " * 10_000),
            "/dripfile/m/model.pt": ("drip", b"x" * 100_000),
        }
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                found = routes.get(self.path.split("?")[0])
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(found, tuple) and found[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", found[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(found, tuple) and found[0] == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(found[1])))
                    self.end_headers()
                    try:
                        for byte in found[1]:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.5)
                    except OSError:
                        return
                    return
                body = found if isinstance(found, bytes) else (
                    found if isinstance(found, str) else json.dumps(found)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
