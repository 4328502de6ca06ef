"""Mail waiting to go out, and the alert bookkeeping that decides what goes in it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from data import database, outlets
from data.store import _aware, _naive_utc

STUCK_AFTER = timedelta(minutes=15)  # a mail left 'sending' this long was cut off by a crash


@dataclass(frozen=True, slots=True)
class Mail:
    id: str  # stable for what it carries: enqueuing the same id twice stores it once
    kind: str  # alert | digest | reminder
    rule: str | None
    recipients: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str
    not_before: datetime
    attempts: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe
    # None: mailed to the recipients. Else one chat or webhook URL (Apprise's), sent the
    # subject and text body; its secrets stay ${VARIABLE} references until it is sent.
    target: str | None = None


def with_outlets(mail: Mail, notify: Sequence[str]) -> list[Mail]:
    """The mail (if it has recipients) and one copy per chat or webhook URL, each with an id of
    its own derived from the mail's, so each outlet is sent exactly once."""
    copies = [
        replace(
            mail,
            id=hashlib.blake2b(f"{mail.id}\x1f{url}".encode(), digest_size=16).hexdigest(),
            recipients=(),
            target=url,
        )
        for url in dict.fromkeys(notify)
    ]
    return ([mail] if mail.recipients else []) + copies


def enqueue(db: duckdb.DuckDBPyConnection, mails: Sequence[Mail], now: datetime) -> int:
    """Store mails not stored yet; return how many are new.

    A mail's id is its natural key (a digest of what it carries), and the insert an anti-join
    on it: a DuckLake has no keys. Two workers queuing the same mail at once would each miss
    the other's uncommitted row, so the insert also claims the store's writes: of two such
    transactions the second to commit conflicts, runs again (data.database.retry_conflicts,
    which every caller uses), and finds the mail queued."""
    if not mails:
        return 0
    database.claim_writes(db)
    before = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    db.executemany(  # an anti-join, not INSERT OR IGNORE: a DuckLake table has no key
        "INSERT INTO outbox (id, kind, rule, recipients, subject, text_body, html_body, "
        "created_at, not_before, status, attempts, next_attempt_at, headers, target) "
        "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE id = ?)",
        [
            (m.id, m.kind, m.rule, list(m.recipients), m.subject, m.text_body, m.html_body,
             _naive_utc(now), _naive_utc(m.not_before), _naive_utc(m.not_before),
             json.dumps(m.headers), m.target, m.id)
            for m in mails
        ],
    )  # fmt: skip
    return db.execute("SELECT count(*) FROM outbox").fetchone()[0] - before


def claim_due(db: duckdb.DuckDBPyConnection, now: datetime, limit: int = 200) -> list[Mail]:
    """Mails whose time has come, marked 'sending' (in the caller's transaction)."""
    at = _naive_utc(now)
    rows = db.execute(
        """
        SELECT id, kind, rule, recipients, subject, text_body, html_body, not_before, attempts,
               headers, target
        FROM outbox
        WHERE (status = 'pending' AND next_attempt_at <= ? AND not_before <= ?)
           OR (status = 'sending' AND next_attempt_at <= ?)
        ORDER BY created_at LIMIT ?
        """,
        [at, at, _naive_utc(now - STUCK_AFTER), limit],
    ).fetchall()
    mails = [
        Mail(
            r[0],
            r[1],
            r[2],
            tuple(r[3]),
            r[4],
            r[5],
            r[6],
            _aware(r[7]),
            r[8],
            json.loads(r[9]),  # type: ignore[arg-type]
            r[10],
        )
        for r in rows
    ]
    if mails:
        db.execute(
            "UPDATE outbox SET status = 'sending', next_attempt_at = ? WHERE list_contains(?, id)",
            [at, [m.id for m in mails]],
        )
    return mails


def held_back(db: duckdb.DuckDBPyConnection, mail: Mail) -> str | None:
    """Why a mail to a client must not go now that its time has come, or None. A mail waits
    in the outbox (quiet hours, a server down): a client who unsubscribed or was paused
    meanwhile gets nothing more."""
    if not mail.kind.startswith("client-") or not mail.recipients:
        return None
    row = db.execute(
        "SELECT status FROM clients WHERE lower(email) = lower(?) ORDER BY status LIMIT 1",
        [mail.recipients[0]],
    ).fetchone()
    if row is None or row[0] == "active":
        return None
    return f"not sent: the client is {row[0]}"


@dataclass(frozen=True, slots=True)
class Outcome:
    mail_id: str
    sent: bool
    error: str | None = None
    permanent: bool = False
    # Sent, but these recipients were refused for now (4xx): they get it in a mail of its own.
    retry_to: tuple[str, ...] = ()
    # False: the server could not be used at all (down, our login or sender refused, no TLS),
    # so the mail was never tried: it waits, however long, and counts no attempt.
    tried: bool = True


