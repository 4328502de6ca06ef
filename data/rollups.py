"""Current readings and daily rollups: derived tables that keep the dashboard's reads cheap.

`readings` holds the current reading of each scored mention that counts (its latest score with
people's corrections applied); `daily_terms` and `daily_sources` hold counts per day. Every row
follows from mentions + scores + corrections (migration 014 documents each column):
`rebuild` recreates them all, and `refresh` recomputes what a few mentions change, in the
transaction that changed them. Both run the same SQL, over everything or over the days touched.

A story (a mention with its cross-posts and near copies: one story_key) counts once, on the day
of its first mention, as spike counts do (data.term_counts). So a day's rollup depends on the
earlier mentions of its stories, and a refresh recomputes every day on which a touched story
has a mention.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from data import database

# The current reading of each mention: the latest score, corrections applied. {scores},
# {corrections} and {mentions} narrow it to the touched mentions, or are empty.
_COLUMNS = """mention_id, published, collected_at, source, kind, story_key, reach, terms,
    term_sentiments, sentiment, sentiment_label, intents, intent_scores, model_version, lang,
    urgent"""
_READINGS = """
WITH latest AS (
    SELECT * FROM scores {scores}
    QUALIFY row_number() OVER (PARTITION BY mention_id
                               ORDER BY scored_at DESC, model_version DESC) = 1
), fixed AS (
    SELECT mention_id,
           any_value(value) FILTER (kind = 'sentiment') AS sentiment,
           any_value(value) FILTER (kind = 'intents') AS intents,
           bool_or(kind = 'relevance' AND value = 'not_about') AS not_about,
           bool_or(kind = 'relevance' AND value = 'about') AS about
    FROM corrections {corrections} GROUP BY mention_id
), current AS (
    SELECT m.id, m.published, m.collected_at, m.source, m.kind,
           coalesce(m.story_key, m.id) AS story_key, m.reach, s.terms, s.term_sentiments,
           CASE WHEN c.sentiment IS NULL OR c.sentiment = s.sentiment_label THEN s.sentiment
                WHEN c.sentiment = 'positive' THEN 0.5
                WHEN c.sentiment = 'negative' THEN -0.5
                ELSE 0.0 END AS sentiment,
           coalesce(c.sentiment, s.sentiment_label) AS sentiment_label,
           CASE WHEN c.intents IS NULL THEN coalesce(s.intents, [])
                WHEN c.intents = '' THEN []::VARCHAR[]
                ELSE string_split(c.intents, ',') END AS intents,
           s.intent_scores, s.model_version, s.lang
    FROM mentions m
    JOIN latest s ON s.mention_id = m.id
    LEFT JOIN fixed c ON c.mention_id = m.id
    WHERE NOT coalesce(c.not_about, false)
      AND (NOT coalesce(s.set_aside, false) OR coalesce(c.about, false)) {mentions}
)
SELECT *, list_contains(intents, 'complaint') OR list_contains(intents, 'churn_risk')
          OR sentiment_label = 'negative' OR list_contains(intents, 'question')
FROM current
"""

# The days recomputed, when not all: those of the touched stories' readings, before and after.
_ON_DAYS = "AND day IN (SELECT day FROM rollup_days)"

# Counts per day from {rows}: every reading, or those of the stories that have one on the days
# recomputed (a story's first mention may be on an earlier day).
_DAILY_TERMS = """
INSERT INTO daily_terms
WITH per_term AS (
    SELECT published::DATE AS day, mention_id, published, story_key, kind, sentiment,
           sentiment_label, intents, unnest(terms) AS term, unnest(term_sentiments) AS ts
    FROM {rows}
), flagged AS (
    SELECT *,
           row_number() OVER (PARTITION BY story_key, term
                              ORDER BY published, mention_id) = 1 AS head,
           row_number() OVER (PARTITION BY story_key, term, kind
                              ORDER BY published, mention_id) = 1 AS kind_head
    FROM per_term
)
SELECT day, term, kind, sentiment_label, list_sort(intents), count(*),
       sum(coalesce(ts, sentiment)), count(*) FILTER (head), count(*) FILTER (kind_head)
