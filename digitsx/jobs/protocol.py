"""The worker ↔ runner protocol: one versioned JSON object per line on the worker's stdout.

Events: ``progress`` (done, total), ``metric`` (phase, epoch, step, values), ``snapshot`` (epoch,
file), ``log`` (message), ``result`` (data merged into the job's result), ``error`` (type,
message), ``rewind`` (epoch: a resumed worker drops the metric points after its snapshot).
Workers import :class:`Emitter` from here; it needs nothing but the standard library.

A warm worker (a model answering requests, :mod:`digitsx.jobs.serving`) speaks a second,
versioned message set over its stdin/stdout: first ``ready`` (``ok``, and ``epoch``/``device``
or ``error``), then for every ``request`` line (``id`` and the task's fields) one ``answer``
line (the same ``id``; the task's fields, or ``error``). :func:`serve` is a warm worker's loop.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any, Callable

VERSION = 1
EVENTS = frozenset({"progress", "metric", "snapshot", "log", "result", "error", "rewind"})


class ProtocolError(ValueError):
    """A stdout line that is not a protocol event."""


def encode(event: str, **fields: Any) -> str:
    """One event as a JSON line (with its newline)."""
    if event not in EVENTS:
        raise ProtocolError(f"unknown event {event!r}")
    return json.dumps({"v": VERSION, "event": event, "t": time.time(), **fields},
                      allow_nan=False, separators=(",", ":")) + "\n"


def decode(line: str) -> dict[str, Any]:
    """Parse one stdout line; ProtocolError names what is wrong with it."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from err
    if not isinstance(obj, dict) or obj.get("v") != VERSION or obj.get("event") not in EVENTS:
        raise ProtocolError(f"not a v{VERSION} protocol event: {line[:200]!r}")
    return obj


class Emitter:
    """What a worker uses to talk to the runner; tests pass a list-backed stream instead."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()  # a background snapshot writer speaks too

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event and flush it, so the page sees it at once."""
        line = encode(event, **fields)
        with self.lock:
            self.stream.write(line)
            self.stream.flush()

    def progress(self, done: float, total: float) -> None:
        """Report ``done`` out of ``total`` units of work."""
        self.emit("progress", done=done, total=total)

    def metric(self, phase: str, epoch: float, step: int = 0, **values: float) -> None:
        """Report metric values (loss, accuracy, lr...) for a phase at a (fractional) epoch."""
        self.emit("metric", phase=phase, epoch=epoch, step=step, values=values)

    def snapshot(self, epoch: float, file: str) -> None:
        """Report a snapshot file written in the job folder."""
        self.emit("snapshot", epoch=epoch, file=file)

    def log(self, message: str, level: str = "info") -> None:
        """A line for the job's log and its page."""
        self.emit("log", message=message, level=level)

    def result(self, **data: Any) -> None:
        """Merge ``data`` into the job's result (summary figures, file names)."""
        self.emit("result", data=data)

    def rewind(self, epoch: float) -> None:
        """Resuming from the snapshot at ``epoch``: points after it will be emitted again."""
        self.emit("rewind", epoch=epoch)

    def error(self, message: str, type: str = "Error") -> None:
        """The reason the job is failing; the worker exits non-zero after it."""
        self.emit("error", message=message, type=type)


def run_worker(run: Callable[[Path, Emitter], Any], job_dir: str,
               expected: tuple[type[BaseException], ...] = (), scratch: bool = False) -> int:
    """A worker's entry point: ``run(folder, emitter)``, then the exit status. 0 when it
    succeeds; 2 for an ``expected`` error (a problem the user can fix: its message goes to the
    page as it is); 1 for anything else (a bug: ``Type: message`` on the page, the traceback in
    the log). With ``scratch``, the folder's ``scratch/`` (unpacked uploads) goes however it
    ends (the runner removes it again when the process has gone)."""
    out = Emitter()
    try:
        run(Path(job_dir), out)
        return 0
    except expected as err:
        out.error(str(err).strip("'\""), type(err).__name__)
        return 2
    except Exception as err:
        traceback.print_exc()
        out.error(f"{type(err).__name__}: {err}", "InternalError")
        return 1
    finally:
        if scratch:
            import shutil

            shutil.rmtree(Path(job_dir) / "scratch", ignore_errors=True)


# -- warm workers: request / answer ----------------------------------------------------------
SERVE_VERSION = 1
SERVE_MESSAGES = frozenset({"ready", "request", "answer"})


def serve_message(kind: str, **fields: Any) -> str:
    """One warm-worker message as a JSON line."""
    if kind not in SERVE_MESSAGES:
        raise ProtocolError(f"unknown message {kind!r}")
    return json.dumps({"v": SERVE_VERSION, "msg": kind, **fields}, separators=(",", ":")) + "\n"


def read_message(line: str, kind: str) -> dict[str, Any]:
    """Parse a warm-worker line expected to be ``kind``; ProtocolError names what is wrong."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from err
    if not isinstance(obj, dict) or obj.get("v") != SERVE_VERSION or obj.get("msg") != kind:
        raise ProtocolError(f"not a v{SERVE_VERSION} {kind} message: {line[:200]!r}")
    return obj


def serve_model(load_model: Callable[[Path, float | None], Any], answer: Callable[[Any, dict], dict],
                job_dir: str, epoch: str = "") -> int:
    """A task's warm worker (``python -m <task>.infer JOB_DIR [EPOCH]``): ``load_model(folder,
    epoch)`` (an object with ``epoch`` and ``device``), then :func:`serve` with
    ``answer(model, request)``."""
    import sys

    def load():
        model = load_model(Path(job_dir), float(epoch) if epoch else None)
        return (lambda request: answer(model, request),
                {"epoch": model.epoch, "device": str(model.device)})

    return serve(load, sys.stdin, sys.stdout)


def serve(load: Callable[[], tuple[Callable[[dict], dict], dict]], stdin: IO[str],
          stdout: IO[str], user_errors: tuple[type[BaseException], ...] = (ValueError, OSError)) -> int:
    """A warm worker's life: ``load()`` → (answer function, ready facts), say ``ready``, then
    answer each request until stdin closes. A request the task cannot answer (``user_errors``)
    gets an ``answer`` with ``error``; the worker keeps serving."""
    try:
        answer, facts = load()
    except Exception as err:  # noqa: BLE001 - whatever stops loading is the reason
        stdout.write(serve_message("ready", ok=False, error=f"{type(err).__name__}: {err}"))
        stdout.flush()
        return 2
    stdout.write(serve_message("ready", ok=True, **facts))
    stdout.flush()
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = read_message(line, "request")
        except ProtocolError as err:
            stdout.write(serve_message("answer", id=None, error=str(err)))
            stdout.flush()
            continue
        fields = {k: v for k, v in request.items() if k not in ("v", "msg", "id")}
        try:
            out = answer(fields)
        except user_errors as err:
            out = {"error": str(err)}
        stdout.write(serve_message("answer", id=request.get("id"), **out))
        stdout.flush()
    return 0
