"""The return path's records: what clients did with what we sent (clicks, "more / less like
this", opens), their check-in answers, their learned interest weights, the cadence changes made
for them, the dates that matter to them, and the other mail they got."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pandas as pd

from data.store import _aware, _naive_utc

LINK_SECRET_ENV = "TIDINGS_LINK_SECRET"  # noqa: S105 (the variable's name, not a secret)
# A "scan" is a link of a digest opened by a machine (a mail scanner or a link preview): kept,
# never counted as a click nor learned from.
EVENT_KINDS = ("click", "more", "less", "open", "scan")


def link_secret(db: duckdb.DuckDBPyConnection) -> bytes:
    """The key that signs the endpoint's links: $TIDINGS_LINK_SECRET, else one made once and
    kept in the store (links in mail already sent must keep working after a restart)."""
    if env := os.environ.get(LINK_SECRET_ENV, "").strip():
        return env.encode()
    row = db.execute("SELECT secret FROM link_secret WHERE id = 1").fetchone()
    if row:
        return row[0].encode()
    made = secrets.token_hex(32)
    # An anti-join, not INSERT OR IGNORE: a DuckLake table has no key to ignore on.
    db.execute(
        "INSERT INTO link_secret SELECT 1, ? WHERE NOT EXISTS (SELECT 1 FROM link_secret)", [made]
    )
    return db.execute("SELECT secret FROM link_secret WHERE id = 1").fetchone()[0].encode()


# --- what clients did ----------------------------------------------------------------------


def delivered_in(db: duckdb.DuckDBPyConnection, client_id: str, mention_id: str) -> str | None:
    """The digest that brought an item to a client, or None if it never reached them."""
    row = db.execute(
        "SELECT digest_id FROM deliveries WHERE client_id = ? AND mention_id = ?",
        [client_id, mention_id],
    ).fetchone()
    return row[0] if row else None


def article_url(db: duckdb.DuckDBPyConnection, mention_id: str) -> str | None:
    row = db.execute("SELECT url FROM mentions WHERE id = ?", [mention_id]).fetchone()
    return row[0] if row else None


def article(db: duckdb.DuckDBPyConnection, mention_id: str) -> dict | None:
    keys = ("id", "title", "text", "url", "source")
    row = db.execute(
        f"SELECT {', '.join(keys)} FROM mentions WHERE id = ?", [mention_id]
    ).fetchone()
    return dict(zip(keys, row, strict=True)) if row else None


def record_event(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    kind: str,
    mention_id: str | None,
    digest_id: str | None,
    now: datetime,
) -> None:
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    db.execute(
        "INSERT INTO client_events VALUES (?, ?, ?, ?, ?)",
        [client_id, kind, mention_id, digest_id, _naive_utc(now)],
    )


def clicked(db: duckdb.DuckDBPyConnection, client_id: str, mention_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM client_events WHERE client_id = ? AND mention_id = ? AND kind = 'click' "
        "LIMIT 1",
        [client_id, mention_id],
    ).fetchone()
    return row is not None


def digest_sent_at(db: duckdb.DuckDBPyConnection, digest_id: str) -> datetime | None:
    """When a digest's mail left (None for a feed-only digest or one not sent yet)."""
    row = db.execute(
        "SELECT sent_at FROM outbox WHERE id = ? AND status = 'sent'", [digest_id]
    ).fetchone()
    return _aware(row[0]) if row and row[0] else None


def opened_since(
    db: duckdb.DuckDBPyConnection, client_id: str, digest_id: str, mention_id: str, since: datetime
) -> bool:
    """Whether a link to another item of the same digest was opened (click or scan) since."""
    row = db.execute(
        "SELECT 1 FROM client_events WHERE client_id = ? AND digest_id = ? AND mention_id <> ? "
        "AND kind IN ('click', 'scan') AND acted_at >= ? LIMIT 1",
        [client_id, digest_id, mention_id, _naive_utc(since)],
    ).fetchone()
    return row is not None


def clicks_to_scans(
    db: duckdb.DuckDBPyConnection, client_id: str, digest_id: str, since: datetime
) -> list[str]:
    """Turn a digest's clicks since a time into scans (they were a machine's, seen once it
    opened the next link at once); return the items left with no click of the client's."""
    # No UPDATE … RETURNING: a DuckLake table does not take it.
    where = "client_id = ? AND digest_id = ? AND kind = 'click' AND acted_at >= ?"
    params = [client_id, digest_id, _naive_utc(since)]
    turned = db.execute(f"SELECT DISTINCT mention_id FROM client_events WHERE {where}", params)
    items = [m for (m,) in turned.fetchall()]
    db.execute(f"UPDATE client_events SET kind = 'scan' WHERE {where}", params)  # noqa: S608
    return [m for m in items if not clicked(db, client_id, m)]


