"""``digitsx users create|list|passwd|disable|enable|grant-code|token``: accounts from the shell
(the server may be running: both use the same database)."""
from __future__ import annotations

import getpass
import secrets
import sys

from ..errors import DigitsxError
from .accounts import Accounts


def add_parser(sub) -> None:
    users = sub.add_parser("users", help="manage accounts (password mode)")
    cmd = users.add_subparsers(dest="users_command", required=True)
    cmd.add_parser("list", help="every account with its permissions")
    create = cmd.add_parser("create", help="create an account")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="may manage users and every job")
    create.add_argument("--can-run-code", action="store_true",
                        help="may submit Python (custom networks, model definitions) that runs "
                             "on the server as the server's user")
    passwd = cmd.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name")
    for p in (create, passwd):
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input")
    for name, text in (("disable", "stop an account from logging in (its tokens stop too)"),
                       ("enable", "let a disabled account log in again")):
        cmd.add_parser(name, help=text).add_argument("name")
    grant = cmd.add_parser("grant-code", help="allow an account to run submitted Python")
    grant.add_argument("name")
    grant.add_argument("--revoke", action="store_true", help="take the permission away")
    token = cmd.add_parser("token", help="create an API token for an account (printed once)")
    token.add_argument("name")
    token.add_argument("--token-name", default="cli", help="what the token is for")
    token.add_argument("--expires-days", type=float, help="expire after this many days")


def _password(args, generate: bool) -> tuple[str, bool]:
    """(password, generated): stdin, a prompt, or (creating, no terminal) a random one."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise DigitsxError("the two passwords differ")
        return first, False
    if generate:
        return secrets.token_urlsafe(15), True
    raise DigitsxError("no terminal to ask for a password: use --password-stdin")


def run(app, args) -> int:
    accounts: Accounts = app.extensions["digitsx.accounts"]
    try:
        return _run(accounts, args)
    except DigitsxError as err:
        print(f"digitsx users: {err.message}", file=sys.stderr)
        return 1


def _run(accounts: Accounts, args) -> int:
    command = args.users_command
    if command == "list":
        print(f"{'username':<24} {'admin':<6} {'code':<5} {'active':<7} password")
        for u in accounts.list():
            print(f"{u['username']:<24} {'yes' if u['is_admin'] else '-':<6} "
                  f"{'yes' if u['can_run_code'] else '-':<5} {'yes' if u['active'] else 'no':<7} "
                  f"{'set' if u['has_password'] else 'none'}")
    elif command == "create":
        password, generated = _password(args, generate=True)
        account = accounts.create(args.name, password, args.admin, args.can_run_code)
        print(f"created {account.username}"
              + (f" with password {password}" if generated else ""))
    elif command == "passwd":
        password, _ = _password(args, generate=False)
        accounts.update(args.name, password=password)
        print(f"password of {args.name} changed; its sessions have ended")
    elif command in ("disable", "enable"):
        accounts.update(args.name, active=command == "enable")
        print(f"{args.name} {command}d")
    elif command == "grant-code":
        accounts.update(args.name, can_run_code=not args.revoke)
        print(f"{args.name} {'may no longer' if args.revoke else 'may now'} run submitted code")
    elif command == "token":
        accounts.require(args.name)
        made = accounts.create_token(args.name, args.token_name, args.expires_days)
        print(made["token"])
    return 0
