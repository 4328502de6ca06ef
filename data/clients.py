"""Clients of the knowledge feed: who they are, what they care about, how often they want to
hear from us, and what they were sent."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import duckdb
import idna
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from data.config import EMAIL, _describe, as_written, timezone_name
from data.errors import TidingsError
from data.store import _aware, _naive_utc
from data.text import clean_text

STATUSES = ("active", "paused", "unsubscribed")


class Client(BaseModel):
    """A client as the operator describes them (dashboard form, CSV row)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Lengths bounded: both are keys, and DuckDB refuses a key over 120 KB.
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=200)]
    name: Annotated[str, Field(min_length=1)]
    email: Annotated[str, Field(pattern=EMAIL, max_length=254)]
    interests: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    liked_sources: list[str] = []
    disliked_sources: list[str] = []
    cadence: Literal["instant", "daily", "weekly", "fortnightly"] = "weekly"
    weekday: Annotated[int, Field(ge=0, le=6)] = 0  # 0 = Monday
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    timezone: str = "UTC"
    max_items: Annotated[int, Field(ge=1, le=50)] = 5
    max_emails_per_week: Annotated[int, Field(ge=1, le=50)] = 3
    status: Literal["active", "paused", "unsubscribed"] = "active"
    token: str = ""  # made when first stored, never taken from input (see save)
    owner: Annotated[str, Field(pattern="^$|" + EMAIL)] = ""  # the account owner's email
    others_talking: bool = False  # a line per interest: how many others talked about it

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return timezone_name(value, "Europe/Paris")

    @field_validator("email", "owner")
    @classmethod
    def _as_written(cls, value: str) -> str:
        return as_written(value) if value else value

    @property
    def wanted(self) -> list[str]:
        return [i for i in self.interests if not i.startswith("-")]

    @property
    def unwanted(self) -> list[str]:
        return [i[1:].strip() for i in self.interests if i.startswith("-") and i[1:].strip()]


_COLUMNS = list(Client.model_fields)


def spellings(address: str) -> list[str]:
    """The ways one mailbox is written, lower-cased: as given, and with an internationalised
    domain in its ASCII (`xn--…`) and its Unicode form, so that `a@bücher.example` and
    `a@xn--bcher-kva.example`, one mailbox, are never two clients mailed twice. The first is
    the same for every spelling of the mailbox."""
    local, _, domain = address.lower().rpartition("@")
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode()
        forms = [f"{local}@{ascii_domain}", f"{local}@{idna.decode(ascii_domain)}"]
    except idna.IDNAError:  # not a domain IDNA can write: only the address as given
        forms = []
    return list(dict.fromkeys([*forms, address.lower()]))


def save(
    db: duckdb.DuckDBPyConnection, client: Client, now: datetime, by: str = "operator"
) -> Client:
    """Insert or update a client and return it as stored; a new client gets its unguessable
    token. `by` (who saves: an operator, "import") is logged with any change of status.

    An unsubscribe is the client's decision: saving never undoes it (the stored client stays
    unsubscribed); only `resubscribe` does. Raises ValueError when another client already
    has the email address."""
    forms = spellings(client.email)
    taken = db.execute(
        f"SELECT id FROM clients WHERE lower(email) IN ({', '.join('?' * len(forms))}) AND id <> ?",
        [*forms, client.id],
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
    # An update or an insert, as the client exists: a DuckLake table has no key for ON CONFLICT.
    if existing:
        kept = [c for c in _COLUMNS if c not in ("id", "token")]
        db.execute(
            f"UPDATE clients SET {', '.join(f'{c} = ?' for c in kept)}, updated_at = ? "
            "WHERE id = ?",
            [*(getattr(client, c) for c in kept), _naive_utc(now), client.id],
        )
    else:
        db.execute(
            f"INSERT INTO clients ({', '.join(_COLUMNS)}, created_at, updated_at) "
            f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})",
            [*values, _naive_utc(now), _naive_utc(now)],
        )
    if status != previous:
        _log_status(db, client.id, status, previous, by, now)
    return client


def all_clients(
    db: duckdb.DuckDBPyConnection, unreadable: dict[str, str] | None = None
) -> list[Client]:
    """Every client. With `unreadable`, a stored client this version cannot read (a timezone
    the machine's tz database does not know, a store restored from files) is left out and
    named there with the reason, so that it stops no one else's mail; without, it raises."""
    rows = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM clients ORDER BY name").fetchall()
    out = []
    for r in rows:
        try:
            out.append(Client.model_validate(dict(zip(_COLUMNS, r, strict=True))))
        except ValidationError as e:
            if unreadable is None:
                raise
            unreadable[r[0]] = f"cannot be read: {describe(e)}"
    return out