FROM flagged WHERE term IS NOT NULL {on_days}
GROUP BY ALL
"""

_DAILY_SOURCES = """
INSERT INTO daily_sources
WITH flagged AS (
    SELECT published::DATE AS day, source, kind, sentiment_label, sentiment,
           row_number() OVER (PARTITION BY story_key ORDER BY published, mention_id) = 1 AS head,
           row_number() OVER (PARTITION BY story_key, kind
                              ORDER BY published, mention_id) = 1 AS kind_head
    FROM {rows}
)
SELECT day, source, kind, sentiment_label, count(*), sum(sentiment),
       count(*) FILTER (head), count(*) FILTER (kind_head)
FROM flagged WHERE TRUE {on_days}
GROUP BY ALL
"""


def rebuild(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate the current readings and every rollup from mentions + scores + corrections."""
    with _atomic(db):
        for table in ("readings", "daily_terms", "daily_sources"):
            db.execute(f"DELETE FROM {table}")
        current = _READINGS.format(scores="", corrections="", mentions="")
        db.execute(f"INSERT INTO readings ({_COLUMNS}) {current}")
        db.execute(_DAILY_TERMS.format(rows="readings", on_days=""))
        db.execute(_DAILY_SOURCES.format(rows="readings", on_days=""))


def refresh(db: duckdb.DuckDBPyConnection, mention_ids: Sequence[str]) -> None:
    """Bring the readings of these mentions (newly scored, rescored or corrected) and the
    rollups of every day their stories touch up to date."""
    ids = list(dict.fromkeys(mention_ids))
    if not ids:
        return
    db.register("touched_mentions", pa.table({"id": pa.array(ids, pa.string())}))
    touched = "WHERE mention_id IN (SELECT id FROM touched_mentions)"
    try:
        with _atomic(db):
            # The stories and days of the touched readings, before and after: a reading that
            # goes (not about us) leaves its day to recompute.
            db.execute(
                "CREATE OR REPLACE TEMP TABLE rollup_touched AS "
                f"SELECT DISTINCT story_key, published::DATE AS day FROM readings {touched}"
            )
            db.execute(f"DELETE FROM readings {touched}")
            current = _READINGS.format(
                scores=touched,
                corrections=touched,
                mentions="AND m.id IN (SELECT id FROM touched_mentions)",
            )
            db.execute(f"INSERT INTO readings ({_COLUMNS}) {current}")
            db.execute(
                "INSERT INTO rollup_touched "
                f"SELECT DISTINCT story_key, published::DATE FROM readings {touched}"
            )
            if db.execute("SELECT count(*) FROM rollup_touched").fetchone()[0]:
                _recount_days(db)
            db.execute("DROP TABLE rollup_touched")
    finally:
        db.unregister("touched_mentions")


def _recount_days(db: duckdb.DuckDBPyConnection) -> None:
    """Recount the rollups of every day on which a touched story (rollup_touched) has a
    reading, from every reading of the stories on those days."""
    db.execute(
        """
        CREATE OR REPLACE TEMP TABLE rollup_days AS
        SELECT day FROM rollup_touched
        UNION
        SELECT published::DATE FROM readings
        WHERE story_key IN (SELECT story_key FROM rollup_touched)
        """
    )
    rows = """(
        SELECT * FROM readings WHERE story_key IN (
            SELECT story_key FROM readings
            WHERE published >= (SELECT min(day) FROM rollup_days)
              AND published < (SELECT max(day) FROM rollup_days) + 1
              AND published::DATE IN (SELECT day FROM rollup_days)))"""
    for table, sql in (("daily_terms", _DAILY_TERMS), ("daily_sources", _DAILY_SOURCES)):
        db.execute(f"DELETE FROM {table} WHERE TRUE {_ON_DAYS}")
        db.execute(sql.format(rows=rows, on_days=_ON_DAYS))
    db.execute("DROP TABLE rollup_days")


@contextmanager
def _atomic(db: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: the caller's, when one is open (a pass writes everything in one),
    else one of its own, so that the derived tables never show half a change."""
    if _in_transaction(db):
        yield
        return
    db.begin()
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


def _in_transaction(db: duckdb.DuckDBPyConnection) -> bool:
    return database.in_transaction(db)
