"""Mentions of each watched term per 5-minute step: what spike rules read, live and in a
backtest. A story (a mention and its near copies, one story_key) counts once, in the step of its
first mention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import duckdb
import numpy as np

from data.store import _naive_utc


def step_counts(
    db: duckdb.DuckDBPyConnection,
    terms: Sequence[str],
    end: datetime,
    steps: int,
    step: timedelta,
    negative_only: bool = False,
) -> dict[str, np.ndarray]:
    """Per term: the stories first seen in each of the `steps` steps before `end`, oldest
    first (the last step ends at `end`). The counts start at the step of the first stored
    mention when that is later, so a new install has a short history, not one of zeros."""
    if not terms:
        return {}
    step_us = int(step / timedelta(microseconds=1))
    end_ts = _naive_utc(end)
    start_ts = end_ts - steps * step
    first = db.execute("SELECT min(published) FROM mentions WHERE published < ?", [end_ts])
    first_at = first.fetchone()[0]
    if first_at is None:
        return {t: np.zeros(0, dtype=np.int64) for t in terms}
    length = min(steps, int((end_ts - first_at) / step) + 1)
    rows = db.execute(
        """
        WITH stories AS (
            SELECT t AS term, min(published) AS seen
            FROM (SELECT published, coalesce(story_key, id) AS story, sentiment_label,
                         unnest(terms) AS t
                  FROM scored_mentions WHERE published < ? AND published_known)
            WHERE t IN (SELECT unnest(?::VARCHAR[])) AND (NOT ? OR sentiment_label = 'negative')
            GROUP BY t, story
        )
        SELECT term, (epoch_us(?::TIMESTAMP) - epoch_us(seen)) // ? AS back, count(*) AS n
        FROM stories WHERE seen >= ? GROUP BY term, back
        """,
        [end_ts, list(terms), negative_only, end_ts, step_us, start_ts],
    ).fetchall()
    out = {t: np.zeros(length, dtype=np.int64) for t in terms}
    for term, back, n in rows:
        if back < length:
            out[term][length - 1 - back] += n
    return out


def examples(
    db: duckdb.DuckDBPyConnection,
    term: str,
    since: datetime,
    end: datetime,
    negative_only: bool = False,
    most: int = 3,
) -> list[dict]:
    """The mentions behind a spike: the term's stories first seen in the window, widest reach
    first (one mention per story), for the alert mail to show and link."""
    rows = db.execute(
        """
        SELECT id, title, url, author, reach, sentiment_label AS sentiment
        FROM scored_mentions
        WHERE published >= ? AND published < ? AND published_known
          AND list_contains(terms, ?) AND (NOT ? OR sentiment_label = 'negative')
        QUALIFY row_number() OVER (PARTITION BY coalesce(story_key, id)
                                   ORDER BY published) = 1
        ORDER BY coalesce(reach, 0) DESC, published DESC
        LIMIT ?
        """,
        [_naive_utc(since), _naive_utc(end), term, negative_only, most],
    ).fetchall()
    keys = ("id", "title", "url", "author", "reach", "sentiment")
    return [dict(zip(keys, r, strict=True)) for r in rows]
