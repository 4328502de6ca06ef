"""Clients of the knowledge feed: who they are, what they care about, how often they want to
hear from us, and what they were sent."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from data.config import EMAIL, _describe
from data.store import _aware, _naive_utc

STATUSES = ("active", "paused", "unsubscribed")


class Client(BaseModel):
    """A client as the operator describes them (dashboard form, CSV row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Annotated[str, Field(min_length=1)]
    email: Annotated[str, Field(pattern=EMAIL)]
    interests: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    liked_sources: list[str] = []
    disliked_sources: list[str] = []
    cadence: Literal["instant", "daily", "weekly"] = "weekly"
    weekday: Annotated[int, Field(ge=0, le=6)] = 0  # 0 = Monday
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    timezone: str = "UTC"
    max_items: Annotated[int, Field(ge=1, le=50)] = 5
    max_emails_per_week: Annotated[int, Field(ge=1, le=50)] = 3
    status: Literal["active", "paused", "unsubscribed"] = "active"
    token: str = ""  # set when stored

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (e.g. Europe/Paris)") from None
        return value

    @property
    def wanted(self) -> list[str]:
        return [i for i in self.interests if not i.startswith("-")]

    @property
    def unwanted(self) -> list[str]:
        return [i[1:].strip() for i in self.interests if i.startswith("-") and i[1:].strip()]


_COLUMNS = list(Client.model_fields)


def save(db: duckdb.DuckDBPyConnection, client: Client, now: datetime) -> Client:
    """Insert or update a client; a new client gets its unguessable token. Raises ValueError
    when another client already has the email address."""
    (taken,) = db.execute(
        "SELECT count(*) FROM clients WHERE lower(email) = lower(?) AND id <> ?",
        [client.email, client.id],
    ).fetchone()
    if taken:
        raise ValueError(f"{client.email}: another client already has this email address")
    existing = db.execute(
        "SELECT token, created_at FROM clients WHERE id = ?", [client.id]
    ).fetchone()
    token = client.token or (existing[0] if existing else secrets.token_urlsafe(24))
    created = existing[1] if existing else _naive_utc(now)
    client = client.model_copy(update={"token": token})
    values = [getattr(client, c) for c in _COLUMNS]
    db.execute(
        f"INSERT OR REPLACE INTO clients ({', '.join(_COLUMNS)}, created_at, updated_at) "
        f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})",
        [*values, created, _naive_utc(now)],
    )
    return client


def all_clients(db: duckdb.DuckDBPyConnection) -> list[Client]:
    rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM clients ORDER BY name").fetchall()
    return [Client.model_validate(dict(zip(_COLUMNS, r, strict=True))) for r in rows]


def by_token(db: duckdb.DuckDBPyConnection, token: str) -> Client | None:
    row = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM clients WHERE token = ?", [token]
    ).fetchone()
    return Client.model_validate(dict(zip(_COLUMNS, row, strict=True))) if row else None


def set_status(db: duckdb.DuckDBPyConnection, client_id: str, status: str, now: datetime) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    db.execute(
        "UPDATE clients SET status = ?, updated_at = ? WHERE id = ?",
        [status, _naive_utc(now), client_id],
    )


def describe(error: ValueError) -> str:
    """One line for a person: pydantic's errors as the config file's, others as they are."""
    return _describe(error) if isinstance(error, ValidationError) else str(error)


