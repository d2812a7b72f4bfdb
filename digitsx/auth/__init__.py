"""Who is asking, and whether the request may go on.

Two modes (``AUTH``):

- ``open``: DIGITS's login, a username and no password (or a ``username`` field from a script
  that sends no session). For one person on their own machine: the server refuses to listen
  anywhere but loopback, and answers only requests that name a loopback host (no DNS
  rebinding).
- ``password``: accounts with argon2 password hashes, sessions and API tokens (``Bearer``).
  Every route but the login page needs a user; the ``username`` field is ignored.

In both modes every state-changing request is refused when it comes from another site (its
``Sec-Fetch-Site`` or ``Origin``), and one authenticated by the session cookie — or sent by a
browser at all — needs the CSRF token (Flask-WTF) as a form field or ``X-CSRFToken`` header.
Requests with a Bearer token are exempt: a browser never adds one by itself.

The package face: :mod:`.callers` (who is asking, what they may do), :mod:`.guard` (the
checks before every request, the session cookie, :func:`init_app`), :mod:`.accounts`,
:mod:`.routes`. Everything else asks only :func:`current_username`, :func:`current_caller`,
:func:`require_login`, :func:`require_owner`, :func:`require_code_permission` and
:func:`rate_limit`.
"""
from __future__ import annotations

from .accounts import validate_username
from .callers import (Caller, accounts, acting_as, accounts_for, check_password, current_caller, current_username,
                      end_session, login_hint, mode, rate_limit, refuse_unless_password_mode,
                      require_admin, require_code_permission, require_login, require_owner,
                      socket_caller, start_session, throttle)
from .guard import csrf, init_app

__all__ = ["Caller", "accounts", "acting_as", "accounts_for", "check_password", "csrf", "current_caller",
           "current_username", "end_session", "init_app", "login_hint", "mode", "rate_limit",
           "refuse_unless_password_mode", "require_admin", "require_code_permission",
           "require_login", "require_owner", "socket_caller", "start_session", "throttle",
           "validate_username"]
