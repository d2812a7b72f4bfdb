"""The exception tree; :func:`digitsx.http.register_handlers` is the one place that turns it
into HTTP (this module imports nothing of the web layer).

    DigitsxError                  500  something failed that is not the caller's fault
     ├── NotFound                 404  unknown job, file or route
     ├── BadRequest               400  a value the caller sent is wrong
     │    ├── ValidationError     400  form fields, answered as {"errors": {field: [messages]}}
     │    └── PathNotAllowed      400  a server path outside the configured data roots
     ├── Unauthorized             401  login needed
     ├── Forbidden                403  not the owner, or refused (a dataset that models use)
     ├── Conflict                 409  the job is not in a state that allows this
     ├── PayloadTooLarge          413  an upload above MAX_CONTENT_LENGTH
     ├── TooManyRequests          429  a rate limit (failed logins, process-starting routes)
     ├── InsufficientStorage      507  the disk (jobs folder or database) is full
     └── SchedulingError          500  a resource request that can never be met

Every error carries data (a message, maybe fields); JSON clients get
``{"error": {"message", "type"}}`` with the status, browsers an error page.
"""
from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException


class DigitsxError(Exception):
    """Base of every error digitsx raises on purpose."""

    status = 500

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    @property
    def type(self) -> str:
        """The name clients see in ``error.type``."""
        return type(self).__name__


class NotFound(DigitsxError):
    status = 404


class BadRequest(DigitsxError):
    status = 400


class ValidationError(BadRequest):
    """Form errors by field name: ``ValidationError({"name": ["required"]})``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors.items()), ("form", ["invalid"]))
        super().__init__(f"{first[0]}: {first[1][0]}")
        self.errors = errors


class PathNotAllowed(BadRequest):
    pass


class Unauthorized(DigitsxError):
    status = 401


class Forbidden(DigitsxError):
    status = 403


class Conflict(DigitsxError):
    status = 409


class PayloadTooLarge(DigitsxError):
    status = 413


class TooManyRequests(DigitsxError):
    status = 429


class InsufficientStorage(DigitsxError):
    status = 507


class SchedulingError(DigitsxError):
    pass


class ServiceUnavailable(DigitsxError):
    """Something the request needs is down (a cluster's controller)."""

    status = 503


class HTTPError(DigitsxError):
    """One of werkzeug's own errors (an unknown route, a wrong method), in our shape."""

    def __init__(self, err: HTTPException) -> None:
        super().__init__(err.description or err.name)
        self.status = err.code or 500
        self.name = err.name.replace(" ", "")

    @property
    def type(self) -> str:
        return self.name


def storage_full(err: BaseException) -> bool:
    """True when ``err`` (or what it wraps) says the disk is full: ENOSPC, SQLite's
    "database or disk is full", PostgreSQL's disk-full error."""
    import errno

    seen = 0
    while err is not None and seen < 5:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(err).lower()
        if "disk is full" in text or "no space left" in text or "diskfull" in type(err).__name__.lower():
            return True
        err = getattr(err, "orig", None) or err.__cause__
        seen += 1
    return False


def error_body(err: DigitsxError) -> dict:
    """The JSON body for an error, in DIGITS's shape."""
    if isinstance(err, ValidationError):
        return {"errors": err.errors, "error": {"message": err.message, "type": err.type}}
    return {"error": {"message": err.message, "type": err.type, **err.data}}
