"""Request helpers shared by every blueprint: JSON twins of pages, form input, and the error
handlers that turn :mod:`digitsx.errors` into HTTP answers."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from .errors import (BadRequest, DigitsxError, HTTPError, InsufficientStorage, PayloadTooLarge,
                     error_body, storage_full)


def wants_json() -> bool:
    """True when the URL ends in ``.json`` or ``Accept: application/json`` outranks HTML."""
    if request.path.endswith(".json") or request.is_json and request.method != "GET":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and (
        request.accept_mimetypes["application/json"] > request.accept_mimetypes["text/html"]
    )


def twin_route(bp: Blueprint, rule: str, **options: Any) -> Callable:
    """Register a view under ``rule`` and ``rule + '.json'`` (DIGITS's JSON twin of every page)."""

    def decorator(view: Callable) -> Callable:
        bp.add_url_rule(rule, view_func=view, **options)
        json_options = dict(options, endpoint=f"{options.get('endpoint', view.__name__)}_json")
        bp.add_url_rule(rule + ".json", view_func=view, **json_options)
        return view

    return decorator


def page(view: Callable) -> Callable:
    """Mark a view as an HTML page only (a form to fill in): not part of the API document."""
    view.dx_page = True  # type: ignore[attr-defined]
    return view


def form_post(view: Callable) -> Callable:
    """Mark a view a browser form posts to: it may answer a page or a redirect (JSON to a
    JSON client), and the API document says so."""
    view.dx_html = True  # type: ignore[attr-defined]
    return view


def form_value(name: str, default: Any = None) -> Any:
    """A field from the form (multipart or urlencoded), the query string, or a JSON body."""
    if name in request.form:
        return request.form[name]
    if request.is_json:
        body = request.get_json(silent=True) or {}
        if isinstance(body, dict) and name in body:
            return body[name]
    return request.args.get(name, default)


def form_list(name: str) -> list[str]:
    """A repeated field (``job_ids[]`` or ``job_ids``), from a form, query or JSON body."""
    values: list[str] = []
    for key in (f"{name}[]", name):
        values += request.form.getlist(key) + request.args.getlist(key)
        if request.is_json:
            body = request.get_json(silent=True) or {}
            raw = body.get(key) if isinstance(body, dict) else None
            if raw is not None:
                values += list(raw) if isinstance(raw, (list, tuple)) else [raw]
    out: list[str] = []
    for value in values:
        for part in str(value).split(","):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
    return out


def platform():
    """The current app's :class:`~digitsx.platform.Platform` (store, scheduler, runner...)."""
    return current_app.extensions["digitsx"]


def form_values() -> dict[str, Any]:
    """Every plain field of the form, or of a JSON body (nested values are ignored)."""
    values = request.form.to_dict() if request.form else {}
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        values.update({k: v for k, v in body.items() if not isinstance(v, (dict, list))})
    return values


def form_defaults(defaults: dict[str, Any], name_field: str) -> dict[str, Any]:
    """A new-job page's values: the form's defaults, or (``?clone=<id>``) that job's form with
    " (clone)" after its name."""
    values = dict(defaults)
    clone = request.args.get("clone")
    if clone:
        values.update(platform().store.get(clone).spec.get("form", {}))
        values[name_field] = values.get(name_field, "") + " (clone)"
    return values


def name_problem(value: str, required: bool = True, limit: int = 256) -> str | None:
    """What is wrong with a job or group name, or None: required (or not), at most ``limit``
    characters, no control characters (a NUL or newline in a name breaks logs and pages)."""
    if not value:
        return "required" if required else None
    if len(value) > limit:
        return f"at most {limit} characters (got {len(value)})"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "may not contain control characters (NUL, tab, newline...)"
    return None


def reject_bad_json() -> None:
    """Before every request: a body sent as JSON must parse (it was read as empty before)."""
    if request.is_json and request.method not in ("GET", "HEAD", "OPTIONS") and \
            request.content_length != 0 and request.get_data(cache=True):
        try:
            body = request.get_json(force=True, cache=True)
        except Exception as err:  # werkzeug's BadRequest carries the parser's words
            detail = getattr(err, "description", None) or str(err)
            raise BadRequest(f"The request body is not valid JSON: {detail}") from None
        if not isinstance(body, dict):
            raise BadRequest(f"The request body must be a JSON object of fields, "
                             f"not {type(body).__name__ if body is not None else 'null'}")


def register_handlers(app: Flask) -> None:
    """Map the tree (and werkzeug's own HTTP errors) to JSON or an HTML page."""
    def respond(err: DigitsxError, headers: dict | None = None):
        headers = dict(headers or {})
        if "retry_after" in err.data:
            headers["Retry-After"] = str(err.data["retry_after"])
        if err.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="digitsx"'
        # An error is a page only for a browser asking for one; curl, fetch() and scripts
        # (Accept */*) get JSON on every route, .json suffix or not.
        if wants_json() or "text/html" not in request.headers.get("Accept", ""):
            return error_body(err), err.status, headers
        return render_template("errors/error.html", error=err), err.status, headers

    @app.errorhandler(DigitsxError)
    def _digitsx(err: DigitsxError):
        return respond(err)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        if err.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return respond(PayloadTooLarge(f"Upload too large: the limit is {limit} bytes."))
        allow = {k: v for k, v in err.get_headers() if k == "Allow"}  # a 405 says what works
        return respond(HTTPError(err), allow)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return _http(err)
        if storage_full(err):
            app.logger.error("disk full on %s: %s", request.path, err)
            return respond(InsufficientStorage(
                f"The server's disk is full, so nothing could be saved ({err.__class__.__name__}: "
                f"{str(err).splitlines()[0][:200]}). Free some space in the jobs folder and try "
                f"again."))
        app.logger.exception("unhandled error on %s", request.path)
        return respond(DigitsxError(f"Internal error: {err}"))