def by_token(db: duckdb.DuckDBPyConnection, token: str) -> Client | None:
    """The client a link's token names. A stored row this version cannot read (a timezone the
    machine does not know) is taken as stored: their unsubscribe link and feed must work."""
    row = db.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM clients WHERE token = ?", [token]
    ).fetchone()
    if row is None:
        return None
    fields = dict(zip(_COLUMNS, row, strict=True))
    try:
        return Client.model_validate(fields)
    except ValidationError:
        return Client.model_construct(**fields)


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


# --- the clients CSV file ------------------------------------------------------------------

EXPORTED = [c for c in _COLUMNS if c != "token"]  # the columns of a clients file
_LISTS = ("interests", "liked_sources", "disliked_sources")  # ';'-separated in a file
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection). Such
# values are kept: a leading '-' is an interest's exclusion, '+' and '@' start real names and
# handles, and nothing in Tidings runs them (mail and feeds escape text). A file written for
# spreadsheets puts a ' before them, which Excel, LibreOffice and Sheets show as text; an
# import removes that ', so an exported file imports as it was.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


class CsvFileError(TidingsError):
    """A clients file that is not UTF-8 text."""


def decode_csv(data: bytes, name: str) -> str:
    """The text of a clients file (UTF-8, with or without a byte-order mark). Anything else is a
    one-line CsvFileError naming the file and where it stops being UTF-8 text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(f"{name}: UTF-16 text; save it as CSV UTF-8 and import again")
    if b"\0" in data:
        line = data.count(b"\n", 0, data.index(b"\0")) + 1
        raise CsvFileError(f"{name}: not a text file (a NUL byte on line {line})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CsvFileError(
            f"{name}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line}); "
            "save it as CSV UTF-8 and import again"
        ) from None


def spreadsheet_safe(cell: str) -> str:
    """A cell as a spreadsheet shows it as text, never runs it: see _FORMULA."""
    return f"'{cell}" if _FORMULA.match(cell) else cell


def export_csv(everyone: Sequence[Client]) -> str:
    """The clients as a CSV file that `import_csv` reads back as they were, that spreadsheets
    open without running anything, and that never holds a token."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORTED)
    for c in everyone:
        values = [getattr(c, k) for k in EXPORTED]
        writer.writerow(
            [spreadsheet_safe(";".join(v) if isinstance(v, list) else str(v)) for v in values]
        )
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class CsvRow:
    """A valid row of a clients CSV file, and its line in the file."""

    line: int
    client: Client

    @property
    def label(self) -> str:
        return f"row {self.line} ({self.client.email})"


