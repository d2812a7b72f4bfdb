"""The gevent server sets TCP_NODELAY on every accepted connection."""
from __future__ import annotations

import socket
import threading

import pytest
import requests

from digitsx.server import NoDelayServer


def _nodelay_app(environ, start_response):
    # The same path simple-websocket takes to reach the connection's socket under gevent.
    sock = environ["wsgi.input"].rfile.raw._sock
    value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(int(bool(value))).encode()]


def _serve_in_thread(nodelay: bool):
    """Run the server in a thread with its own gevent hub; return (port, stop)."""
    ready, box = threading.Event(), {}

    def run():
        import gevent

        server = NoDelayServer(("127.0.0.1", 0), _nodelay_app, log=None, nodelay=nodelay)
        server.start()
        box.update(port=server.server_port, server=server, hub=gevent.get_hub())
        ready.set()
        server._stop_event.wait()

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(10)
    return box["port"], lambda: box["hub"].loop.run_callback_threadsafe(box["server"].stop)


@pytest.mark.parametrize("nodelay,expected", [(True, "1"), (False, "0")])
def test_accepted_connections_have_tcp_nodelay(nodelay, expected):
    port, stop = _serve_in_thread(nodelay)
    try:
        with requests.Session() as s:
            assert s.get(f"http://127.0.0.1:{port}/", timeout=5).text == expected
    finally:
        stop()
