"""The team: people, their roles and passwords, what each role may do, the sessions that keep
them signed in, and the log of what they did.

Passwords are kept as argon2id hashes only. A session is a signed, expiring token (the email,
its expiry and an HMAC); its key is $TIDINGS_SESSION_SECRET or one made once and kept in the
store, and mixes in the person's password hash, so a new password ends the old sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from data.errors import TidingsError
from data.store import _aware, _naive_utc

ROLES = ("viewer", "agent", "admin")
SESSION_SECRET_ENV = "TIDINGS_SESSION_SECRET"  # noqa: S105 (the variable's name, not a secret)
PASSWORD_ENV = "TIDINGS_USER_PASSWORD"  # noqa: S105 (the variable's name, not a secret)
MIN_PASSWORD = 10
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")

# What each role may do. Reading (every page, the API) needs no entry: every signed-in
# person may read.
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset(),
    "agent": frozenset({"inbox", "correct", "curate"}),
    "admin": frozenset(
        {"inbox", "correct", "curate", "curate_any", "send_any", "rules", "clients", "users"}
    ),
}
ACTIONS = {
    "inbox": "change the inbox (status, assignee, tags, notes)",
    "correct": "correct what the model read",
    "curate": "curate and send a client's digest",
    "curate_any": "curate clients not assigned to you",
    "send_any": "send digests to any client",
    "rules": "edit alert rules",
    "clients": "add, edit or import clients",
    "users": "manage people and roles",
}

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so that a wrong email takes as long as a wrong
    password and says nothing about who has an account. Made on first use: hashing costs a
    third of a second, which every `tidings` command paid on import."""
    return _hasher.hash(secrets.token_hex(16))


class UserError(TidingsError):
    """A mistake in a people command: unknown email, bad role, short password."""


class Forbidden(TidingsError):
    """An action the signed-in person's role does not allow."""


@dataclass(frozen=True, slots=True)
class User:
    email: str
    role: str
    has_password: bool
    created_at: datetime


def may(role: str | None, action: str) -> bool:
    """Whether a role may do an action (see ACTIONS); an unknown role may do nothing."""
    return action in PERMISSIONS.get(role or "", frozenset())


def require(role: str | None, action: str, who: str = "you") -> None:
    """Refuse (Forbidden) an action the role does not allow, saying what and why."""
    if not may(role, action):
        raise Forbidden(
            f"Not allowed: {who} ({role or 'not signed in'}) may not {ACTIONS.get(action, action)}"
        )


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise UserError(f"{email[:80]!r}: not an email address")
    return email


def _role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role[:40]!r}: one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add(
    db: duckdb.DuckDBPyConnection, email: str, role: str, password: str | None, now: datetime
) -> User:
    """Add a person (password None: single sign-on only). UserError if the email is taken."""
    email, role = normal_email(email), _role(role)
    if get(db, email) is not None:
        raise UserError(f"{email}: already a user (set-role changes the role)")
    hashed = hash_password(password) if password is not None else None
    db.execute(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        [email, role, hashed, _naive_utc(now), _naive_utc(now)],
    )
    return User(email, role, hashed is not None, now)


def remove(db: duckdb.DuckDBPyConnection, email: str) -> None:
    email = normal_email(email)
    if not db.execute("DELETE FROM users WHERE email = ? RETURNING email", [email]).fetchall():
        raise UserError(f"{email}: no such user")
    db.execute("DELETE FROM client_agents WHERE email = ?", [email])


def set_role(db: duckdb.DuckDBPyConnection, email: str, role: str, now: datetime) -> None:
    email, role = normal_email(email), _role(role)
    done = db.execute(
        "UPDATE users SET role = ?, updated_at = ? WHERE email = ? RETURNING email",
        [role, _naive_utc(now), email],
    ).fetchall()
    if not done:
        raise UserError(f"{email}: no such user")


def set_password(db: duckdb.DuckDBPyConnection, email: str, password: str, now: datetime) -> None:
    """A new password; the person's other sessions end (their key includes the hash)."""
    email = normal_email(email)
    done = db.execute(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE email = ? RETURNING email",
        [hash_password(password), _naive_utc(now), email],
    ).fetchall()
    if not done:
        raise UserError(f"{email}: no such user")


def get(db: duckdb.DuckDBPyConnection, email: str) -> User | None:
    row = db.execute(
        "SELECT email, role, password_hash IS NOT NULL, created_at FROM users WHERE email = ?",
        [email.strip().lower()],
    ).fetchone()
    return User(row[0], row[1], row[2], _aware(row[3])) if row else None  # type: ignore[arg-type]


def everyone(db: duckdb.DuckDBPyConnection) -> list[User]:
    rows = db.execute(
        "SELECT email, role, password_hash IS NOT NULL, created_at FROM users ORDER BY email"
    ).fetchall()
    return [User(r[0], r[1], r[2], _aware(r[3])) for r in rows]  # type: ignore[arg-type]


def count(db: duckdb.DuckDBPyConnection) -> int:
    (n,) = db.execute("SELECT count(*) FROM users").fetchone()  # type: ignore[misc]
    return int(n)


