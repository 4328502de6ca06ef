"""Corrections people make to what the NLP read in a mention: its sentiment, its intents, or
"not about us". The latest per mention and kind counts; each is also written to the mention's
history. `tidings train` learns from them (see nlp.model)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from data import rollups
from data.errors import TidingsError
from data.store import _naive_utc

KINDS = ("sentiment", "intents", "relevance")
SENTIMENTS = ("negative", "neutral", "positive")
NOT_ABOUT = "not_about"
ABOUT = "about"  # confirmed about us: counts as before, and teaches the relevance model


def correct(
    db: duckdb.DuckDBPyConnection,
    mention_id: str,
    actor: str,
    now: datetime,
    *,
    sentiment: str | None = None,
    intents: Sequence[str] | None = None,
    not_about: bool = False,
    known_intents: Sequence[str] = (),
    about: bool = False,
) -> int:
    """Record corrections for one mention; return how many were recorded."""
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise ValueError(f"sentiment must be one of {', '.join(SENTIMENTS)}, not {sentiment!r}")
    unknown = [i for i in intents or () if known_intents and i not in known_intents]
    if unknown:
        raise ValueError(f"unknown intent {unknown[0]!r}")
    values = []
    if sentiment is not None:
        values.append(("sentiment", sentiment, f"corrected sentiment → {sentiment}"))
    if intents is not None:
        listed = ",".join(sorted(set(intents)))
        values.append(("intents", listed, f"corrected intents → {listed or 'none'}"))
    if not_about:
        values.append(("relevance", NOT_ABOUT, "marked not about us"))
    elif about:
        values.append(("relevance", ABOUT, "marked about us"))
    at = _naive_utc(now)
    for kind, value, change in values:
        db.execute("DELETE FROM corrections WHERE mention_id = ? AND kind = ?", [mention_id, kind])
        db.execute(
            "INSERT INTO corrections (mention_id, kind, value, actor, made_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [mention_id, kind, value, actor, at],
        )
        db.execute(
            "INSERT INTO inbox_history (mention_id, changed_at, actor, change) VALUES (?, ?, ?, ?)",
            [mention_id, at, actor, change],
        )
    if values:  # the mention's current reading and its days' counts change at once
        rollups.refresh(db, [mention_id])
    return len(values)


def undo(
    db: duckdb.DuckDBPyConnection, mention_id: str, kind: str, actor: str, now: datetime
) -> bool:
    """Remove a correction: the model's reading counts again."""
    n = len(
        db.execute(
            "DELETE FROM corrections WHERE mention_id = ? AND kind = ? RETURNING kind",
            [mention_id, kind],
        ).fetchall()
    )
    if n:
        db.execute(
            "INSERT INTO inbox_history (mention_id, changed_at, actor, change) VALUES (?, ?, ?, ?)",
            [mention_id, _naive_utc(now), actor, f"correction of {kind} removed"],
        )
        rollups.refresh(db, [mention_id])
    return bool(n)


def of_mention(db: duckdb.DuckDBPyConnection, mention_id: str) -> dict[str, str]:
    return dict(
        db.execute(
            "SELECT kind, value FROM corrections WHERE mention_id = ?", [mention_id]
        ).fetchall()
    )


def made_since(db: duckdb.DuckDBPyConnection, since: datetime | None) -> int:
    """How many corrections were made after `since` (all, if None): what training has not
    learned yet."""
    (n,) = db.execute(
        "SELECT count(*) FROM corrections WHERE ?::TIMESTAMP IS NULL OR made_at > ?",
        [_naive_utc(since), _naive_utc(since)],
    ).fetchone()
    return int(n)


def confidences(
    db: duckdb.DuckDBPyConnection, mention_id: str, published: datetime | None = None
) -> dict[str, float]:
    """How sure the model that read the mention is of each intent (0..1; empty if unscored).
    With the mention's `published`, only the readings of its time are read (they are written
    in order of publication), not every reading's key."""
    at = "AND published = ?" if published is not None else ""
    found = db.execute(
        f"SELECT intent_scores FROM readings WHERE mention_id = ? {at}",
        [mention_id, *([published] if published is not None else [])],
    ).fetchone()
    try:
        scores = json.loads(found[0]) if found and found[0] else {}
    except ValueError:
        return {}
    return {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}


def relevance_of(db: duckdb.DuckDBPyConnection, mention_id: str) -> dict[str, float]:
    """How sure the latest score is that the mention is about each entity it names (empty when
    the context rules alone decided)."""
    found = db.execute(
        "SELECT terms, term_relevance FROM scores WHERE mention_id = ? "
        "ORDER BY scored_at DESC, model_version DESC LIMIT 1",
        [mention_id],
    ).fetchone()
    if found is None or not found[1]:
        return {}
    return dict(zip(found[0], found[1], strict=False))


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled text of a team's history: any of the labels may be unsaid (None)."""

    text: str
    sentiment: str | None = None
    intents: tuple[str, ...] | None = None
    relevant: bool | None = None


MAX_LABELLED_TEXT = 20_000


