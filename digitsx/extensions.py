"""Extensions created unbound; :func:`digitsx.create_app` binds them to an app."""
from __future__ import annotations

from flask_socketio import SocketIO

from .db import Database

db = Database()
socketio = SocketIO()
