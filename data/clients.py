"""Clients of the knowledge feed: who they are, what they care about, how often they want to
hear from us, and what they were sent."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
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
    token: str = ""  # made when first stored, never taken from input (see save)

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


def save(
    db: duckdb.DuckDBPyConnection, client: Client, now: datetime, by: str = "operator"
) -> Client:
    """Insert or update a client and return it as stored; a new client gets its unguessable
    token. `by` (who saves: an operator, "import") is logged with any change of status.

    An unsubscribe is the client's decision: saving never undoes it (the stored client stays
    unsubscribed); only `resubscribe` does. Raises ValueError when another client already
    has the email address."""
    taken = db.execute(
        "SELECT id FROM clients WHERE lower(email) = lower(?) AND id <> ?",
        [client.email, client.id],
    ).fetchone()
    if taken:
        raise ValueError(f"email: another client ({taken[0]}) already has this address")
    existing = db.execute("SELECT token, status FROM clients WHERE id = ?", [client.id]).fetchone()
    # A token is only ever made here (a given one is ignored): the one secret in the links
    # that act for this client, so no file or form can hand a client another's.
    token = existing[0] if existing else secrets.token_urlsafe(24)
    previous = existing[1] if existing else None
    status = "unsubscribed" if previous == "unsubscribed" else client.status
    client = client.model_copy(update={"token": token, "status": status})
    values = [getattr(client, c) for c in _COLUMNS]
    updated = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("id", "token"))
    db.execute(
        f"INSERT INTO clients ({', '.join(_COLUMNS)}, created_at, updated_at) "
        f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updated}, updated_at = excluded.updated_at",
        [*values, _naive_utc(now), _naive_utc(now)],
    )
    if status != previous:
        _log_status(db, client.id, status, previous, by, now)
    return client


def all_clients(db: duckdb.DuckDBPyConnection) -> list[Client]:
    rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM clients ORDER BY name").fetchall()
    return [Client.model_validate(dict(zip(_COLUMNS, r, strict=True))) for r in rows]


def by_token(db: duckdb.DuckDBPyConnection, token: str) -> Client | None:
    row = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM clients WHERE token = ?", [token]
    ).fetchone()
    return Client.model_validate(dict(zip(_COLUMNS, row, strict=True))) if row else None


def unsubscribe(db: duckdb.DuckDBPyConnection, client_id: str, by: str, now: datetime) -> None:
    """The client asked for no more mail (their link), or an operator did it for them."""
    _set_status(db, client_id, "unsubscribed", by, now)


def resubscribe(db: duckdb.DuckDBPyConnection, client_id: str, by: str, now: datetime) -> bool:
    """Undo an unsubscribe: the client's own undo link, or an operator's explicit action on
    the dashboard, logged with `by`. A paused or active client is left as is. Returns whether
    the client was unsubscribed."""
    row = db.execute("SELECT status FROM clients WHERE id = ?", [client_id]).fetchone()
    if row is None or row[0] != "unsubscribed":
        return False
    _set_status(db, client_id, "active", by, now)
    return True


def _set_status(
    db: duckdb.DuckDBPyConnection, client_id: str, status: str, by: str, now: datetime
) -> None:
    row = db.execute("SELECT status FROM clients WHERE id = ?", [client_id]).fetchone()
    if row is None or row[0] == status:
        return
    db.execute(
        "UPDATE clients SET status = ?, updated_at = ? WHERE id = ?",
        [status, _naive_utc(now), client_id],
    )
    _log_status(db, client_id, status, row[0], by, now)


def _log_status(
    db: duckdb.DuckDBPyConnection,
    client_id: str,
    status: str,
    previous: str | None,
    by: str,
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO client_status_log VALUES (?, ?, ?, ?, ?)",
        [client_id, status, previous, by, _naive_utc(now)],
    )


def status_log(
    db: duckdb.DuckDBPyConnection, client_id: str
) -> list[tuple[datetime, str, str | None, str]]:
    """Each change of a client's status, oldest first: (when, status, previous, by whom)."""
    rows = db.execute(
        "SELECT changed_at, status, previous, changed_by FROM client_status_log "
        "WHERE client_id = ? ORDER BY changed_at, rowid",
        [client_id],
    ).fetchall()
    return [(_aware(r[0]), r[1], r[2], r[3]) for r in rows]  # type: ignore[misc]


def describe(error: ValueError) -> str:
    """One line for a person: pydantic's errors as the config file's, others as they are."""
    return _describe(error) if isinstance(error, ValidationError) else str(error)


@dataclass(frozen=True, slots=True)
class CsvRow:
    """A valid row of a clients CSV file, and its line in the file."""

    line: int
    client: Client

    @property
    def label(self) -> str:
        return f"row {self.line} ({self.client.email})"


def parse_csv(text: str) -> tuple[list[CsvRow], list[str]]:
    """Clients from CSV (a header row; list columns separated by ';'), and one line per row
    rejected, saying which row and why."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "name", "email", "interests"} - set(reader.fieldnames or [])
    if missing:
        return [], [f"header: missing column(s) {', '.join(sorted(missing))}"]
    good, rejected = [], []
    if "token" in (reader.fieldnames or []):
        rejected.append(
            "header: column 'token' ignored: tokens are made by Tidings, never imported"
        )
    for line, row in enumerate(reader, start=2):
        data: dict = {}
        for key, value in row.items():
            if key is None or key == "token" or value is None or value.strip() == "":
                continue
            key = key.strip()
            if key in ("interests", "liked_sources", "disliked_sources"):
                data[key] = [v.strip() for v in value.split(";") if v.strip()]
            else:
                data[key] = value.strip()
        try:
            good.append(CsvRow(line, Client.model_validate(data)))
        except ValidationError as e:
            rejected.append(
                f"row {line} ({row.get('email') or row.get('id') or '?'}): {_describe(e)}"
            )
    seen: set[str] = set()
    unique = []
    for r in good:
        if r.client.email.lower() in seen:
            rejected.append(f"{r.client.id}: email {r.client.email} appears twice in the file")
            continue
        seen.add(r.client.email.lower())
        unique.append(r)
    return unique, rejected


def import_csv(db: duckdb.DuckDBPyConnection, text: str, now: datetime) -> tuple[int, list[str]]:
    """Save the valid rows of a CSV file; return how many were saved and the rejected rows.

    A row without a status keeps the stored client's; no row undoes an unsubscribe."""
    rows, rejected = parse_csv(text)
    saved = 0
    for r in rows:
        given = r.client
        if "status" not in given.model_fields_set:
            stored = db.execute("SELECT status FROM clients WHERE id = ?", [given.id]).fetchone()
            if stored:
                given = given.model_copy(update={"status": stored[0]})
        try:
            kept = save(db, given, now, "import")
        except ValueError as e:
            rejected.append(f"{r.label}: {e}")
            continue
        saved += 1
        if kept.status != given.status:
            rejected.append(
                f"{r.label}: status: kept {kept.status!r}: the client unsubscribed; only their "
                "undo link or Resubscribe on the dashboard changes that (other fields updated)"
            )
    return saved, rejected


EXPORTED = [c for c in _COLUMNS if c != "token"]


def export_csv(everyone: Sequence[Client]) -> str:
    """The clients as a CSV file that `import_csv` reads back; never their tokens."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORTED)
    for c in everyone:
        values = [getattr(c, k) for k in EXPORTED]
        writer.writerow([";".join(v) if isinstance(v, list) else v for v in values])
    return out.getvalue()


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
