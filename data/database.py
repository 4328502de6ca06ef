"""Where the store lives: the embedded DuckDB file (the default), or a DuckLake shared by
several machines (a PostgreSQL catalog and Parquet files on a shared path), chosen by
`[database] url` in the config. `data.store.connect` opens either; everything else is the
same SQL on both.

DuckLake has no primary keys, unique constraints or indexes, and takes only literal defaults:
the numbered migrations are written for DuckDB and `for_lake` translates them. Idempotent
writes are anti-joins or MERGE INTO, which need no key. Several processes write a lake at once
and DuckLake never makes them wait: a commit that conflicts with one made meanwhile fails, and
the writer runs its transaction again on the new snapshot (`retry_conflicts`). Two inserts
never conflict, so each write transaction that must not race another (two passes storing the
same new mention) also bumps the one row of `store_writes` (`claim_writes`): of two such
transactions one commits, the other sees the first's rows when it runs again.
"""

from __future__ import annotations

import importlib.metadata
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from data.errors import TidingsError

LAKE_PREFIX = "ducklake:"
CATALOG = "lake"  # what the lake is attached as in each connection
EXTENSIONS = ("duckdb-ext-ducklake", "duckdb-ext-postgres")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lake:
    """A DuckLake: its catalog (`postgres:` + libpq's `key=value` words, or a DuckDB file for a
    one-machine trial) and where its Parquet files go (a folder every writer sees, or an object
    store prefix). The password is never here: libpq reads $PGPASSWORD (or ~/.pgpass)."""

    catalog: str
    data_path: str

    def __str__(self) -> str:
        return f"{LAKE_PREFIX}{self.catalog} (data in {self.data_path})"


def check_url(url: str) -> str:
    """A `[database] url` as it may be written, else ValueError saying why."""
    if not url.startswith(LAKE_PREFIX) or len(url) == len(LAKE_PREFIX):
        raise ValueError(
            "expected 'ducklake:postgres:dbname=… host=… user=…' (leave url out for the "
            "embedded DuckDB file at path)"
        )
    if re.search(r"\bpassword\s*=", url, re.IGNORECASE):
        raise ValueError("no password in the config: set $PGPASSWORD where Tidings runs")
    return url


def _extension_dir() -> str:
    """The folder of the ducklake and postgres extensions shipped in their wheels
    (duckdb_ext/extensions/v<duckdb version>/<platform>/…): loaded offline, never downloaded."""
    try:
        dist = importlib.metadata.distribution(EXTENSIONS[0])
        importlib.metadata.distribution(EXTENSIONS[1])
    except importlib.metadata.PackageNotFoundError:
        raise TidingsError(
            "a DuckLake store needs the packages " + " and ".join(EXTENSIONS) + " "
            f"(for DuckDB {duckdb.__version__}): pip install them"
        ) from None
    return str(dist.locate_file("duckdb_ext/extensions"))


# One DuckDB instance per lake and process, with the lake attached: attaching costs a catalog
# round trip and loading two extensions (~0.5 s), so each `connect` takes a cursor of it.
_lakes: dict[Lake, duckdb.DuckDBPyConnection] = {}
_lakes_lock = threading.Lock()


