"""Who is asking (:func:`current_caller`: a session, a Bearer token, HTTP Basic for tokens, or
open mode's username), and what they may do: log in, own a job, run code, start processes."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from flask import Flask, current_app, g, request, session

from ..config import is_loopback
from ..errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from .accounts import Account, Accounts, validate_username
from .throttle import Throttle

BASIC_ENDPOINTS = {"auth.tokens"}  # HTTP Basic only to get a token: argon2 is slow on purpose


@dataclass(frozen=True)
class Caller:
    """The user a request acts for, and how it proved it (session, token, basic or field)."""

    username: str
    is_admin: bool = False
    can_run_code: bool = False
    via: str = "session"

    @classmethod
    def of(cls, account: Account, via: str) -> "Caller":
        return cls(account.username, account.is_admin, account.can_run_code, via)


def mode() -> str:
    return current_app.config["AUTH"]


def accounts() -> Accounts:
    return current_app.extensions["digitsx.accounts"]


def throttle() -> Throttle:
    return current_app.extensions["digitsx.throttle"]


# --- who is asking ------------------------------------------------------------------------
def _username_field() -> str | None:
    value = request.values.get("username")
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        value = body.get("username") if isinstance(body, dict) else None
    if value in (None, ""):
        return None
    return validate_username(value)


def _token_caller(token: str) -> Caller:
    found = accounts().check_token(token)
    if found is None:
        raise Unauthorized("The API token is invalid, expired or revoked: create a new one "
                           "(POST /api/tokens, or your account page).")
    return Caller.of(found[0], "token")


def _from_authorization(header: str) -> Caller:
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return _token_caller(value)
    if scheme == "basic" and value:
        if request.endpoint not in BASIC_ENDPOINTS:
            raise Unauthorized("HTTP Basic is accepted only by /api/tokens, to get a token: "
                               "send 'Authorization: Bearer <token>' here.")
        try:
            username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise Unauthorized("Malformed HTTP Basic credentials: expected base64 of "
                               "'username:password'.")
        return Caller.of(check_password(username, password), "basic")
    raise Unauthorized("Malformed Authorization header: send 'Bearer <token>' "
                       "(or 'Basic' to /api/tokens).")


def _resolve() -> Caller | None:
    if mode() == "password":
        header = request.headers.get("Authorization")
        if header is not None:
            return _from_authorization(header)
        name = session.get("username")
        if not name:
            return None
        account = accounts().get(name)
        if (account is None or not account.active or not account.has_password
                or session.get("stamp") != account.stamp):
            session.pop("username", None)  # disabled, deleted, or the password changed since
            session.pop("stamp", None)
            return None
        return Caller.of(account, "session")
    name = session.get("username")
    if name:
        return Caller(name, can_run_code=True, via="session")
    if request.endpoint in ("auth.login", "auth.login_json"):
        return None
    field = _username_field()
    return Caller(field, can_run_code=True, via="field") if field else None


def acting_as(app: Flask, username: str):
    """A request context in which ``username`` is the caller, with the rights their account has
    now: work a server does for a user later (a study's next trial) is checked as theirs. A
    disabled or deleted account (password mode) has none: Forbidden."""
    context = app.test_request_context("/")
    context.push()
    try:
        if app.config["AUTH"] == "password":
            account = accounts().get(username)
            if account is None or not account.active:
                raise Forbidden(f"the account {username} is disabled or gone")
            g.caller = Caller.of(account, "owner")
        else:
            g.caller = Caller(username, can_run_code=True, via="owner")
    except BaseException:
        context.pop()
        raise
    return context


def current_caller() -> Caller | None:
    """The caller of this request (worked out once, before the view)."""
    if "caller" not in g:
        g.caller = None  # if working it out fails (a bad token), the error page sees no one
        g.caller = _resolve()
    return g.caller


def current_username() -> str | None:
    caller = current_caller()
    return caller.username if caller else None


# --- what may it do -----------------------------------------------------------------------
def login_hint() -> str:
    if mode() == "password":
        return ("Log in first: POST /login with username and password, or send "
                "'Authorization: Bearer <token>'.")
    return "Log in first (POST /login with username, or send a username field)."


def require_login() -> str:
    """The current user, or Unauthorized."""
    caller = current_caller()
    if caller is None:
        raise Unauthorized(login_hint())
    return caller.username


def require_admin() -> Caller:
    caller = current_caller()
    if caller is None:
        raise Unauthorized(login_hint())
    if not caller.is_admin:
        raise Forbidden(f"Only an admin may do this; you are logged in as {caller.username}.")
    return caller


def require_owner(job, action: str) -> None:
    """Only a job's owner — or an admin, in password mode — may edit, abort or delete it (a
    job with no owner: anyone in open mode, admins in password mode)."""
    if mode() == "open" and not job.username:
        return
    caller = current_caller()
    if caller is None:
        raise Unauthorized(f"Log in as {job.username or 'an admin'} to {action} this job.")
    if caller.username != job.username and not caller.is_admin:
        raise Forbidden(f"Only {job.username or 'an admin'} may {action} job {job.name} "
                        f"({job.id}); you are logged in as {caller.username}.")


def require_code_permission(what: str) -> str:
    """Running submitted Python (``what``) needs ``can_run_code`` (admins have it)."""
    name = require_login()
    if not current_caller().can_run_code:
        raise Forbidden(f"{what} runs Python on the server as the server's user: your account "
                        f"({name}) may not run code. An admin can allow it with "
                        f"'digitsx users grant-code {name}' or on the users page.")
    return name


def rate_limit(what: str, limit_key: str = "PROCESS_LIMIT") -> None:
    """Count one ``what`` for the caller (a route that starts a process); 429 past the limit."""
    who = current_username() or request.remote_addr or "?"
    throttle().check(current_app.config[limit_key], what, limit_key, who)


def check_password(username: object, password: object) -> Account:
    """The account for a right password; failures are throttled per (user, address) and per
    address, and every refusal reads the same."""
    addr = request.remote_addr or "?"
    name = username.strip()[:64] if isinstance(username, str) else "?"
    keys = ((current_app.config["LOGIN_LIMIT_USER"], ("login", name, addr)),
            (current_app.config["LOGIN_LIMIT_ADDRESS"], ("login-address", addr)))
    for limit, key in keys:
        wait = throttle().retry_after(limit, *key)
        if wait:
            raise TooManyRequests(f"Too many failed logins: try again in {wait} s.",
                                  retry_after=wait)
    account = accounts().verify(username, password)
    if account is None:
        for limit, key in keys:
            throttle().hit(limit, *key)
        raise Unauthorized("Wrong username or password (or the account is disabled).")
    return account


def start_session(username: str, stamp: str | None = None) -> None:
    """A fresh session (nothing of the previous one survives, the CSRF token included)."""
    session.clear()
    session["username"] = username
    if stamp:
        session["stamp"] = stamp
    session.permanent = True
    g.pop("caller", None)


def end_session() -> None:
    session.clear()


def accounts_for(app: Flask) -> Accounts:
    return app.extensions["digitsx.accounts"]


def refuse_unless_password_mode(what: str) -> None:
    if mode() != "password":
        raise BadRequest(f"{what} exist only in password mode (DIGITSX_AUTH=password); in open "
                         f"mode a username is all a script sends.")


def socket_caller(auth_data: object) -> Caller | None:
    """The caller of a Socket.IO connection (from its handshake request); refused — by raising
    — when password mode finds none, or the host is not loopback in open mode."""
    if mode() == "open" and not is_loopback(request.host):
        raise Forbidden(f"Open mode answers only connections to localhost, not {request.host}.")
    token = auth_data.get("token") if isinstance(auth_data, dict) else None
    caller = _token_caller(str(token)) if token and mode() == "password" else _resolve()
    if caller is None and mode() == "password":
        raise Unauthorized(login_hint())
    return caller