def record_outcome(
    db: duckdb.DuckDBPyConnection, outcome: Outcome, now: datetime, max_attempts: int
) -> str:
    """Store what became of one mail; return its status now (sent, pending or failed).

    A client digest sent by mail gains the email channel on its deliveries here: until its mail
    is accepted it was delivered to the client's feed only."""
    at = _naive_utc(now)
    if outcome.sent:
        # No UPDATE … RETURNING: a DuckLake table does not take it.
        (kind,) = db.execute("SELECT kind FROM outbox WHERE id = ?", [outcome.mail_id]).fetchone()
        db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, "
            "last_error = ? WHERE id = ?",
            [at, outcome.error, outcome.mail_id],
        )
        if outcome.retry_to:
            _queue_retry(db, outcome, now)
        if kind == "client-digest":
            db.execute(
                "UPDATE deliveries SET channels = list_append(channels, 'email') "
                "WHERE digest_id = ? AND NOT list_contains(channels, 'email')",
                [outcome.mail_id],
            )
        return "sent"
    (attempts, now_status) = db.execute(
        "SELECT attempts + 1, status FROM outbox WHERE id = ?", [outcome.mail_id]
    ).fetchone()
    if now_status == "sent":
        # Another run took the mail up (this one was cut off, or so slow that its claim ran
        # out) and the server accepted it: it stays sent, or it would go again.
        return "sent"
    if outcome.tried:
        status = "failed" if outcome.permanent or attempts >= max_attempts else "pending"
    else:  # the server could not be used: no attempt of this mail, which waits however long
        attempts, status = attempts - 1, "pending"
    retry_at = now + timedelta(minutes=min(2**attempts, 240))
    db.execute(
        "UPDATE outbox SET status = ?, attempts = ?, last_error = ?, next_attempt_at = ? "
        "WHERE id = ?",
        [status, attempts, outcome.error, _naive_utc(retry_at), outcome.mail_id],
    )
    return status


def _queue_retry(db: duckdb.DuckDBPyConnection, outcome: Outcome, now: datetime) -> None:
    """A copy of a sent mail for the recipients the server refused for now, retried with the
    mail's back-off; its id is derived from the mail's and theirs, so it is queued once."""
    ident = hashlib.blake2b(
        "\x1f".join([outcome.mail_id, "retry", *outcome.retry_to]).encode(), digest_size=16
    ).hexdigest()
    (attempts,) = db.execute(
        "SELECT attempts FROM outbox WHERE id = ?", [outcome.mail_id]
    ).fetchone()
    retry_at = now + timedelta(minutes=min(2**attempts, 240))
    db.execute(
        "INSERT INTO outbox (id, kind, rule, recipients, subject, text_body, html_body, "
        "created_at, not_before, status, attempts, next_attempt_at, headers, target, last_error) "
        "SELECT ?, kind, rule, ?, subject, text_body, html_body, ?, not_before, 'pending', "
        "attempts, ?, headers, target, ? FROM outbox WHERE id = ? "
        "AND NOT EXISTS (SELECT 1 FROM outbox WHERE id = ?)",
        [ident, list(outcome.retry_to), _naive_utc(now), _naive_utc(retry_at), outcome.error,
         outcome.mail_id, ident],
    )  # fmt: skip


def outbox_view(db: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    view = db.execute(
        "SELECT created_at, status, kind, rule, subject, recipients, attempts, last_error, "
        "not_before, sent_at, target FROM outbox ORDER BY created_at DESC LIMIT ?",
        [limit],
    ).df()
    # Where a chat message went, without the rest of its URL (often a token).
    view["target"] = [outlets.shown(t) if isinstance(t, str) else None for t in view["target"]]
    return view


# --- alert bookkeeping ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertState:
    rule: str
    key: str
    active: bool
    last_fired_at: datetime | None = None
    cleared_at: datetime | None = None


def alert_states(db: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], AlertState]:
    rows = db.execute("SELECT rule, key, active, last_fired_at, cleared_at FROM alert_state")
    return {
        (r[0], r[1]): AlertState(r[0], r[1], r[2], _aware(r[3]), _aware(r[4]))
        for r in rows.fetchall()
    }


def save_alert_states(db: duckdb.DuckDBPyConnection, states: Sequence[AlertState]) -> None:
    if states:
        # Replaced by delete and insert: a DuckLake table has no key to replace on.
        db.executemany(
            "DELETE FROM alert_state WHERE rule = ? AND key = ?", [(s.rule, s.key) for s in states]
        )
        db.executemany(
            "INSERT INTO alert_state VALUES (?, ?, ?, ?, ?)",
            [
                (s.rule, s.key, s.active, _naive_utc(s.last_fired_at), _naive_utc(s.cleared_at))
                for s in states
            ],
        )


def add_events(
    db: duckdb.DuckDBPyConnection, events: Sequence[tuple[str, str, str, dict]], now: datetime
) -> None:
    """(id, rule, subject, payload) of alerts that wait for their rule's digest."""
    if events:
        db.executemany(
            # An anti-join, not INSERT OR IGNORE: a DuckLake table has no key to ignore on.
            "INSERT INTO alert_events SELECT ?, ?, ?, ?, ?, NULL "
            "WHERE NOT EXISTS (SELECT 1 FROM alert_events WHERE id = ?)",
            [
                (i, rule, _naive_utc(now), subject, json.dumps(p), i)
                for i, rule, subject, p in events
            ],  # fmt: skip
        )


def unmailed_events(db: duckdb.DuckDBPyConnection, rule: str) -> list[tuple[str, str, dict]]:
    rows = db.execute(
        "SELECT id, subject, payload FROM alert_events WHERE rule = ? AND mailed_in IS NULL "
        "ORDER BY fired_at",
        [rule],
    ).fetchall()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def mark_events_mailed(db: duckdb.DuckDBPyConnection, ids: Sequence[str], mail_id: str) -> None:
    db.execute(
        "UPDATE alert_events SET mailed_in = ? WHERE list_contains(?, id)", [mail_id, list(ids)]
    )


def last_digest_at(db: duckdb.DuckDBPyConnection, rule: str) -> datetime | None:
    (at,) = db.execute(
        "SELECT max(created_at) FROM outbox WHERE rule = ? AND kind = 'digest'", [rule]
    ).fetchone()
    return _aware(at)
