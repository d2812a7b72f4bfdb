"""The checks before every request (the host in open mode, a cross-site post, the CSRF
token, a login where one is needed), the session cookie, and wiring accounts into the app."""
from __future__ import annotations

import os
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup

from ..config import is_loopback
from ..errors import Forbidden, Unauthorized
from .accounts import Accounts
from .callers import Caller, accounts_for, current_caller, current_username, login_hint, mode
from .throttle import Throttle

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.login_json", "auth.logout",
                    # this server as a Model Store: what its owners published, for other servers
                    "store.master", "store.store_info", "store.store_file"}
MODES = ("open", "password")
csrf = CSRFProtect()


# --- the checks before every request ------------------------------------------------------
def _browser_request() -> bool:
    """Browsers mark every request they send with at least one of these; curl sends none."""
    return any(h in request.headers for h in ("Origin", "Sec-Fetch-Site", "Referer"))


def _check_origin() -> None:
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    origin = request.headers.get("Origin")
    cross = site in ("cross-site", "same-site")
    if origin is not None and not cross:
        allowed = current_app.config.get("ALLOWED_ORIGINS") or []
        cross = origin not in allowed and (
            origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower())
    if cross:
        g.refused_cross_site = True  # its answer must not touch the user's session cookie
        raise Forbidden(f"Cross-site request refused: a page on {origin or 'another site'} may "
                        f"not change anything here.")


def _check_csrf(caller: Caller | None) -> None:
    cookie = caller is not None and caller.via == "session"
    if (mode() == "password" and cookie) or _browser_request():
        try:
            csrf.protect()
        except CSRFError as err:
            raise Forbidden(f"{err.description} Reload the page and try again (scripts send "
                            f"a Bearer token, or the X-CSRFToken header with the csrf_token "
                            f"that POST /login answers).") from None


def _before_request():
    if request.endpoint == "static":
        return None
    if mode() == "open" and not is_loopback(request.host):
        raise Forbidden(f"Open mode answers only requests to localhost (this one is for "
                        f"{request.host}). Serve other names with accounts on: "
                        f"DIGITSX_AUTH=password.")
    caller = current_caller()
    if request.method not in SAFE_METHODS:
        _check_origin()  # a cross-site post is refused whatever authenticates it
        if caller is None or caller.via != "token":
            _check_csrf(caller)  # a Bearer token is never sent by a browser on its own
    if mode() == "password" and caller is None and request.endpoint not in PUBLIC_ENDPOINTS:
        from ..http import wants_json

        if wants_json() or request.method not in SAFE_METHODS:
            raise Unauthorized(login_hint())
        target = request.full_path.rstrip("?")
        return redirect(url_for("auth.login", next=target))
    return None


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over TLS, and a refused
    cross-site request never writes it (a forged form could otherwise log the user out)."""

    def save_session(self, app: Flask, session, response) -> None:
        if g.get("refused_cross_site"):
            return
        super().save_session(app, session, response)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Accounts, CSRF, the per-request checks, the auth routes and template values."""
    from ..extensions import db
    from . import routes

    if app.config["AUTH"] not in MODES:
        raise ValueError(f"AUTH must be 'open' or 'password', not {app.config['AUTH']!r}")
    app.session_interface = _SessionInterface()
    app.extensions["digitsx.accounts"] = Accounts(db)
    app.extensions["digitsx.throttle"] = Throttle()
    csrf.init_app(app)
    app.before_request(_before_request)
    app.register_blueprint(routes.bp)
    app.context_processor(lambda: {"username": current_username(), "caller": current_caller(),
                                   "auth_mode": mode(), "suggested_username": suggested_username})
    app.jinja_env.globals["csrf_field"] = lambda: Markup(
        f'<input type="hidden" name="csrf_token" value="{generate_csrf()}">')
    if app.config["AUTH"] == "password":
        password = app.config.get("ADMIN_PASSWORD")
        if password is not None and not isinstance(password, str):  # from_prefixed_env's JSON
            password = os.environ.get("DIGITSX_ADMIN_PASSWORD", str(password))
        made = accounts_for(app).ensure_admin(str(password) if password else None)
        if made:
            routes.announce_admin_password(app, made)


def suggested_username() -> str:
    """A name to offer in open mode's login prompt: this machine's user, as a valid name."""
    import getpass
    import re

    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment
        name = ""
    name = re.sub(r"[^a-z0-9._-]", "", name.lower())
    return name if name[:1].isalpha() else "me"