def events(db: duckdb.DuckDBPyConnection, client_id: str, limit: int = 200) -> pd.DataFrame:
    """A client's clicks and feedback, newest first, with the item's title."""
    return db.execute(
        """
        SELECT e.acted_at AS at, e.kind, m.title, m.source
        FROM client_events e LEFT JOIN mentions m ON m.id = e.mention_id
        WHERE e.client_id = ? ORDER BY e.acted_at DESC LIMIT ?
        """,
        [client_id, limit],
    ).df()


@dataclass(frozen=True, slots=True)
class DigestClicks:
    digest_id: str
    sent_at: datetime
    clicks: int


def digest_clicks(
    db: duckdb.DuckDBPyConnection, client_id: str, since: datetime | None = None
) -> list[DigestClicks]:
    """Each digest a client received (since a time), oldest first, with how many clicks on
    its items came back."""
    rows = db.execute(
        """
        SELECT d.digest_id, min(d.delivered_at),
               (SELECT count(*) FROM client_events e WHERE e.client_id = d.client_id
                AND e.kind = 'click' AND e.digest_id = d.digest_id)
        FROM deliveries d WHERE d.client_id = ? AND d.delivered_at >= ?
        GROUP BY d.client_id, d.digest_id ORDER BY 2
        """,
        [client_id, _naive_utc(since or datetime(1970, 1, 1))],
    ).fetchall()
    return [DigestClicks(r[0], _aware(r[1]), r[2]) for r in rows]  # type: ignore[arg-type]


