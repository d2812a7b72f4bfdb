"""The gevent WSGI server: Flask + Socket.IO (websocket through simple-websocket)."""
from __future__ import annotations

import logging
import signal
import socket

from gevent import pywsgi

log = logging.getLogger("digitsx.server")


class OneSendHandler(pywsgi.WSGIHandler):
    """Sends a small response's header block and body in one ``send``: gevent sends them
    separately, which costs a syscall and a wake-up of the client per response."""

    def _write_with_headers(self, data) -> None:
        if not data or self.response_use_chunked or len(data) > 65536:
            super()._write_with_headers(data)
            return
        block: list[bytes] = []
        self._sendall = block.append  # capture the header block (an empty body is not sent)
        try:
            super()._write_with_headers(b"")
        finally:
            del self._sendall
        if self.response_use_chunked:  # decided just now (a streamed answer): frame the chunk
            data = b"%x\r\n%s\r\n" % (len(data), bytes(data))
        self._sendall(bytes(block[0]) + data)


class NoDelayServer(pywsgi.WSGIServer):
    """Sets TCP_NODELAY on each connection: keep-alive REST calls otherwise stall ~40 ms
    (Nagle's algorithm waiting on the client's delayed ACK). ``nodelay=False`` is for the
    benchmark that measures the difference."""

    handler_class = OneSendHandler

    def __init__(self, *args, nodelay: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.nodelay = nodelay

    def handle(self, sock, address) -> None:
        if self.nodelay:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP
        super().handle(sock, address)


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything else starts (a port in use is one clear line,
    an OSError naming it and ``--port``, not a traceback after "serving on"). It listens only
    once the app is ready (:func:`serve`): until then a client is refused, not left waiting."""
    import errno

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        return sock
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise OSError(err.errno, f"port {port} on {host} is already in use (another digitsx "
                                     f"or another server?); choose another with --port") from None
        if err.errno == errno.EACCES:
            raise OSError(err.errno, f"no permission to listen on port {port} (ports below 1024 "
                                     f"need root); choose another with --port") from None
        raise


def serve(host: str, port: int, debug: bool = False) -> None:
    """Create the app and serve it until SIGINT/SIGTERM."""
    from . import create_app
    from .config import is_loopback

    listener = listen(host, port)
    app = create_app({"LISTEN_HOST": host,
                      "AUTH_DEFAULT": "open" if is_loopback(host) else "password"})
    app.debug = debug
    if not debug:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = NoDelayServer(listener, app, log=None if not debug else log, error_log=log,
                           nodelay=bool(app.config.get("TCP_NODELAY", True)))

    def stop(*_):
        app.extensions["digitsx"].stop()
        server.stop(timeout=2)

    import gevent

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    platform = app.extensions["digitsx"]
    gpus = len(platform.pool.gpus)
    print(f"digitsx serving on http://{host}:{port}/ — jobs in {app.config['JOBS_DIR']}, "
          f"{gpus} GPU{'s' if gpus != 1 else ''}{'' if gpus else ' (training on the CPU)'}, "
          f"{app.config['AUTH']} mode"
          f"{' (accounts and passwords)' if app.config['AUTH'] == 'password' else ' (no passwords: loopback only)'}",
          flush=True)
    listener.listen(1024)
    server.serve_forever()
