"""Who is asking, as DIGITS did it: a username cookie (or a ``username`` field for scripts).

Real authentication (passwords, tokens) plugs in here later: everything else asks only
:func:`current_username`, :func:`require_login` and :func:`require_owner`.
"""
from __future__ import annotations

import re
import time

from flask import Flask, g, request, session

from .errors import Forbidden, Unauthorized, ValidationError

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")


def validate_username(name: str) -> str:
    """The name if DIGITS would accept it, else a ValidationError on ``username``."""
    name = (name or "").strip()
    if not USERNAME.match(name):
        raise ValidationError({"username": [
            "Usernames start with a lowercase letter, then lowercase letters, digits, '.', '_' "
            "or '-' (at most 64 characters)."]})
    return name


def current_username() -> str | None:
    """The logged-in user (signed cookie) or the ``username`` field a script sent."""
    if "username" in g:
        return g.username
    name = session.get("username")
    field = request.values.get("username")
    if not field and request.is_json and isinstance(request.get_json(silent=True), dict):
        field = request.get_json(silent=True).get("username")
    if field and request.endpoint != "main.login":
        name = validate_username(field)
    g.username = name
    return name


def require_login() -> str:
    """The current user, or Unauthorized."""
    name = current_username()
    if not name:
        raise Unauthorized("Log in first (POST /login with username, or send a username field).")
    return name


def require_owner(job, action: str) -> None:
    """Only a job's owner may edit, abort or delete it."""
    if not job.username:
        return
    name = current_username()
    if not name:
        raise Unauthorized(f"Log in as {job.username} to {action} this job.")
    if name != job.username:
        raise Forbidden(f"Only {job.username} may {action} job {job.name} ({job.id}); "
                        f"you are logged in as {name}.")


def login(name: str) -> str:
    """Start a session for ``name`` (remembered in the users table)."""
    from .db import User
    from .extensions import db

    name = validate_username(name)
    session["username"] = name
    session.permanent = True
    with db.session() as s:
        user = s.get(User, name) or User(username=name, created=time.time())
        user.last_login = time.time()
        s.add(user)
    return name


def logout() -> None:
    """End the session."""
    session.pop("username", None)


def init_app(app: Flask) -> None:
    """Make the username available to every template."""
    app.context_processor(lambda: {"username": current_username()})