def parse_csv(text: str) -> tuple[list[Client], list[str]]:
    """Clients from CSV (a header row; list columns separated by ';'), and one line per row
    rejected, saying which row and why."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "name", "email", "interests"} - set(reader.fieldnames or [])
    if missing:
        return [], [f"header: missing column(s) {', '.join(sorted(missing))}"]
    good, rejected = [], []
    for line, row in enumerate(reader, start=2):
        data: dict = {}
        for key, value in row.items():
            if key is None or value is None or value.strip() == "":
                continue
            key = key.strip()
            if key in ("interests", "liked_sources", "disliked_sources"):
                data[key] = [v.strip() for v in value.split(";") if v.strip()]
            else:
                data[key] = value.strip()
        try:
            good.append(Client.model_validate(data))
        except ValidationError as e:
            rejected.append(
                f"row {line} ({row.get('email') or row.get('id') or '?'}): {_describe(e)}"
            )
    seen: set[str] = set()
    unique = []
    for c in good:
        if c.email.lower() in seen:
            rejected.append(f"{c.id}: email {c.email} appears twice in the file")
            continue
        seen.add(c.email.lower())
        unique.append(c)
    return unique, rejected


def import_csv(db: duckdb.DuckDBPyConnection, text: str, now: datetime) -> tuple[int, list[str]]:
    """Save the valid rows of a CSV file; return how many were saved and the rejected rows."""
    good, rejected = parse_csv(text)
    saved = 0
    for c in good:
        try:
            save(db, c, now)
            saved += 1
        except ValueError as e:
            rejected.append(f"{c.id}: {e}")
    return saved, rejected


# --- what was sent -------------------------------------------------------------------------


def delivered_ids(db: duckdb.DuckDBPyConnection, client_id: str) -> set[str]:
    rows = db.execute("SELECT mention_id FROM deliveries WHERE client_id = ?", [client_id])
    return {r[0] for r in rows.fetchall()}


def record_delivery(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    mention_ids: Sequence[str],
    channels: Sequence[str],
    digest_id: str,
    now: datetime,
) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?)",
        [
            (client_id, m, list(channels), _naive_utc(now), digest_id, i)
            for i, m in enumerate(mention_ids)
        ],
    )


def digests_since(db: duckdb.DuckDBPyConnection, client_id: str, since: datetime) -> list[datetime]:
    """When digests went to a client since a time (one per digest, not per item)."""
    rows = db.execute(
        "SELECT min(delivered_at) FROM deliveries WHERE client_id = ? AND delivered_at >= ? "
        "GROUP BY digest_id ORDER BY 1",
        [client_id, _naive_utc(since)],
    ).fetchall()
    return [_aware(r[0]) for r in rows]  # type: ignore[misc]


def history(db: duckdb.DuckDBPyConnection, client_id: str) -> pd.DataFrame:
    return db.execute(
        """
        SELECT d.delivered_at, d.channels, m.title, m.source, m.url
        FROM deliveries d JOIN mentions m ON m.id = d.mention_id
        WHERE d.client_id = ? ORDER BY d.delivered_at DESC, d.position
        """,
        [client_id],
    ).df()


def feed_items(db: duckdb.DuckDBPyConnection, client_id: str, limit: int = 50) -> list[dict]:
    return (
        db.execute(
            """
        SELECT m.id, m.title, m.text, m.url, m.author, m.source, m.published, d.delivered_at
        FROM deliveries d JOIN mentions m ON m.id = d.mention_id
        WHERE d.client_id = ? AND list_contains(d.channels, 'feed')
        ORDER BY d.delivered_at DESC, d.position LIMIT ?
        """,
            [client_id, limit],
        )
        .df()
        .to_dict("records")
    )


# --- curation ------------------------------------------------------------------------------


def curate(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    mention_id: str,
    action: str | None,
    now: datetime,
) -> None:
    """Pin, remove (or with None, undo either) an item in a client's next digest."""
    db.execute(
        "DELETE FROM curation WHERE client_id = ? AND mention_id = ?", [client_id, mention_id]
    )
    if action:
        db.execute(
            "INSERT INTO curation VALUES (?, ?, ?, ?)",
            [client_id, mention_id, action, _naive_utc(now)],
        )


def curation(db: duckdb.DuckDBPyConnection, client_id: str) -> dict[str, str]:
    rows = db.execute("SELECT mention_id, action FROM curation WHERE client_id = ?", [client_id])
    return dict(rows.fetchall())


def set_note(db: duckdb.DuckDBPyConnection, client_id: str, note: str, now: datetime) -> None:
    db.execute("DELETE FROM digest_notes WHERE client_id = ?", [client_id])
    if note.strip():
        db.execute(
            "INSERT INTO digest_notes VALUES (?, ?, ?)", [client_id, note.strip(), _naive_utc(now)]
        )


def note(db: duckdb.DuckDBPyConnection, client_id: str) -> str:
    row = db.execute("SELECT note FROM digest_notes WHERE client_id = ?", [client_id]).fetchone()
    return row[0] if row else ""


def clear_curation(db: duckdb.DuckDBPyConnection, client_id: str) -> None:
    """After a digest went out, its pins, removals and note are spent."""
    db.execute("DELETE FROM curation WHERE client_id = ?", [client_id])
    db.execute("DELETE FROM digest_notes WHERE client_id = ?", [client_id])


def candidate_articles(db: duckdb.DuckDBPyConnection, since: datetime) -> list[dict]:
    """Articles and mentions published since a time: what digests are made of."""
    keys = ("id", "title", "text", "url", "author", "source", "published", "story_key")
    rows = db.execute(
        f"SELECT {', '.join(keys)} FROM mentions WHERE published >= ? AND url <> '' "
        "ORDER BY published DESC",
        [_naive_utc(since)],
    ).fetchall()
    return [{**dict(zip(keys, r, strict=True)), "published": _aware(r[6])} for r in rows]
