"""The gevent WSGI server: Flask + Socket.IO (websocket through simple-websocket)."""
from __future__ import annotations

import logging
import signal
import socket

from gevent import pywsgi

log = logging.getLogger("digitsx.server")


class NoDelayServer(pywsgi.WSGIServer):
    """Sets TCP_NODELAY on each connection: keep-alive REST calls otherwise stall ~40 ms
    (Nagle's algorithm waiting on the client's delayed ACK)."""

    def init_socket(self) -> None:
        super().init_socket()
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self, sock, address) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not TCP (a unix socket in tests)
        super().handle(sock, address)


def serve(host: str, port: int, debug: bool = False) -> None:
    """Create the app and serve it until SIGINT/SIGTERM."""
    from . import create_app

    app = create_app()
    app.debug = debug
    if not debug:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = NoDelayServer((host, port), app, log=None if not debug else log,
                           error_log=log)

    def stop(*_):
        app.extensions["digitsx"].stop()
        server.stop(timeout=2)

    import gevent

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    platform = app.extensions["digitsx"]
    gpus = len(platform.pool.gpus)
    print(f"digitsx serving on http://{host}:{port}/ — jobs in {app.config['JOBS_DIR']}, "
          f"{gpus} GPU{'s' if gpus != 1 else ''}{'' if gpus else ' (training on the CPU)'}",
          flush=True)
    server.serve_forever()