def open_lake(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A new connection to the lake, its catalog in use: close it when done."""
    with _lakes_lock:
        base = _lakes.get(lake)
        if base is None:
            base = duckdb.connect(
                config={
                    "extension_directory": _extension_dir(),
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": True,
                }
            )
            try:
                base.execute("LOAD ducklake")
                base.execute("LOAD postgres")
                _attach(base, lake)
            except duckdb.Error as e:
                base.close()
                first = (str(e).strip().splitlines() or [""])[0]
                raise TidingsError(f"{lake}: cannot open the lake: {first[:300]}") from None
            _lakes[lake] = base
    db = base.cursor()
    db.execute(f"USE {CATALOG}")
    return db


def _attach(db: duckdb.DuckDBPyConnection, lake: Lake, attempts: int = 20) -> None:
    """Attach the lake. Workers starting together on a new catalog race to create DuckLake's
    own tables in it: the losers' attach fails ("duplicate key", "already exists"), and then
    finds the tables when tried again."""
    for attempt in range(attempts):
        try:
            db.execute(
                f"ATTACH {_literal(LAKE_PREFIX + lake.catalog)} AS {CATALOG} "
                f"(DATA_PATH {_literal(lake.data_path)})"
            )
            return
        except duckdb.Error as e:
            text = str(e).lower()
            racing = "failed to initialize ducklake" in text and (
                "duplicate key" in text or "already exists" in text
            )
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1) * (0.5 + random.random()))


def _literal(text: str) -> str:
    """A SQL string literal (ATTACH takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def is_lake(db: duckdb.DuckDBPyConnection) -> bool:
    (name,) = db.execute("SELECT current_database()").fetchone()
    return name == CATALOG


def in_transaction(db: duckdb.DuckDBPyConnection) -> bool:
    """Whether a transaction is open on this connection. DuckDB's Python API cannot say, and a
    BEGIN inside a transaction aborts it; but without one each statement runs in a transaction
    of its own, with an id of its own. DuckLake gives no such id: it is read from the
    connection's in-memory database, which takes part in the same transaction."""
    lake = is_lake(db)
    if lake:
        db.execute("USE memory")
    try:
        first, second = (db.execute("SELECT txid_current()").fetchone()[0] for _ in range(2))
    finally:
        if lake:
            db.execute(f"USE {CATALOG}")
    return first == second


# --- migrations -----------------------------------------------------------------------------

_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    # Indexes: DuckLake has none (its files carry min/max statistics instead).
    (re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*;", re.IGNORECASE), ""),
    # Keys and uniqueness: the store's writes are idempotent without them.
    (re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE), ""),
    (re.compile(r"\s+PRIMARY\s+KEY\b", re.IGNORECASE), ""),
    (re.compile(r"\s+UNIQUE\b(?!\s*\()", re.IGNORECASE), ""),
    # Defaults must be literals of a scalar type: a list column has none (every insert of the
    # store names its list columns), a quoted boolean is cast to the column's type.
    (re.compile(r"\s+DEFAULT\s+\[\]", re.IGNORECASE), ""),
    (re.compile(r"\bDEFAULT\s+(true|false)\b", re.IGNORECASE), r"DEFAULT '\1'"),
]


# What a migration does to a DuckDB file only, between these two comment lines: undoing what
# DuckLake never had (its keys and indexes).
_FILE_ONLY = re.compile(r"^--\s*lake:\s*skip\s*$.*?^--\s*lake:\s*end\s*$", re.MULTILINE | re.DOTALL)


def for_lake(sql: str) -> str:
    """A migration written for DuckDB, as DuckLake takes it (see _TRANSLATIONS)."""
    sql = _FILE_ONLY.sub("", sql)
    lines = [line.split("--", 1)[0] if "--" in line else line for line in sql.splitlines()]
    out = "\n".join(lines)  # comments out first: they may hold the words translated
    for pattern, replacement in _TRANSLATIONS:
        out = pattern.sub(replacement, out)
    return out


# --- writes from several processes ------------------------------------------------------------

# The row every racing write transaction updates, so that two of them conflict (see above).
WRITES_TABLE = "CREATE TABLE IF NOT EXISTS store_writes (n BIGINT NOT NULL)"


def claim_writes(db: duckdb.DuckDBPyConnection) -> None:
    """Make this transaction conflict with any other that claims too, so that one of them runs
    again on the other's rows (`retry_conflicts`). Needed in a lake, where inserts never
    conflict; in a DuckDB file processes write one at a time, but threads of one process, each
    with its own connection, would otherwise meet only on a key, or not at all."""
    db.execute("UPDATE store_writes SET n = n + 1")


def ensure_writes_row(db: duckdb.DuckDBPyConnection) -> None:
    """The one row of store_writes (in its own transaction, once per store)."""
    db.execute(WRITES_TABLE)
    db.execute("INSERT INTO store_writes SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM store_writes)")


def is_conflict(error: BaseException) -> bool:
    """A lake commit that lost to another one made meanwhile: worth running again."""
    text = str(error).lower()
    return isinstance(error, duckdb.TransactionException) or (
        isinstance(error, duckdb.Error) and "conflict" in text
    )


def retry_conflicts(work: Callable[[], T], timeout: float = 120.0) -> T:
    """Run `work` (one whole transaction, opening its own connection) until it commits without
    a conflict, for at most `timeout` seconds, waiting a little longer each time."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return work()
        except duckdb.Error as e:
            if not is_conflict(e) or time.monotonic() >= deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


def lake_from_config(url: str, data_path: str | Path) -> Lake:
    """The lake a checked `[database] url` names, its files under `data_path` (a folder)."""
    data = str(data_path)
    return Lake(
        catalog=url[len(LAKE_PREFIX) :], data_path=data if data.endswith("/") else data + "/"
    )