def engagement_summary(db: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per client: digests received, clicks, feedback given (more/less) and check-ins answered."""
    out: dict[str, dict[str, int]] = {}
    for cid, digests in db.execute(
        "SELECT client_id, count(DISTINCT digest_id) FROM deliveries GROUP BY 1"
    ).fetchall():
        out.setdefault(cid, {})["digests"] = digests
    for cid, kind, n in db.execute(
        "SELECT client_id, kind, count(*) FROM client_events GROUP BY 1, 2"
    ).fetchall():
        out.setdefault(cid, {})[kind] = n
    return out


# --- the learned interest profile ----------------------------------------------------------


def weights(db: duckdb.DuckDBPyConnection, client_id: str) -> dict[str, float]:
    rows = db.execute(
        "SELECT phrase, weight FROM interest_weights WHERE client_id = ?", [client_id]
    ).fetchall()
    return dict(rows)


def all_weights(db: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for cid, phrase, weight in db.execute(
        "SELECT client_id, phrase, weight FROM interest_weights"
    ).fetchall():
        out.setdefault(cid, {})[phrase] = weight
    return out


def profile(db: duckdb.DuckDBPyConnection, client_id: str) -> pd.DataFrame:
    return db.execute(
        "SELECT phrase, weight, changed_by, changed_at FROM interest_weights "
        "WHERE client_id = ? ORDER BY weight DESC, phrase",
        [client_id],
    ).df()


def set_weights(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    changed: Mapping[str, float],
    by: str,
    now: datetime,
) -> None:
    """Store new weights for some phrases (others stay as they are)."""
    if changed:
        rows = [(client_id, p.lower(), float(w), by, _naive_utc(now)) for p, w in changed.items()]
        # Delete and insert, not INSERT OR REPLACE: a DuckLake table has no key to replace on.
        db.executemany(
            "DELETE FROM interest_weights WHERE client_id = ? AND phrase = ?",
            [r[:2] for r in rows],
        )
        db.executemany("INSERT INTO interest_weights VALUES (?, ?, ?, ?, ?)", rows)


# --- cadence changes -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CadenceChange:
    id: str
    client_id: str
    previous: str
    cadence: str
    reason: str
    rule: str | None
    changed_at: datetime
    undone_at: datetime | None = None
    undone_by: str | None = None


def change_cadence(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    cadence: str,
    reason: str,
    rule: str | None,
    now: datetime,
) -> CadenceChange | None:
    """Set a client's cadence and log why; None when it already was that."""
    row = db.execute("SELECT cadence FROM clients WHERE id = ?", [client_id]).fetchone()
    if row is None or row[0] == cadence:
        return None
    ident = secrets.token_hex(12)  # a change undone and made again at once is a second change
    db.execute(
        "UPDATE clients SET cadence = ?, updated_at = ? WHERE id = ?",
        [cadence, _naive_utc(now), client_id],
    )
    db.execute(
        "INSERT INTO cadence_changes VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [ident, client_id, row[0], cadence, reason, rule, _naive_utc(now)],
    )
    return CadenceChange(ident, client_id, row[0], cadence, reason, rule, now)


def cadence_changes(db: duckdb.DuckDBPyConnection, client_id: str) -> list[CadenceChange]:
    """A client's cadence changes, newest first."""
    rows = db.execute(
        "SELECT id, client_id, previous, cadence, reason, rule, changed_at, undone_at, undone_by "
        "FROM cadence_changes WHERE client_id = ? ORDER BY changed_at DESC",
        [client_id],
    ).fetchall()
    return [CadenceChange(*r[:6], _aware(r[6]), _aware(r[7]), r[8]) for r in rows]  # type: ignore[arg-type]


def last_cadence_change(db: duckdb.DuckDBPyConnection, client_id: str) -> datetime | None:
    """When the client's cadence last changed or a change was undone: engagement is counted
    from then, so that one quiet spell slows a cadence once."""
    (at,) = db.execute(
        "SELECT max(greatest(changed_at, coalesce(undone_at, changed_at))) "
        "FROM cadence_changes WHERE client_id = ?",
        [client_id],
    ).fetchone()
    return _aware(at)


def undo_cadence_change(
    db: duckdb.DuckDBPyConnection, change_id: str, by: str, now: datetime
) -> str:
    """Put back the cadence a change replaced; returns what happened, in words. A change that
    a later one overtook is not undone (undo the later one first)."""
    row = db.execute(
        "SELECT client_id, previous, cadence, undone_at FROM cadence_changes WHERE id = ?",
        [change_id],
    ).fetchone()
    if row is None:
        return "no such change"
    client_id, previous, cadence, undone = row
    if undone is not None:
        return "already undone"
    (current,) = db.execute("SELECT cadence FROM clients WHERE id = ?", [client_id]).fetchone()
    if current != cadence:
        return f"not undone: the cadence is now {current} (a later change); undo that first"
    db.execute(
        "UPDATE clients SET cadence = ?, updated_at = ? WHERE id = ?",
        [previous, _naive_utc(now), client_id],
    )
    db.execute(
        "UPDATE cadence_changes SET undone_at = ?, undone_by = ? WHERE id = ?",
        [_naive_utc(now), by, change_id],
    )
    return f"cadence back to {previous}"


# --- check-ins -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkin:
    id: str
    client_id: str
    question: str
    scale: str
    sent_at: datetime
    answer: int | None = None
    comment: str | None = None
    answered_at: datetime | None = None


_CHECKIN = "id, client_id, question, scale, sent_at, answer, comment, answered_at"


def _checkin(r: tuple) -> Checkin:
    return Checkin(*r[:4], _aware(r[4]), r[5], r[6], _aware(r[7]))  # type: ignore[arg-type]


def add_checkin(db: duckdb.DuckDBPyConnection, checkin: Checkin) -> None:
    db.execute(
        "INSERT INTO checkins SELECT ?, ?, ?, ?, ?, NULL, NULL, NULL "
        "WHERE NOT EXISTS (SELECT 1 FROM checkins WHERE id = ?)",
        [checkin.id, checkin.client_id, checkin.question, checkin.scale,
         _naive_utc(checkin.sent_at), checkin.id],
    )  # fmt: skip


def checkin(db: duckdb.DuckDBPyConnection, checkin_id: str) -> Checkin | None:
    row = db.execute(f"SELECT {_CHECKIN} FROM checkins WHERE id = ?", [checkin_id]).fetchone()
    return _checkin(row) if row else None


def answer_checkin(
    db: duckdb.DuckDBPyConnection, checkin_id: str, answer: int, comment: str, now: datetime
) -> None:
    """Store an answer (a later one replaces an earlier: the client changed their mind)."""
    db.execute(
        "UPDATE checkins SET answer = ?, comment = ?, answered_at = ? WHERE id = ?",
        [answer, comment.strip()[:2000] or None, _naive_utc(now), checkin_id],
    )


def checkins(db: duckdb.DuckDBPyConnection, client_id: str) -> list[Checkin]:
    """A client's check-ins, oldest first."""
    rows = db.execute(
        f"SELECT {_CHECKIN} FROM checkins WHERE client_id = ? ORDER BY sent_at", [client_id]
    ).fetchall()
    return [_checkin(r) for r in rows]


def answered_since(db: duckdb.DuckDBPyConnection, since: datetime) -> list[Checkin]:
    rows = db.execute(
        f"SELECT {_CHECKIN} FROM checkins WHERE answered_at >= ? ORDER BY answered_at",
        [_naive_utc(since)],
    ).fetchall()
    return [_checkin(r) for r in rows]


def previous_answer(db: duckdb.DuckDBPyConnection, c: Checkin) -> int | None:
    """The client's answer to the check-in before this one, if they answered it."""
    row = db.execute(
        "SELECT answer FROM checkins WHERE client_id = ? AND sent_at < ? AND answer IS NOT NULL "
        "ORDER BY sent_at DESC LIMIT 1",
        [c.client_id, _naive_utc(c.sent_at)],
    ).fetchone()
    return row[0] if row else None


def last_checkin_at(db: duckdb.DuckDBPyConnection, client_id: str) -> datetime | None:
    (at,) = db.execute(
        "SELECT max(sent_at) FROM checkins WHERE client_id = ?", [client_id]
    ).fetchone()
    return _aware(at)


# --- other mail to clients (it counts towards their cap) -----------------------------------


def record_client_mail(
    db: duckdb.DuckDBPyConnection, client_id: str, mail_id: str, kind: str, now: datetime
) -> None:
    db.execute(
        "INSERT INTO client_mails SELECT ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM client_mails WHERE client_id = ? AND mail_id = ?)",
        [client_id, mail_id, kind, _naive_utc(now), client_id, mail_id],
    )


def mails_since(db: duckdb.DuckDBPyConnection, client_id: str, since: datetime) -> list[datetime]:
    """When a client got mail other than digests (check-ins, offers, reminders) since a time."""
    rows = db.execute(
        "SELECT sent_at FROM client_mails WHERE client_id = ? AND sent_at >= ? ORDER BY 1",
        [client_id, _naive_utc(since)],
    ).fetchall()
    return [_aware(r[0]) for r in rows]  # type: ignore[misc]


def last_mail(db: duckdb.DuckDBPyConnection, client_id: str, kind: str) -> datetime | None:
    (at,) = db.execute(
        "SELECT max(sent_at) FROM client_mails WHERE client_id = ? AND kind = ?",
        [client_id, kind],
    ).fetchone()
    return _aware(at)


# --- dates that matter to a client ---------------------------------------------------------

DATE_KINDS = ("renewal", "anniversary", "follow-up")


@dataclass(frozen=True, slots=True)
class ClientDate:
    id: str
    client_id: str
    kind: str
    on_date: date
    note: str = ""
    days_ahead: int = 7
    tell_client: bool = False
    yearly: bool = False
    reminded_for: date | None = None


def add_date(db: duckdb.DuckDBPyConnection, d: ClientDate) -> None:
    if d.kind not in DATE_KINDS:
        raise ValueError(f"kind: {d.kind!r} is not one of {', '.join(DATE_KINDS)}")
    if not 0 <= d.days_ahead <= 365:
        raise ValueError("days_ahead: between 0 and 365")
    db.execute("DELETE FROM client_dates WHERE id = ?", [d.id])  # DuckLake: no key to replace on
    db.execute(
        "INSERT INTO client_dates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [d.id, d.client_id, d.kind, d.on_date, d.note.strip(), d.days_ahead, d.tell_client,
         d.yearly, d.reminded_for],
    )  # fmt: skip


