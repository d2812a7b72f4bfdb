"""Login, logout, the account page (password, API tokens), and user management for admins.

``/api/...`` routes answer JSON, except to a browser's form post, which gets the page back.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request, url_for)
from flask_wtf.csrf import generate_csrf

from ..errors import BadRequest, DigitsxError, Unauthorized, ValidationError
from ..http import form_post, page, twin_route, wants_json
from . import (accounts, check_password, current_caller, end_session, mode,
               refuse_unless_password_mode, require_admin, require_login, start_session)
from .accounts import bad_request_if_not_bool, validate_username

bp = Blueprint("auth", __name__)


def safe_next(target: object) -> str:
    """``next`` only inside this site: a path, never ``//host``, ``/\\host`` or control chars."""
    if not isinstance(target, str):
        return "/"
    target = target.strip()
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target)):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _body() -> dict:
    """The form, or a JSON object (anything else is a 400)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadRequest("The JSON body must be an object.")
        return body
    return request.form.to_dict()


def _browser_form() -> bool:
    """A form a browser posted (curl and scripts ask for */* or JSON)."""
    return not request.is_json and "text/html" in request.headers.get("Accept", "")


@bp.route("/login", methods=["GET", "POST"])
@bp.route("/login.json", methods=["GET"], endpoint="login_json")
@form_post
def login():
    """Log in (``username``, and ``password`` in password mode); sets the session cookie and
    answers ``{username, csrf_token}``."""
    if request.method == "GET":
        if wants_json():
            caller = current_caller()
            return {"username": caller.username if caller else None, "mode": mode(),
                    "csrf_token": generate_csrf()}
        return render_template("auth/login.html", next=safe_next(request.args.get("next", "")))
    try:
        values = _body()
        if mode() == "password":
            if values.get("password") in (None, ""):
                raise Unauthorized("This server has accounts: send username and password, or "
                                   "use an API token (Authorization: Bearer <token>).")
            account = check_password(values.get("username"), values.get("password"))
            name = account.username
            start_session(name, account.stamp)
        else:
            name = validate_username(values.get("username", ""))
            accounts().seen(name)
            start_session(name)
    except DigitsxError as err:
        if wants_json():
            raise
        return render_template("auth/login.html", next=safe_next(request.form.get("next")),
                               error=err.message, username=request.form.get("username", "")), \
            err.status
    if wants_json():
        return {"username": name, "csrf_token": generate_csrf()}
    return redirect(safe_next(values.get("next")))


@bp.route("/logout", methods=["GET", "POST"])
@form_post
def logout():
    """End the session (GET shows a button: logging out is a POST)."""
    if request.method == "GET":
        return render_template("auth/logout.html")
    end_session()
    return {"username": None} if wants_json() else redirect(url_for("auth.login"))


def _account_page(new_token: dict | None = None, status: int = 200):
    name = require_login()
    caller = current_caller()
    data = {"username": name, "mode": mode(), "is_admin": caller.is_admin,
            "can_run_code": caller.can_run_code,
            "tokens": accounts().tokens(name) if mode() == "password" else []}
    if wants_json() and not new_token:
        return data
    return render_template("auth/account.html", account=data, new_token=new_token), status


@twin_route(bp, "/account", endpoint="account")
def account():
    """Your account: name, permissions and API tokens."""
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@form_post
def change_password():
    """Change your password (``current_password``, ``new_password``): other sessions end."""
    refuse_unless_password_mode("Passwords")
    name = require_login()
    values = _body()
    try:
        if values.get("confirm_password") not in (None, values.get("new_password")):
            raise ValidationError({"confirm_password": ["does not match the new password"]})
        check_password(name, values.get("current_password"))
        updated = accounts().update(name, password=values.get("new_password"))
    except DigitsxError as err:
        if wants_json():
            raise
        flash(err.message, "error")
        return redirect(url_for("auth.account"))
    if current_caller().via == "session":
        start_session(name, updated.stamp)
    if name == "admin":  # the first-start password is no longer the password
        (Path(current_app.config["JOBS_DIR"]) / "initial_admin_password").unlink(missing_ok=True)
    if wants_json():
        return {"username": name, "status": "Password changed.", "csrf_token": generate_csrf()}
    flash("Password changed; other sessions have ended.", "ok")
    return redirect(url_for("auth.account"))


@bp.route("/api/tokens", methods=["GET", "POST"], endpoint="tokens")
def tokens():
    """Your API tokens; POST (``name``, optional ``expires_days``) makes one:
    ``{id, token, name}`` (the token is shown only now). Accepts HTTP Basic."""
    refuse_unless_password_mode("API tokens")
    name = require_login()
    if request.method == "GET":
        return {"tokens": accounts().tokens(name)}
    values = _body()
    created = accounts().create_token(name, values.get("name", ""), values.get("expires_days"))
    if _browser_form():
        return _account_page(new_token=created, status=201)
    return created, 201


@bp.route("/api/tokens/<token_id>", methods=["DELETE"])
@bp.route("/api/tokens/<token_id>/revoke", methods=["POST"], endpoint="revoke_token")
def token(token_id: str):
    """Revoke one of your tokens (an admin may revoke anyone's)."""
    refuse_unless_password_mode("API tokens")
    name = require_login()
    accounts().revoke_token(name, token_id, admin=current_caller().is_admin)
    if _browser_form():
        flash("Token revoked.", "ok")
        return redirect(url_for("auth.account"))
    return {"status": "Token revoked.", "id": token_id}


def _user_answer(message: str, data: dict, status: int = 200):
    if _browser_form():
        flash(message, "ok")
        return redirect(url_for("auth.users_page"))
    return data, status


@bp.route("/api/users", methods=["GET", "POST"], endpoint="users")
def users():
    """Admins: every account; POST (``username``, ``password``, ``is_admin``,
    ``can_run_code``) creates one."""
    refuse_unless_password_mode("Accounts")
    require_admin()
    if request.method == "GET":
        return {"users": accounts().list()}
    values = _body()
    try:
        made = accounts().create(
            values.get("username"), values.get("password"),
            bool(bad_request_if_not_bool(values.get("is_admin"), "is_admin")),
            bool(bad_request_if_not_bool(values.get("can_run_code"), "can_run_code")))
    except DigitsxError as err:
        if not _browser_form():
            raise
        flash(err.message, "error")
        return redirect(url_for("auth.users_page"))
    return _user_answer(f"User {made.username} created.", made.as_dict(), 201)


@bp.route("/api/users/<username>", methods=["GET", "PATCH", "POST"], endpoint="user")
def user(username: str):
    """Admins: one account; PATCH (or a form POST) sets ``is_admin``, ``can_run_code``,
    ``active`` or ``password``."""
    refuse_unless_password_mode("Accounts")
    require_admin()
    if request.method == "GET":
        return accounts().require(username).as_dict()
    values = _body()
    flags = {k: bad_request_if_not_bool(values.get(k), k)
             for k in ("is_admin", "can_run_code", "active")}
    password = values.get("password") or None
    try:
        changed = accounts().update(username, password=password, **flags)
    except DigitsxError as err:
        if not _browser_form():
            raise
        flash(err.message, "error")
        return redirect(url_for("auth.users_page"))
    return _user_answer(f"User {username} updated.", changed.as_dict())


@bp.route("/admin/users", endpoint="users_page")
@page
def users_page():
    """Admins: the users page (create, reset passwords, permissions, disable)."""
    refuse_unless_password_mode("Accounts")
    require_admin()
    return render_template("auth/users.html", users=accounts().list())


def announce_admin_password(app, password: str) -> None:
    """Show a generated admin password once and keep it in a file only its owner can read."""
    path = Path(app.config["JOBS_DIR"]) / "initial_admin_password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    os.chmod(path, 0o600)
    print(f"digitsx: created the 'admin' account with password {password} (kept in {path}, "
          f"readable only by you: log in and change it)", flush=True)
