"""Tables out of Tidings: a filtered table as CSV, Parquet or Excel, and the whole store as
Parquet files (`tidings export DIR`) that `tidings import DIR` restores, ids and all."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from data import store
from data.clients import spreadsheet_safe
from data.errors import TidingsError

FORMATS = {  # format -> (file suffix, MIME type)
    "csv": ("csv", "text/csv"),
    "parquet": ("parquet", "application/vnd.apache.parquet"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
MANIFEST = "tidings-export.json"


class ExportError(TidingsError):
    """A folder that cannot be exported to or imported from."""


def _for_spreadsheets(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells as a spreadsheet shows them, never runs them (a title from the internet may
    start with '='); lists joined with '; '; times without a zone (Excel has none)."""
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[col] = series.dt.tz_convert("UTC").dt.tz_localize(None)
        elif pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[col] = [_cell(v) for v in series]
    return out


def _cell(value: object) -> object:
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    return spreadsheet_safe(value) if isinstance(value, str) else value


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """One table as a file of the format: csv (UTF-8 with a BOM, which Excel needs to read
    it as UTF-8), parquet (types kept, lists as lists) or xlsx."""
    if fmt == "parquet":
        buffer = io.BytesIO()
        df.to_parquet(buffer, index=False)
        return buffer.getvalue()
    safe = _for_spreadsheets(df)
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            safe.to_excel(writer, index=False, sheet_name="Tidings")
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


# --- the whole store -----------------------------------------------------------------------


def _tables(db: duckdb.DuckDBPyConnection) -> list[str]:
    rows = db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _version(db: duckdb.DuckDBPyConnection) -> int:
    return int(db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0)


def export_store(db: duckdb.DuckDBPyConnection, folder: Path, now: datetime) -> dict[str, int]:
    """Every table as `folder/TABLE.parquet`, and a manifest (schema version, row counts).
    Derived tables (readings, rollups) go too: an import then needs no rebuild."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / MANIFEST).exists() or any(folder.glob("*.parquet")):
        raise ExportError(f"{folder}: already holds an export; choose an empty folder")
    counts = {}
    for table in _tables(db):
        target = folder / f"{table}.parquet"
        # Table names come from the catalogue, never from a user; paths are bound.
        db.execute(f'COPY "{table}" TO ? (FORMAT parquet)', [str(target)])  # noqa: S608
        counts[table] = int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
    manifest = {"schema_version": _version(db), "exported_at": now.isoformat(), "rows": counts}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return counts


def import_store(
    db: duckdb.DuckDBPyConnection, folder: Path, replace: bool = False
) -> dict[str, int]:
    """Restore an export into this store, in one transaction: all of it or nothing. A store
    that holds mentions already is refused unless `replace` (its rows are then replaced)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        rows = dict(manifest["rows"])
        version = int(manifest["schema_version"])
    except FileNotFoundError:
        raise ExportError(
            f"{folder}: no {MANIFEST} (not a folder `tidings export` wrote)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExportError(f"{folder / MANIFEST}: cannot read it: {e}") from None
    if version > _version(db):
        raise ExportError(
            f"{folder}: exported by a newer Tidings (schema {version}, this one {_version(db)})"
        )
    ours = set(_tables(db))
    unknown = sorted(set(rows) - ours)
    if unknown:
        raise ExportError(f"{folder}: table {unknown[0]!r} is not in this store's schema")
    missing = [t for t in rows if not (folder / f"{t}.parquet").is_file()]
    if missing:
        raise ExportError(f"{folder}: {missing[0]}.parquet is missing")
    if not replace and db.execute("SELECT count(*) FROM mentions").fetchone()[0]:
        raise ExportError(
            "the store already holds mentions: import into a new database, or use --replace"
        )
    db.begin()
    try:
        for table in sorted(ours):  # the export's rows, and nothing else, afterwards
            db.execute(f'DELETE FROM "{table}"')  # noqa: S608
        for table in rows:
            # BY NAME: an export from an older schema fills the columns it has.
            db.execute(
                f'INSERT INTO "{table}" BY NAME SELECT * FROM read_parquet(?)',  # noqa: S608
                [str(folder / f"{table}.parquet")],
            )
        got = {t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in rows}
        if got != rows:
            bad = next(t for t in rows if got[t] != rows[t])
            raise ExportError(f"{folder}: {bad}.parquet holds {got[bad]} rows, not {rows[bad]}")
        store.refill_derived(db, version)
        db.commit()
    except duckdb.Error as e:
        db.rollback()
        raise ExportError(f"{folder}: cannot import: {str(e).splitlines()[0]}") from None
    except BaseException:
        db.rollback()
        raise
    return got