def read_labelled(path: Path, known_intents: Sequence[str]) -> list[Labelled]:
    """Labelled texts from a JSON-lines file (`{"text", "intents": [...], "sentiment",
    "relevant"}`, any of the labels) or a CSV file with those columns (intents separated by
    ';' or ','). Raises TidingsError naming the file, line and what is wrong."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TidingsError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    if path.suffix.lower() == ".csv":
        rows = [(n + 2, row) for n, row in enumerate(csv.DictReader(raw.splitlines()))]
    else:
        rows = []
        for n, line in enumerate(raw.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise TidingsError(f"{path}:{n}: not JSON: {e.msg}") from None
    out = []
    for n, row in rows:
        where = f"{path}:{n}"
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"]:
            raise TidingsError(f'{where}: each line needs a non-empty "text"')
        if len(row["text"]) > MAX_LABELLED_TEXT:
            # The text is the table's key, and DuckDB refuses a key over 120 KB.
            raise TidingsError(
                f"{where}: text of {len(row['text']):,} characters; at most "
                f"{MAX_LABELLED_TEXT:,} (a model reads no more of a post)"
            )
        feeling = row.get("sentiment") or None
        if feeling is not None and feeling not in SENTIMENTS:
            raise TidingsError(f"{where}: sentiment must be one of {', '.join(SENTIMENTS)}")
        wants = row.get("intents")
        if isinstance(wants, str):
            wants = [w.strip() for w in wants.replace(";", ",").split(",") if w.strip()]
        if wants is not None and not isinstance(wants, list):
            raise TidingsError(f"{where}: intents must be a list")
        unknown = [w for w in wants or () if w not in known_intents]
        if unknown:
            raise TidingsError(f"{where}: unknown intent {unknown[0]!r}")
        relevant = row.get("relevant")
        if isinstance(relevant, str):
            relevant = {"true": True, "false": False, "1": True, "0": False, "": None}.get(
                relevant.strip().lower(), "bad"
            )
        if relevant is not None and not isinstance(relevant, bool):
            raise TidingsError(f"{where}: relevant must be true or false")
        if feeling is None and wants is None and relevant is None:
            raise TidingsError(f"{where}: no label (sentiment, intents or relevant)")
        out.append(
            Labelled(row["text"], feeling, None if wants is None else tuple(wants), relevant)
        )
    return out


def import_labelled(
    db: duckdb.DuckDBPyConnection, labelled: Sequence[Labelled], source: str, now: datetime
) -> int:
    """Store imported labelled texts for training; return how many."""
    rows = [
        (x.text, x.sentiment, None if x.intents is None else ",".join(sorted(set(x.intents))),
         x.relevant, source, _naive_utc(now))
        for x in {x.text: x for x in labelled}.values()
    ]  # fmt: skip
    # Replaced by delete and insert: a DuckLake table has no key to replace on.
    db.executemany("DELETE FROM imported_labels WHERE text = ?", [(r[0],) for r in rows])
    db.executemany("INSERT INTO imported_labels VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def training_data(
    db: duckdb.DuckDBPyConnection, silver_limit: int = 3000
) -> tuple[list[tuple[str, str]], list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """What `tidings train` learns from: (text, sentiment) and (text, intents) corrections (and
    imported labelled texts), and
    up to `silver_limit` recent uncorrected English mentions with the intents the rules gave."""

    def rows(kind: str) -> list[tuple[str, str]]:
        return db.execute(
            f"SELECT {as_read('m')}, c.value FROM corrections c "
            "JOIN mentions m ON m.id = c.mention_id WHERE c.kind = ? ORDER BY c.made_at",
            [kind],
        ).fetchall()

    sentiments = rows("sentiment")
    intents = [(text, [i for i in value.split(",") if i]) for text, value in rows("intents")]
    imported = db.execute(
        "SELECT text, sentiment, intents FROM imported_labels ORDER BY imported_at, text"
    ).fetchall()
    sentiments += [(text, feeling) for text, feeling, _ in imported if feeling]
    intents += [(text, [i for i in listed.split(",") if i]) for text, _, listed in imported
                if listed is not None]  # fmt: skip
    silver = db.execute(
        f"""
        SELECT {as_read("sm")}, intents FROM scored_mentions sm
        WHERE lang IN ('en', 'und')
          AND NOT EXISTS (SELECT 1 FROM corrections c
                          WHERE c.mention_id = sm.id AND c.kind = 'intents')
        ORDER BY published DESC LIMIT ?
        """,
        [silver_limit],
    ).fetchall()
    return sentiments, intents, [(t, list(i)) for t, i in silver]


def as_read(alias: str) -> str:
    """SQL for what is read of a mention (`alias` its table): nlp.pipeline.as_read's text."""
    head = f"trim(rtrim({alias}.title, '…'))"
    opening = f"ltrim({alias}.text, ' ' || chr(9) || chr(10))"
    return (f"CASE WHEN {head} <> '' AND starts_with({opening}, {head}) THEN {alias}.text "
            f"ELSE {alias}.title || chr(10) || {alias}.text END")  # fmt: skip