def remove_date(db: duckdb.DuckDBPyConnection, date_id: str) -> None:
    db.execute("DELETE FROM client_dates WHERE id = ?", [date_id])


def dates(db: duckdb.DuckDBPyConnection, client_id: str | None = None) -> list[ClientDate]:
    rows = db.execute(
        "SELECT id, client_id, kind, on_date, note, days_ahead, tell_client, yearly, "
        "reminded_for FROM client_dates WHERE ? IS NULL OR client_id = ? ORDER BY on_date",
        [client_id, client_id],
    ).fetchall()
    return [ClientDate(*r) for r in rows]


def mark_reminded(db: duckdb.DuckDBPyConnection, date_id: str, occurrence: date) -> None:
    db.execute("UPDATE client_dates SET reminded_for = ? WHERE id = ?", [occurrence, date_id])


# --- how often others are talking ----------------------------------------------------------


def people_talking(
    db: duckdb.DuckDBPyConnection, phrases: Sequence[str], since: datetime
) -> dict[str, tuple[int, float | None]]:
    """Per phrase: how many people (distinct authors; a mention without one counts once)
    mentioned it since a time, and the share of their scored mentions that were positive
    (None when none was scored)."""
    out = {}
    for phrase in phrases:
        like = "%" + phrase.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like += "%"
        people, positive = db.execute(
            """
            SELECT count(DISTINCT coalesce(m.author, m.id)),
                   avg(CASE WHEN r.sentiment_label IS NULL THEN NULL
                            WHEN r.sentiment_label = 'positive' THEN 1.0 ELSE 0.0 END)
            FROM mentions m LEFT JOIN readings r ON r.mention_id = m.id
            WHERE m.published >= ?
              AND (lower(m.title) LIKE ? ESCAPE '\\' OR lower(m.text) LIKE ? ESCAPE '\\')
            """,
            [_naive_utc(since), like, like],
        ).fetchone()
        out[phrase] = (people, positive)
    return out
