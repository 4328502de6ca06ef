"""`tidings users …`: the team's people and roles, from the command line."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TextIO

from data import store, users
from data.config import Config, load_config
from data.errors import TidingsError


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("users", help="people who sign in to the dashboard, and their roles")
    u = c.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    a = u.add_parser(
        "add", help=f"add a person (password prompted, or from stdin or ${users.PASSWORD_ENV})"
    )
    a.add_argument("email")
    a.add_argument("--role", required=True, choices=users.ROLES)
    a.add_argument(
        "--no-password", action="store_true", help="signs in only through single sign-on"
    )
    u.add_parser("list", help="everyone, with their role")
    r = u.add_parser("remove", help="remove a person (their sessions end)")
    r.add_argument("email")
    s = u.add_parser("set-role", help="change a person's role")
    s.add_argument("email")
    s.add_argument("role", choices=users.ROLES)
    p = u.add_parser("password", help="set a new password (their other sessions end)")
    p.add_argument("email")
    k = u.add_parser("clients", help="the clients an agent curates (replaces the list)")
    k.add_argument("email")
    k.add_argument("client_ids", nargs="*", metavar="CLIENT_ID")
    c.set_defaults(handler=cmd_users)


def secrets_file(config: Config) -> Path | None:
    """Where Streamlit's [auth] section is read from, if the config names the file."""
    given = config.sign_in.secrets_file
    if given is None:
        return None
    return given if given.is_absolute() or config.path is None else config.path.parent / given


def secrets_args(config: Config) -> list[str]:
    """Streamlit's command-line option naming the secrets file, when the config names one."""
    path = secrets_file(config)
    if path is None:
        return []
    if not path.is_file():
        raise TidingsError(f"{config.path}: sign_in.secrets_file: no such file: {path}")
    return ["--secrets.files", str(path)]


def team_defined(config: Config) -> bool:
    """Whether people sign in (so the dashboard may listen beyond this machine without the
    shared password): someone in the users table or in [[users]], or single sign-on set."""
    if config.users or config.sign_in.secrets_file is not None:
        return True
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        return users.count(db) > 0


def read_password(stdin: TextIO | None = None, environ: dict[str, str] | None = None) -> str:
    """From $TIDINGS_USER_PASSWORD, else a line of stdin when it is not a terminal, else asked
    twice without echo."""
    given = (os.environ if environ is None else environ).get(users.PASSWORD_ENV)
    if given:
        return given
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        line = stdin.readline().rstrip("\r\n")
        if not line:
            raise TidingsError(f"no password on stdin (or set ${users.PASSWORD_ENV})")
        return line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise TidingsError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    config: Config = load_config(args.config)
    now = store.utcnow()
    what = args.users_command
    password = read_password() if what == "password" or (
        what == "add" and not args.no_password
    ) else None  # fmt: skip
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        if what == "add":
            user = users.add(db, args.email, args.role, password, now)
            users.record(db, "cli", "user.add", user.email, now, user.role)
            how = "password" if user.has_password else "single sign-on only"
            print(f"{user.email}: added as {user.role} ({how})")
        elif what == "list":
            everyone = users.everyone(db)
            assigned = {u.email: sorted(users.clients_of(db, u.email)) for u in everyone}
            for u in everyone:
                how = "password" if u.has_password else "single sign-on"
                extra = f", clients: {', '.join(assigned[u.email])}" if assigned[u.email] else ""
                print(f"{u.email}\t{u.role}\t{how}{extra}")
            for p in config.users:
                if p.email.lower() not in assigned:
                    print(
                        f"{p.email.lower()}\t{p.role}\tsingle sign-on ([[users]] in {config.path})"
                    )
            if not everyone and not config.users:
                print("No one yet: the dashboard is a single-user install. "
                      "`tidings users add EMAIL --role admin` adds the first person.")  # fmt: skip
        elif what == "remove":
            users.remove(db, args.email)
            users.record(db, "cli", "user.remove", args.email.lower(), now)
            print(f"{args.email.lower()}: removed")
        elif what == "set-role":
            users.set_role(db, args.email, args.role, now)
            users.record(db, "cli", "user.role", args.email.lower(), now, args.role)
            print(f"{args.email.lower()}: now {args.role}")
        elif what == "password":
            users.set_password(db, args.email, password or "", now)
            users.record(db, "cli", "user.password", args.email.lower(), now)
            print(f"{args.email.lower()}: password changed")
        elif what == "clients":
            users.set_clients(db, args.email, args.client_ids)
            users.record(db, "cli", "user.clients", args.email.lower(), now,
                         ", ".join(args.client_ids))  # fmt: skip
            print(f"{args.email.lower()}: curates {', '.join(args.client_ids) or 'no client'}")
        db.commit()
    return 0