# Work people did on a mention without marking it "not about us": they took it as about us.
HANDLED = ("assigned", "responded", "done")


def relevance_data(db: duckdb.DuckDBPyConnection, limit: int = 20_000) -> list[tuple[str, bool]]:
    """What the relevance model learns from: (title and text, about us?) for
    mentions marked "not about us" or "about us", texts imported with a `relevant` label, and
    mentions handled in the inbox (assigned, responded, done) without a relevance correction."""
    return [
        (text, bool(relevant))
        for text, relevant in db.execute(
            f"""
            SELECT {as_read("m")}, c.value = ? FROM corrections c
            JOIN mentions m ON m.id = c.mention_id WHERE c.kind = 'relevance'
            UNION ALL
            SELECT text, relevant FROM imported_labels WHERE relevant IS NOT NULL
            UNION ALL
            SELECT {as_read("m")}, true FROM inbox i
            JOIN readings r ON r.mention_id = i.mention_id
            JOIN mentions m ON m.id = i.mention_id
            WHERE i.status IN (SELECT unnest(?::VARCHAR[]))
              AND NOT EXISTS (SELECT 1 FROM corrections c
                              WHERE c.mention_id = i.mention_id AND c.kind = 'relevance')
            LIMIT ?
            """,
            [ABOUT, list(HANDLED), limit],
        ).fetchall()
    ]


def unmarked_counted(db: duckdb.DuckDBPyConnection, limit: int = 5_000) -> list[str]:
    """The newest mentions that count and carry no relevance label of any kind (title and
    text): weak "about us" labels for the relevance model (see nlp.relevance)."""
    return [
        text
        for (text,) in db.execute(
            f"""
            SELECT {as_read("m")} FROM readings r
            JOIN mentions m ON m.id = r.mention_id
            WHERE NOT EXISTS (SELECT 1 FROM corrections c
                              WHERE c.mention_id = r.mention_id AND c.kind = 'relevance')
              AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.mention_id = r.mention_id
                              AND i.status IN (SELECT unnest(?::VARCHAR[])))
            ORDER BY r.published DESC LIMIT ?
            """,
            [list(HANDLED), limit],
        ).fetchall()
    ]


# --- what is set aside: named a watched entity, counted nowhere ------------------------------

_ASIDE = """
WITH kept AS (
    SELECT m.id, m.published, m.title, m.source, m.url, m.text FROM mentions m
    WHERE {which}
      AND m.id IN (SELECT mention_id FROM scores)
      AND m.id NOT IN (SELECT mention_id FROM readings)
), latest AS (
    SELECT mention_id, terms, term_relevance FROM scores
    WHERE mention_id IN (SELECT id FROM kept)
    QUALIFY row_number() OVER (PARTITION BY mention_id
                               ORDER BY scored_at DESC, model_version DESC) = 1
)
SELECT k.published, k.title, l.terms, list_max(l.term_relevance) AS sure,
       c.actor AS marked_by, c.made_at AS marked_at, k.source, k.url, k.text, k.id
FROM kept k JOIN latest l ON l.mention_id = k.id
LEFT JOIN corrections c ON c.mention_id = k.id AND c.kind = 'relevance' AND c.value = 'not_about'
"""
# Those of a period that name any of the terms (every one, when no term is given).
_ASIDE_IN_PERIOD = _ASIDE.format(which="m.published >= ? AND m.published < ?") + (
    "WHERE len(?::VARCHAR[]) = 0 OR len(list_intersect(l.terms, ?::VARCHAR[])) > 0"
)


def _aside_params(since: datetime, until: datetime, terms: Sequence[str]) -> list:
    return [_naive_utc(since), _naive_utc(until), list(terms), list(terms)]


def set_aside(
    db: duckdb.DuckDBPyConnection,
    since: datetime,
    until: datetime,
    terms: Sequence[str] = (),
    limit: int = 100,
    offset: int = 0,
) -> pd.DataFrame:
    """One page, newest first, of the mentions published in [since, until) that name a watched
    entity (any of `terms`, when given) and count nowhere: set aside by the relevance model
    (`marked_by` empty; `sure`: how sure it was that the mention is about the entity) or marked
    "not about us" by a person."""
    return db.execute(
        _ASIDE_IN_PERIOD + " ORDER BY k.published DESC, k.id LIMIT ? OFFSET ?",
        [*_aside_params(since, until, terms), limit, offset],
    ).df()


def set_aside_count(
    db: duckdb.DuckDBPyConnection, since: datetime, until: datetime, terms: Sequence[str] = ()
) -> int:
    (n,) = db.execute(
        f"SELECT count(*) FROM ({_ASIDE_IN_PERIOD})", _aside_params(since, until, terms)
    ).fetchone()
    return int(n)


def aside_mention(db: duckdb.DuckDBPyConnection, mention_id: str) -> dict | None:
    """One set-aside mention (as `set_aside` lists it), or None if it counts or is unknown."""
    found = db.execute(_ASIDE.format(which="m.id = ?"), [mention_id]).df()
    return None if found.empty else found.iloc[0].to_dict()
