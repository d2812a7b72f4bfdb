"""Accounts and API tokens in the database: no Flask here, so the CLI uses the same code.

Passwords are hashed with argon2id (``argon2-cffi``), rehashed on login when its parameters
change. Tokens are 256 random bits; only their SHA-256 is stored (a fast hash is right for a
secret that is not guessable), with the last time each was used.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..db import ApiToken, Database, User
from ..errors import BadRequest, Conflict, NotFound, ValidationError

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 8
TOKEN_PREFIX = "dxt_"
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def validate_username(name: object) -> str:
    """The name if DIGITS would accept it, else a ValidationError on ``username``."""
    if not isinstance(name, str):
        raise ValidationError({"username": ["must be a string"]})
    name = name.strip()
    if not USERNAME.match(name):
        raise ValidationError({"username": [
            "Usernames start with a lowercase letter, then lowercase letters, digits, '.', '_' "
            "or '-' (at most 64 characters)."]})
    return name


def validate_password(password: object, field: str = "password") -> str:
    if not isinstance(password, str) or not password:
        raise ValidationError({field: ["required"]})
    if len(password) < MIN_PASSWORD:
        raise ValidationError({field: [f"at least {MIN_PASSWORD} characters"]})
    if len(password) > 1024:
        raise ValidationError({field: ["at most 1024 characters"]})
    return password


def session_stamp(password_hash: str | None) -> str:
    """Kept in the session cookie: a password change ends every other session."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Account:
    """What the web layer needs to know of a user."""

    username: str
    is_admin: bool
    can_run_code: bool
    active: bool
    has_password: bool
    stamp: str

    @classmethod
    def of(cls, user: User) -> "Account":
        return cls(user.username, bool(user.is_admin), bool(user.can_run_code or user.is_admin),
                   bool(user.active), bool(user.password_hash), session_stamp(user.password_hash))

    def as_dict(self) -> dict:
        return {"username": self.username, "is_admin": self.is_admin,
                "can_run_code": self.can_run_code, "active": self.active,
                "has_password": self.has_password}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users and tokens on one :class:`~digitsx.db.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # users -------------------------------------------------------------------------------
    def get(self, username: str) -> Account | None:
        with self.db.session() as s:
            user = s.get(User, username)
            return Account.of(user) if user is not None else None

    def require(self, username: str) -> Account:
        account = self.get(username)
        if account is None:
            raise NotFound(f"No such user: {username}")
        return account

    def list(self) -> list[dict]:
        with self.db.session() as s:
            users = s.scalars(select(User).order_by(User.username))
            return [{**Account.of(u).as_dict(), "created": u.created, "last_login": u.last_login}
                    for u in users]

    def create(self, username: object, password: object, is_admin: bool = False,
               can_run_code: bool = False) -> Account:
        name = validate_username(username)
        password = validate_password(password)
        with self.db.session() as s:
            user = s.get(User, name)
            if user is not None and user.password_hash:
                raise Conflict(f"User {name} already exists")
            # a name seen in open mode (no password yet) becomes a real account
            user = user or User(username=name, created=time.time(), last_login=0.0)
            user.password_hash = _hasher.hash(password)
            user.is_admin, user.can_run_code, user.active = bool(is_admin), bool(can_run_code), True
            s.add(user)
            s.flush()
            return Account.of(user)

    def seen(self, username: str) -> None:
        """Open mode: remember a name at login (no password). Two first logins of one name at
        once: the second finds the row the first made (its insert fails, so it updates)."""
        for attempt in range(2):
            try:
                with self.db.session() as s:
                    user = s.get(User, username) or User(username=username, created=time.time())
                    user.last_login = time.time()
                    s.add(user)
                return
            except IntegrityError:
                if attempt:
                    raise

    def update(self, username: str, *, is_admin: bool | None = None,
               can_run_code: bool | None = None, active: bool | None = None,
               password: object = None) -> Account:
        with self.db.session() as s:
            user = s.get(User, username)
            if user is None:
                raise NotFound(f"No such user: {username}")
            if password is not None:
                user.password_hash = _hasher.hash(validate_password(password))
            if is_admin is not None:
                user.is_admin = bool(is_admin)
            if can_run_code is not None:
                user.can_run_code = bool(can_run_code)
            if active is not None:
                user.active = bool(active)
            s.flush()
            admins = s.scalar(select(func.count()).select_from(User).where(
                User.is_admin.is_(True), User.active.is_(True),
                User.password_hash.is_not(None)))
            if not admins and (is_admin is False or active is False):
                s.rollback()
                raise Conflict("At least one active admin must remain.")
            return Account.of(user)

    def verify(self, username: object, password: object) -> Account | None:
        """The account if the password is right and the account active; None otherwise (the
        same work is done for a missing user, so timing does not tell names apart)."""
        if not isinstance(username, str) or not isinstance(password, str) or not password:
            return None
        with self.db.session() as s:
            user = s.get(User, username.strip())
            stored = user.password_hash if user is not None else None
            try:
                _hasher.verify(stored or _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if user is None or not stored or not user.active:
                return None
            if _hasher.check_needs_rehash(stored):
                user.password_hash = _hasher.hash(password)
            user.last_login = time.time()
            return Account.of(user)

    def has_admin(self) -> bool:
        with self.db.session() as s:
            return bool(s.scalar(select(func.count()).select_from(User).where(
                User.is_admin.is_(True), User.password_hash.is_not(None))))

    def ensure_admin(self, password: str | None) -> str | None:
        """On a first start in password mode: an ``admin`` account. Returns the password when
        it was generated here (the caller shows it once), None when nothing was made or it
        came from the caller."""
        if self.has_admin():
            return None
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(15)
        with self.db.session() as s:
            user = s.get(User, "admin") or User(username="admin", created=time.time(),
                                                last_login=0.0)
            user.password_hash = _hasher.hash(password)
            user.is_admin = user.can_run_code = user.active = True
            s.add(user)
        return generated

    # tokens ------------------------------------------------------------------------------
    def create_token(self, username: str, name: object = "",
                     expires_days: object = None) -> dict:
        if not isinstance(name, str):
            raise ValidationError({"name": ["must be a string"]})
        name = name.strip()[:128] or "token"
        expires = None
        if expires_days not in (None, ""):
            try:
                days = float(expires_days)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValidationError({"expires_days": ["expected a number of days"]}) from None
            if not 0 < days <= 3650:
                raise ValidationError({"expires_days": ["between 0 and 3650 days"]})
            expires = time.time() + days * 86400
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(id=secrets.token_hex(6), username=username, name=name,
                       token_hash=_token_hash(token), created=time.time(), expires=expires)
        with self.db.session() as s:
            s.add(row)
        return {"id": row.id, "token": token, "name": name, "created": row.created,
                "expires": expires}

    def tokens(self, username: str) -> list[dict]:
        with self.db.session() as s:
            rows = s.scalars(select(ApiToken).where(ApiToken.username == username)
                             .order_by(ApiToken.created))
            return [{"id": t.id, "name": t.name, "created": t.created, "last_used": t.last_used,
                     "expires": t.expires, "expired": bool(t.expires and t.expires < time.time())}
                    for t in rows]

    def revoke_token(self, username: str, token_id: str, admin: bool = False) -> None:
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None or (row.username != username and not admin):
                raise NotFound(f"No such token: {token_id}")
            s.delete(row)

    def check_token(self, token: str) -> tuple[Account, str] | None:
        """(account, token id) for a valid token of an active user, else None. Records the
        use (at most once a minute per token, so requests do not all write)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        now = time.time()
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
            if row is None or (row.expires is not None and row.expires < now):
                return None
            user = s.get(User, row.username)
            if user is None or not user.active:
                return None
            if row.last_used is None or now - row.last_used > 60:
                row.last_used = now
            return Account.of(user), row.id


def bad_request_if_not_bool(value: object, field: str) -> bool | None:
    """A flag from a form or JSON body: true/false, 1/0, y/n, on/off; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "y", "yes", "on"):
        return True
    if text in ("0", "false", "n", "no", "off"):
        return False
    raise BadRequest(f"{field}: expected true or false, got {value!r}")
