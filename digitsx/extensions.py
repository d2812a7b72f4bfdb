"""Extensions created unbound; :func:`digitsx.create_app` binds them to an app."""
from __future__ import annotations

from flask_socketio import SocketIO

from .db import Database

db = Database()
socketio = SocketIO()


STREAM_BATCH = 250  # points a long answer reads and writes between two turns (~2-3 ms of work)


def give_turn() -> None:
    """Let the other requests run between two batches of a long answer. A positive sleep, not
    ``sleep(0)``: gevent may run a greenlet that sleeps 0 again before its loop polls for I/O,
    and a 200,000-point ``metrics.json`` streamed with ``sleep(0)`` between its batches held a
    waiting request for a whole second, twice."""
    socketio.sleep(0.0005)
