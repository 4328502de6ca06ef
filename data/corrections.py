"""Corrections people make to what the NLP read in a mention: its sentiment, its intents, or
"not about us". The latest per mention and kind counts; each is also written to the mention's
history. `tidings train` learns from them (see nlp.model)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from data.store import _naive_utc

KINDS = ("sentiment", "intents", "relevance")
SENTIMENTS = ("negative", "neutral", "positive")
NOT_ABOUT = "not_about"


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


def not_about_us(db: duckdb.DuckDBPyConnection, limit: int = 200) -> list[tuple]:
    """Mentions marked not about us, newest first: (id, title, source, actor, made_at)."""
    return db.execute(
        """
        SELECT m.id, m.title, m.source, c.actor, c.made_at FROM corrections c
        JOIN mentions m ON m.id = c.mention_id
        WHERE c.kind = 'relevance' AND c.value = ?
        ORDER BY c.made_at DESC LIMIT ?
        """,
        [NOT_ABOUT, limit],
    ).fetchall()


def training_data(
    db: duckdb.DuckDBPyConnection, silver_limit: int = 3000
) -> tuple[list[tuple[str, str]], list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """What `tidings train` learns from: (text, sentiment) and (text, intents) corrections, and
    up to `silver_limit` recent uncorrected English mentions with the intents the rules gave."""

    def rows(kind: str) -> list[tuple[str, str]]:
        return db.execute(
            "SELECT m.title || chr(10) || m.text, c.value FROM corrections c "
            "JOIN mentions m ON m.id = c.mention_id WHERE c.kind = ? ORDER BY c.made_at",
            [kind],
        ).fetchall()

    sentiments = rows("sentiment")
    intents = [(text, [i for i in value.split(",") if i]) for text, value in rows("intents")]
    silver = db.execute(
        """
        SELECT title || chr(10) || text, intents FROM scored_mentions sm
        WHERE lang IN ('en', 'und')
          AND NOT EXISTS (SELECT 1 FROM corrections c
                          WHERE c.mention_id = sm.id AND c.kind = 'intents')
        ORDER BY published DESC LIMIT ?
        """,
        [silver_limit],
    ).fetchall()
    return sentiments, intents, [(t, list(i)) for t, i in silver]