def parse_csv(text: str) -> tuple[list[CsvRow], list[str]]:
    """Clients from CSV text (a header row; list columns separated by ';'), and one line per
    problem: the header's (then no row is read), or a row's, naming its line and column. A row
    with a problem is left out whole; the others stand.

    One line is one row: no client field may hold a line break, so a quote left open spoils its
    own row and never swallows the rows after it."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cells, problem = _cells(lines[0], [])
    header = [h.strip() for h in cells]
    problem = problem or _header_problem(header)
    if problem:
        return [], [f"header: {problem}"]
    good, rejected = [], []
    if "token" in header:
        rejected.append(
            "header: column 'token' ignored: tokens are made by Tidings, never imported"
        )
    first_id: dict[str, int] = {}  # -> the row that had it first
    first_email: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells, problem = _cells(line, header)
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        if problem is None and len(cells) > len(header):
            problem = (
                f"{len(cells)} cells for {len(header)} columns (a value holding a comma needs "
                "quotes)"
            )
        read = _client(row) if problem is None else problem
        if isinstance(read, Client):
            email = spellings(read.email)[0]
            if read.id in first_id:
                read = (
                    f"id: {read.id!r} appears twice in the file (first on row {first_id[read.id]})"
                )
            elif email in first_email:
                read = f"email: appears twice in the file (first on row {first_email[email]})"
            else:
                first_id[read.id] = first_email[email] = number
                good.append(CsvRow(number, read))
                continue
        rejected.append(f"row {number} ({row.get('email') or row.get('id') or '?'}): {read}")
    return good, rejected


def _header_problem(header: list[str]) -> str | None:
    missing = {"id", "name", "email", "interests"} - set(header)
    if missing:
        return f"missing column(s) {', '.join(sorted(missing))}"
    unknown = [h for h in header if h not in EXPORTED and h != "token"]
    if unknown:
        names = ", ".join(repr(h) for h in unknown)
        return (
            f"unknown column{'s' if len(unknown) > 1 else ''} {names} (the columns are "
            f"{', '.join(EXPORTED)}); nothing imported"
        )
    twice = sorted({h for h in header if header.count(h) > 1})
    return f"column {twice[0]!r} appears twice; nothing imported" if twice else None


def _client(row: dict[str, str]) -> Client | str:
    """The client a row describes, or what is wrong with it (naming the column)."""
    data: dict = {}
    for key, value in row.items():
        if value.startswith("'") and _FORMULA.match(value):
            value = value[1:]  # the ' that spreadsheet_safe put before a formula-like cell
        if key == "token" or value == "":
            continue
        if bad := next((ch for ch in value if not clean_text(ch)), None):
            return f"{key}: control character U+{ord(bad):04X}"
        data[key] = [v.strip() for v in value.split(";") if v.strip()] if key in _LISTS else value
    try:
        return Client.model_validate(data)
    except ValidationError as e:
        return _describe(e)


def _cells(line: str, header: Sequence[str]) -> tuple[list[str], str | None]:
    """The cells of one line, or those the csv module reads leniently and what is wrong with
    the line's quotes, naming the cell (its column in `header`)."""
    try:
        return next(csv.reader([line], strict=True), []), None
    except csv.Error:
        pass
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error:  # a cell over the csv module's limit
        return [], f"a cell longer than {csv.field_size_limit():,} characters"
    column, unclosed = _bad_quote(line)
    name = header[column] if column < len(header) else f"cell {column + 1}"
    if unclosed:
        return cells, f"{name}: the quote is not closed on this line"
    return cells, f'{name}: text after the closing quote (write a quote inside a value as "")'


def _bad_quote(line: str) -> tuple[int, bool]:
    """Which cell's quotes the csv module cannot read: (its index, whether the quote is left
    open) — else there is text after its closing quote."""
    column = i = 0
    while i <= len(line):
        if line.startswith('"', i):
            i += 1
            while True:
                close = line.find('"', i)
                if close < 0:
                    return column, True
                if not line.startswith('"', close + 1):
                    break
                i = close + 2
            i = close + 1
            if i < len(line) and line[i] != ",":
                return column, False
        else:
            comma = line.find(",", i)
            i = len(line) if comma < 0 else comma
        column += 1
        i += 1
    return max(column - 1, 0), True


def import_csv(
    db: duckdb.DuckDBPyConnection, text: str, now: datetime, by: str = "import"
) -> tuple[int, list[str]]:
    """Save the valid rows of a CSV file; return how many were saved and the rejected rows.
    `by` (who imports) is logged with any change of status.

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
            kept = save(db, given, now, by)
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
        # An anti-join, not INSERT OR IGNORE: a DuckLake table has no key to ignore on.
        "INSERT INTO deliveries SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM deliveries WHERE client_id = ? AND mention_id = ?)",
        [
            (client_id, m, list(channels), _naive_utc(now), digest_id, i, client_id, m)
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
    """What was pushed to a client's feed, newest first; a missing value is None (rows are
    read as tuples: through pandas a missing author would become NaN)."""
    keys = ("id", "title", "text", "url", "author", "source", "published", "delivered_at")
    rows = db.execute(
        """
        SELECT m.id, m.title, m.text, m.url, m.author, m.source, m.published, d.delivered_at
        FROM deliveries d JOIN mentions m ON m.id = d.mention_id
        WHERE d.client_id = ? AND list_contains(d.channels, 'feed')
        ORDER BY d.delivered_at DESC, d.position LIMIT ?
        """,
        [client_id, limit],
    ).fetchall()
    return [dict(zip(keys, r, strict=True)) for r in rows]


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
        # Only articles with a web link: a digest item is a link to it (a store restored from
        # files may hold a javascript: or data: link, which the redirect would refuse).
        f"SELECT {', '.join(keys)} FROM mentions WHERE published >= ? "
        "AND (url ILIKE 'http://%' OR url ILIKE 'https://%') "
        # What the relevance model set aside is kept for review, not sent (but an article of a
        # knowledge source is sent whatever it is about, as before).
        "AND (article OR id NOT IN (SELECT mention_id FROM scores WHERE set_aside)) "
        "ORDER BY published DESC",
        [_naive_utc(since)],
    ).fetchall()
    return [{**dict(zip(keys, r, strict=True)), "published": _aware(r[6])} for r in rows]