def check_password(db: duckdb.DuckDBPyConnection, email: str, password: str) -> User | None:
    """The person if the password is theirs, else None (same work whether or not the email
    is known)."""
    try:
        email = normal_email(email)
    except UserError:
        email = ""
    row = db.execute(
        "SELECT password_hash FROM users WHERE email = ? AND password_hash IS NOT NULL", [email]
    ).fetchone()
    try:
        _hasher.verify(row[0] if row else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return get(db, email) if row else None


FAILURES_ALLOWED = 5  # wrong passwords for one email within FAILURE_WINDOW, then a pause
FAILURE_WINDOW = 15 * 60  # seconds


def locked_out(failures: list[float], now: float) -> bool:
    """Whether an email has had too many wrong passwords lately to try again yet."""
    recent = [t for t in failures if now - t < FAILURE_WINDOW]
    return len(recent) >= FAILURES_ALLOWED


# --- clients an agent curates ---------------------------------------------------------------


def set_clients(db: duckdb.DuckDBPyConnection, email: str, client_ids: list[str]) -> None:
    """The clients an agent curates, replacing those they had."""
    email = normal_email(email)
    if get(db, email) is None:
        raise UserError(f"{email}: no such user")
    known = {r[0] for r in db.execute("SELECT id FROM clients").fetchall()}
    unknown = [c for c in client_ids if c not in known]
    if unknown:
        raise UserError(f"client {unknown[0][:60]!r}: no such client id")
    db.execute("DELETE FROM client_agents WHERE email = ?", [email])
    if client_ids:
        db.executemany(
            "INSERT INTO client_agents VALUES (?, ?)",
            [(c, email) for c in dict.fromkeys(client_ids)],
        )


def clients_of(db: duckdb.DuckDBPyConnection, email: str) -> set[str]:
    rows = db.execute("SELECT client_id FROM client_agents WHERE email = ?", [email.lower()])
    return {r[0] for r in rows.fetchall()}


def may_curate(role: str | None, assigned: set[str], client_id: str) -> bool:
    """An admin curates every client; an agent those assigned to them."""
    return may(role, "curate_any") or (may(role, "curate") and client_id in assigned)


# --- the log of what people did ------------------------------------------------------------


def record(
    db: duckdb.DuckDBPyConnection,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    detail: str = "",
) -> None:
    db.execute(
        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)",
        [_naive_utc(now), actor, action, subject, detail[:500]],
    )


def audit(db: duckdb.DuckDBPyConnection, limit: int = 200) -> list[tuple]:
    """The newest entries of the log: (at, actor, action, subject, detail)."""
    return db.execute(
        "SELECT done_at, actor, action, subject, detail FROM audit_log "
        "ORDER BY done_at DESC LIMIT ?",
        [limit],
    ).fetchall()


# --- sessions ------------------------------------------------------------------------------


def session_secret(db: duckdb.DuckDBPyConnection, now: datetime) -> bytes:
    """$TIDINGS_SESSION_SECRET, else the key made once for this store (never logged)."""
    given = os.environ.get(SESSION_SECRET_ENV)
    if given:
        return given.encode()
    db.execute(
        "INSERT OR IGNORE INTO session_keys VALUES ('dashboard', ?, ?)",
        [secrets.token_hex(32), _naive_utc(now)],
    )
    (secret,) = db.execute("SELECT secret FROM session_keys WHERE name = 'dashboard'").fetchone()  # type: ignore[misc]
    return str(secret).encode()


def _mac(secret: bytes, body: str, binding: str) -> str:
    key = hashlib.sha256(secret + b"\x00" + binding.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def session_token(secret: bytes, email: str, expires: int, binding: str = "") -> str:
    """A token proving `email` signed in, valid until `expires` (epoch s). `binding` (the
    password hash, or the way they signed in) ends it when that changes. Only [A-Za-z0-9._-]:
    safe in a cookie and in a script string."""
    who = base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")
    body = f"{who}.{expires}"
    return f"{body}.{_mac(secret, body, binding)}"


def session_email(token: str | None, now: float) -> str | None:
    """The email a token names if it is well formed and unexpired (its MAC still unchecked)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    who, expires, _ = token.split(".")
    if not expires.isdigit() or int(expires) <= now:
        return None
    try:
        return base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def valid_session(token: str | None, secret: bytes, binding: str, now: float) -> str | None:
    """The signed-in email if the token is genuine, unexpired and bound to `binding`."""
    email = session_email(token, now)
    if email is None:
        return None
    expires = int(token.split(".")[1])  # type: ignore[union-attr]
    expected = session_token(secret, email, expires, binding)
    return email if hmac.compare_digest(token.encode(), expected.encode()) else None  # type: ignore[union-attr]


def binding(db: duckdb.DuckDBPyConnection, email: str) -> str | None:
    """What a person's local session is bound to (their password hash); None if they have no
    password (or no account)."""
    row = db.execute(
        "SELECT password_hash FROM users WHERE email = ? AND password_hash IS NOT NULL",
        [email.lower()],
    ).fetchone()
    return row[0] if row else None
