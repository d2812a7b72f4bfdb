"""Socket.IO namespace ``/jobs``: rooms, and the only module that emits.

Rooms: a job id (its page) and ``job_management`` (the home page). Events carry data, never
HTML, with DIGITS's names: ``job update`` (``update``: added, status, progress, attribute,
result, deleted; ``job``: the job's JSON), ``task update`` (``update``: metric, snapshot, log,
telemetry, and ``page``: the job page's whole JSON after a status or result change) and
``server update`` (GPUs available, the GPU panel, telemetry).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, leave_room

from .errors import DigitsxError

NAMESPACE = "/jobs"
HOME = "job_management"
# Event names (DIGITS's), and what ``update`` may say in each; the pages get these from here.
JOB_UPDATE, TASK_UPDATE, SERVER_UPDATE = "job update", "task update", "server update"
JOIN, JOIN_REFUSED = "join", "join refused"
JOB_UPDATES = ("added", "status", "progress", "attribute", "result", "deleted", "queue")
TASK_UPDATES = ("metric", "snapshot", "log", "telemetry", "rewind", "page")
PAGE_UPDATES = ("status", "result")  # after these, the job room gets its page's whole JSON


def client_config() -> dict[str, Any]:
    """What the pages' JavaScript needs to know of the server: event names, the statuses in
    which a job is still active."""
    from .jobs.status import ACTIVE, Status

    return {"namespace": NAMESPACE, "home": HOME, "active": [s.value for s in Status if s in ACTIVE],
            "events": {"job": JOB_UPDATE, "task": TASK_UPDATE, "server": SERVER_UPDATE,
                       "join": JOIN, "join_refused": JOIN_REFUSED}}


class Events:
    """Publishes job, task and server updates; ``summarize(job)`` gives a job's JSON."""

    def __init__(self, socketio: SocketIO, summarize: Callable[[Any], dict],
                 page: Callable[[Any], dict] | None = None) -> None:
        self.socketio = socketio
        self.summarize = summarize
        self.page = page  # a job's whole page JSON (its kind's details, log tail...)
        self.server_state: Callable[[], dict] = lambda: {}

    def _emit(self, name: str, data: dict, room: str | list[str]) -> None:
        # A list of rooms reaches each client once, even one that joined several of them.
        self.socketio.emit(name, data, namespace=NAMESPACE, to=room)

    def job_changed(self, job: Any, update: str) -> None:
        """A job row changed: its page and the home page hear it."""
        data = {"update": update, "job_id": job.id,
                "job": None if update == "deleted" else self.summarize(job)}
        self._emit(JOB_UPDATE, data, [job.id, HOME])
        if update in PAGE_UPDATES and self.page is not None and self._watched(job.id):
            # The job's own page gets everything it shows, so it never fetches it again.
            self._emit(TASK_UPDATE, {"update": "page", "job_id": job.id, "job": self.page(job)},
                       job.id)
        if update in ("status", "added", "deleted", "queue"):
            self.server_changed()

    def _watched(self, room: str) -> bool:
        """Someone is in ``room`` (the page JSON reads files: build it only for a viewer)."""
        manager = self.socketio.server.manager if self.socketio.server else None
        return manager is not None and \
            next(iter(manager.get_participants(NAMESPACE, room)), None) is not None

    def task(self, job_id: str, update: str, data: dict) -> None:
        """Metric points, snapshots and log lines go to the job's page."""
        self._emit(TASK_UPDATE, {"update": update, "job_id": job_id, **data}, job_id)

    def telemetry(self, sample: dict) -> None:
        """A telemetry sample: the home page gets all of it, each job page its own process."""
        self._emit(SERVER_UPDATE, {"update": "telemetry", **sample}, HOME)
        for job_id, stats in sample.get("jobs", {}).items():
            self._emit(TASK_UPDATE, {"update": "telemetry", "job_id": job_id,
                                       "process": stats, "gpus": sample.get("gpus", [])}, job_id)

    def server_changed(self) -> None:
        """GPUs available and the GPU panel (after any status change)."""
        self._emit(SERVER_UPDATE, {"update": "gpus", **self.server_state()}, HOME)


def register_handlers(socketio: SocketIO) -> None:
    """Clients connect as the HTTP routes would let them (session cookie, ``auth={"token"}``
    or an ``Authorization: Bearer`` header), then join rooms: ``emit('join', {room})`` — the
    home room, or the room of a job that exists."""

    @socketio.on("connect", namespace=NAMESPACE)
    def _connect(auth_data=None):
        from . import auth

        try:
            caller = auth.socket_caller(auth_data)
        except DigitsxError as err:
            raise ConnectionRefusedError(err.message) from None
        session["dx_caller"] = caller.username if caller else None

    @socketio.on(JOIN, namespace=NAMESPACE)
    def _join(data):
        room = (data or {}).get("room") if isinstance(data, dict) else data
        if not room or not isinstance(room, str):
            emit(JOIN_REFUSED, {"room": room, "message": "room: a job id or job_management"})
            return
        if room != HOME and current_app.extensions["digitsx"].store.db.get(room) is None:
            emit(JOIN_REFUSED, {"room": room, "message": f"No such job: {room}"})
            return
        join_room(room)
        emit("joined", {"room": room, "sid": request.sid})

    @socketio.on("leave", namespace=NAMESPACE)
    def _leave(data):
        room = (data or {}).get("room") if isinstance(data, dict) else data
        if room:
            leave_room(str(room))
