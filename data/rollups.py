"""Current readings and daily rollups: derived tables that keep the dashboard's reads cheap.

`readings` holds the current reading of each scored mention that counts (its latest score with
people's corrections applied); `daily_terms` and `daily_sources` hold counts per day. Every row
follows from mentions + scores + corrections (migration 014 documents each column):
`rebuild` recreates them all, and `refresh` recomputes what a few mentions change, in the
transaction that changed them. Both count with the same SQL, over every reading or over the
readings of the stories touched.

`inbox_queue` and `inbox_counts` (migration 020) follow from the readings and the inbox's work
states: the queue in the order the inbox shows it, with what a row of it shows of the mention
(migration 022), and its size per state and assignee. They change where readings change
(`refresh`) and where work states do (`requeue`, from data.inbox.update).

A story (a mention with its cross-posts and near copies: one story_key) counts once, on the day
of its first mention, as spike counts do (data.term_counts). So a day's rollup depends on the
earlier mentions of its stories; but what a story adds to the rollups follows from its own
readings only. A refresh takes away what the touched stories counted, replaces their readings,
and adds what they count now: its work is the touched stories', whatever the days they span
and the store holds (issue 13). Sentiment sums are kept exactly (migration 021), so that adding
and taking away leaves the sum a rebuild makes. Each first mention of a kind of source also
keeps the kinds the story was mentioned on before it (earlier_kinds, migration 022), so that the
rollups count a story once among any set of kinds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from data import database
from data.search import WORDS

# The mentions a connection stored since its last refresh, as stored (data.store.
# upsert_mentions): a refresh of their readings finds them here, without reading the ids of
# every stored mention. Mentions never change once stored, so the copies stay true.
WRITTEN = "written_mentions"
# What readings and queue rows copy of a mention (_READINGS, _QUEUE_ROWS): not its text, but
# the words the text filter searches (readings.search_text, data.search).
MENTION_COLUMNS = f"""id, published, collected_at, source, kind, story_key, reach, title, author,
    url, published_known, {WORDS} AS search_text"""

_COLUMNS = """mention_id, published, collected_at, source, kind, story_key, reach, terms,
    term_sentiments, sentiment, sentiment_label, intents, intent_scores, model_version, lang,
    search_text, urgent"""
# The current reading of each mention: the latest score, corrections applied. {scores} and
# {mentions} are the tables the scores and mentions are read from (all of them, or the touched
# mentions' read once); {corrections} narrows the corrections to them, or is empty.
_READINGS = """
WITH latest AS (
    SELECT * FROM {scores}
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
           s.intent_scores, s.model_version, s.lang, m.search_text
    FROM {mentions} m
    JOIN latest s ON s.mention_id = m.id
    LEFT JOIN fixed c ON c.mention_id = m.id
    WHERE NOT coalesce(c.not_about, false)
      AND (NOT coalesce(s.set_aside, false) OR coalesce(c.about, false))
)
SELECT *, list_contains(intents, 'complaint') OR list_contains(intents, 'churn_risk')
          OR sentiment_label = 'negative' OR list_contains(intents, 'question')
FROM current
"""

# Counts per day of the readings in {rows}: all of them, or every reading of some stories (a
# story's counts follow from its own readings only: which one comes first). Sentiment sums are
# counted exactly, in units of 2^-60 (migration 021), so that what a refresh adds and takes
# away leaves the very sum a rebuild makes.
_UNITS = "1152921504606846976::DOUBLE"  # 2^60
_TERM_COUNTS = f"""
WITH per_term AS (
    SELECT published::DATE AS day, mention_id, published, story_key, kind, sentiment,
           sentiment_label, intents, unnest(terms) AS term, unnest(term_sentiments) AS ts
    FROM {{rows}}
), firsts AS (
    -- Each story's first mention about the term, of any kind and of each kind (a mention is
    -- first by published, then id), by aggregates, which cost less than window functions.
    SELECT story_key, term, arg_min(mention_id, (published, mention_id)) AS head_id,
           min(kind) <> max(kind) AS kinds_told
    FROM per_term GROUP BY story_key, term
), kind_firsts AS (
    SELECT story_key, term, kind, arg_min(mention_id, (published, mention_id)) AS kind_head_id
    FROM per_term GROUP BY story_key, term, kind
), flagged AS (
    SELECT p.*, p.mention_id = f.head_id AS head, p.mention_id = k.kind_head_id AS kind_head,
           f.kinds_told
    FROM per_term p
    JOIN firsts f ON f.story_key = p.story_key AND f.term IS NOT DISTINCT FROM p.term
    JOIN kind_firsts k ON k.story_key = p.story_key AND k.term IS NOT DISTINCT FROM p.term
                      AND k.kind IS NOT DISTINCT FROM p.kind
), kind_heads AS (
    SELECT mention_id, story_key, term, kind, published FROM flagged WHERE kinds_told AND kind_head
), earlier AS (
    -- For each first mention of a kind, of a story told on two kinds or more: the kinds it
    -- was mentioned on before.
    SELECT a.mention_id, a.term, list_sort(list(b.kind)) AS kinds
    FROM kind_heads a JOIN kind_heads b
      ON b.story_key = a.story_key AND b.term = a.term AND b.kind IS NOT NULL
     AND (b.published < a.published OR b.published = a.published AND b.mention_id < a.mention_id)
    GROUP BY a.mention_id, a.term
)
SELECT day, f.term, f.kind, sentiment_label AS feeling, list_sort(intents) AS intents,
       coalesce(e.kinds, []) AS earlier_kinds, count(*) AS mentions,
       sum((coalesce(ts, sentiment) * {_UNITS})::DECIMAL(38, 0)) AS sentiment_units,
       count(*) FILTER (head) AS stories, count(*) FILTER (kind_head) AS kind_stories
FROM flagged f LEFT JOIN earlier e ON e.mention_id = f.mention_id AND e.term = f.term
WHERE f.term IS NOT NULL
GROUP BY ALL
"""
_SOURCE_COUNTS = f"""
WITH firsts AS (
    SELECT story_key, arg_min(mention_id, (published, mention_id)) AS head_id,
           min(kind) <> max(kind) AS kinds_told
    FROM {{rows}} GROUP BY story_key
), kind_firsts AS (
    SELECT story_key, kind, arg_min(mention_id, (published, mention_id)) AS kind_head_id
    FROM {{rows}} GROUP BY story_key, kind
), flagged AS (
    SELECT published::DATE AS day, r.mention_id, published, r.story_key, source, r.kind,
           sentiment_label, sentiment, r.mention_id = f.head_id AS head,
           r.mention_id = k.kind_head_id AS kind_head, f.kinds_told
    FROM {{rows}} r
    JOIN firsts f ON f.story_key = r.story_key
    JOIN kind_firsts k ON k.story_key = r.story_key AND k.kind IS NOT DISTINCT FROM r.kind
), kind_heads AS (
    SELECT mention_id, story_key, kind, published FROM flagged WHERE kinds_told AND kind_head
), earlier AS (
    SELECT a.mention_id, list_sort(list(b.kind)) AS kinds
    FROM kind_heads a JOIN kind_heads b
      ON b.story_key = a.story_key AND b.kind IS NOT NULL
     AND (b.published < a.published OR b.published = a.published AND b.mention_id < a.mention_id)
    GROUP BY a.mention_id
)
SELECT day, source, f.kind, sentiment_label AS feeling, coalesce(e.kinds, []) AS earlier_kinds,
       count(*) AS mentions, sum((sentiment * {_UNITS})::DECIMAL(38, 0)) AS sentiment_units,
       count(*) FILTER (head) AS stories, count(*) FILTER (kind_head) AS kind_stories
FROM flagged f LEFT JOIN earlier e ON e.mention_id = f.mention_id
GROUP BY ALL
"""
# Each rollup: its counts, and the columns that name a row of it.
_ROLLUPS = {
    "daily_terms": (_TERM_COUNTS, ("day", "term", "kind", "feeling", "intents", "earlier_kinds")),
    "daily_sources": (_SOURCE_COUNTS, ("day", "source", "kind", "feeling", "earlier_kinds")),
}
_COUNTED = ("mentions", "sentiment_units", "stories", "kind_stories")


def _sentiment_sum(units: str) -> str:
    return f"({units})::DOUBLE / {_UNITS}"


def _count_all(db: duckdb.DuckDBPyConnection) -> None:
    """Fill the empty rollups from every reading."""
    for table, (counts, keys) in _ROLLUPS.items():
        columns = ", ".join([*keys, *_COUNTED])
        db.execute(
            f"INSERT INTO {table} ({columns}, sentiment_sum) "
            f"SELECT {columns}, {_sentiment_sum('sentiment_units')} "
            f"FROM ({counts.format(rows='readings')})"
        )


def _add_counts(db: duckdb.DuckDBPyConnection, parts: Sequence[tuple[int, str]]) -> None:
    """Add (sign 1) or take away (-1) the counts of each (sign, rows) part (`rows`: a table
    holding every reading of some stories), in one change of each rollup: an update of the
    rows there are, an insert of the others (not MERGE, which a DuckLake could not read back
    once rows kept kinds' lists)."""
    for table, (counts, keys) in _ROLLUPS.items():
        signed = " UNION ALL ".join(
            f"SELECT {', '.join(keys)}, "
            + ", ".join(f"{sign} * {c} AS {c}" for c in _COUNTED)
            + f" FROM ({counts.format(rows=rows)})"
            for sign, rows in parts
        )
        db.execute(
            "CREATE OR REPLACE TEMP TABLE rollup_delta AS "
            f"SELECT {', '.join(keys)}, "
            + ", ".join(f"sum({c}) AS {c}" for c in _COUNTED)
            + f" FROM ({signed}) GROUP BY ALL"
        )
        on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
        added = {c: f"t.{c} + d.{c}" for c in _COUNTED}
        db.execute(
            f"UPDATE {table} t SET {', '.join(f'{c} = {v}' for c, v in added.items())}, "
            f"sentiment_sum = {_sentiment_sum(added['sentiment_units'])} "
            f"FROM rollup_delta d WHERE {on}"
        )
        new = [*(f"d.{k}" for k in keys), *(f"d.{c}" for c in _COUNTED)]
        db.execute(
            f"INSERT INTO {table} ({', '.join([*keys, *_COUNTED])}, sentiment_sum) "
            f"SELECT {', '.join(new)}, {_sentiment_sum('d.sentiment_units')} "
            f"FROM rollup_delta d WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
        )
    db.execute("DROP TABLE IF EXISTS rollup_delta")


def rebuild(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate the current readings, every rollup and the inbox's queue from mentions +
    scores + corrections and the inbox's work states."""
    with atomic(db):
        rebuild_readings(db)
        rebuild_queue(db)


def rebuild_readings(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate the current readings and every rollup (migration 014's tables)."""
    current = _READINGS.format(
        scores="scores", corrections="", mentions=f"(SELECT {MENTION_COLUMNS} FROM mentions)"
    )
    with atomic(db):
        _rewrite_readings(db, f"({_COLUMNS}) {current}")


def rebuild_from_readings(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate every rollup and the inbox's queue from the current readings and the work
    states, the readings themselves rewritten in order of publication: what migration 022
    fills."""
    with atomic(db):
        db.execute("CREATE OR REPLACE TEMP TABLE readings_in_order AS FROM readings")
        _rewrite_readings(db, "FROM readings_in_order")
        db.execute("DROP TABLE readings_in_order")
        rebuild_queue(db)


def _rewrite_readings(db: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Replace the readings by `rows` (what follows INSERT INTO readings) and recount every
    rollup from them. In order of publication: reads of a period, or of one mention by its
    date, skip the row groups outside it (their min/max statistics)."""
    for table in ("readings", "daily_terms", "daily_sources"):
        db.execute(f"DELETE FROM {table}")
    db.execute(f"INSERT INTO readings {rows} ORDER BY published")
    _count_all(db)


# --- the inbox's queue (migration 020) ---------------------------------------------------------

# Ascending place is the queue's order up to ties (data.inbox.ORDER breaks them): the tier in
# the top bits (0 a complaint, 1 a churn risk, 2 a question, 3 another negative mention, 4 the
# rest), then reach, largest first, with no reach after any; with no reach, the newest first.
# Each part only ever groups rows the full order keeps together, so sorting by place, then by
# the full order, is the full order; and a page's rows have the smallest places.
_BIG = "576460752303423487"  # 2^59 - 1
_PLACE = f"""
    ((CASE WHEN NOT r.urgent THEN 4
           WHEN list_contains(r.intents, 'complaint') THEN 0
           WHEN list_contains(r.intents, 'churn_risk') THEN 1
           WHEN list_contains(r.intents, 'question') THEN 2 ELSE 3 END)::BIGINT << 60)
    + CASE WHEN r.reach IS NULL
           THEN {_BIG} + 1 + {_BIG} - least(greatest(epoch_us(r.published), 0), {_BIG})
           ELSE {_BIG} - least(greatest(r.reach, 0), {_BIG}) END
"""
ORDER = "place, reach DESC NULLS LAST, published DESC, mention_id"
_QUEUE_ROWS = f"""
    SELECT {_PLACE} AS place, r.mention_id, r.published, coalesce(i.status, 'new') AS status,
           lower(i.assignee) AS assignee, r.reach, r.source, r.kind, r.terms, r.sentiment,
           r.sentiment_label, r.intents, m.title, m.author, m.url,
           coalesce(m.published_known, true) AS published_known
    FROM {{readings}} r JOIN {{mentions}} m ON m.id = r.mention_id AND m.published = r.published
    LEFT JOIN inbox i ON i.mention_id = r.mention_id
"""
# Appended rows (new readings, rescored ones) go at the end, out of order: a top-N reads their
# row groups whole. Once they pass this many, and this share of the queue, it is rewritten
# in order (a rebuild of the queue: seconds at millions of mentions, once in many passes).
RESORT_ROWS = 250_000
RESORT_SHARE = 0.05


def rebuild_queue(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate the inbox's queue and its counts from the readings and the work states,
    written in the queue's order."""
    with atomic(db):
        for table in ("inbox_queue", "inbox_counts"):
            db.execute(f"DELETE FROM {table}")
        rows = _QUEUE_ROWS.format(readings="readings", mentions="mentions")
        db.execute(f"INSERT INTO inbox_queue SELECT * FROM ({rows}) ORDER BY {ORDER}")
        db.execute(
            "INSERT INTO inbox_counts SELECT status, assignee, count(*) FROM inbox_queue "
            "GROUP BY ALL"
        )
        db.execute("UPDATE inbox_queue_order SET appended = 0")


def requeue(db: duckdb.DuckDBPyConnection, mention_ids: Sequence[str]) -> None:
    """Bring the work state (status, assignee) of these mentions' queue rows up to date with
    the inbox table, in place: their place in the queue does not change."""
    ids = list(dict.fromkeys(mention_ids))
    if not ids:
        return
    db.register("requeued_mentions", pa.table({"id": pa.array(ids, pa.string())}))
    touched = "mention_id IN (SELECT id FROM requeued_mentions)"
    try:
        with atomic(db):
            _count(db, -1, f"inbox_queue WHERE {touched}")
            db.execute(
                f"""
                UPDATE inbox_queue SET status = i.status, assignee = lower(i.assignee)
                FROM inbox i WHERE inbox_queue.mention_id = i.mention_id
                  AND inbox_queue.{touched}
                """
            )
            _count(db, +1, f"inbox_queue WHERE {touched}")
    finally:
        db.unregister("requeued_mentions")


def _requeue_readings(db: duckdb.DuckDBPyConnection, replaced: bool) -> None:
    """Replace the queue rows of the touched mentions by those of their current readings
    (fresh_readings, with their mentions in touched_rows), appended; rewrite the queue in
    order when enough rows were appended since it last was. Only a mention that had a reading
    (`replaced`) has a queue row to take away."""
    if replaced:
        touched = "inbox_queue WHERE mention_id IN (SELECT id FROM touched_mentions)"
        _count(db, -1, touched)
        db.execute(f"DELETE FROM {touched}")
    rows = _QUEUE_ROWS.format(readings="fresh_readings", mentions="touched_rows")
    db.execute(f"CREATE OR REPLACE TEMP TABLE fresh_queue AS {rows}")
    (added,) = db.execute(f"INSERT INTO inbox_queue FROM fresh_queue ORDER BY {ORDER}").fetchone()
    _count(db, +1, "fresh_queue")
    db.execute("DROP TABLE fresh_queue")
    db.execute("UPDATE inbox_queue_order SET appended = appended + ?", [added])
    (appended,) = db.execute("SELECT appended FROM inbox_queue_order").fetchone()
    if appended >= RESORT_ROWS:
        (total,) = db.execute("SELECT coalesce(sum(mentions), 0) FROM inbox_counts").fetchone()
        if appended >= RESORT_SHARE * total:
            rebuild_queue(db)


def _count(db: duckdb.DuckDBPyConnection, sign: int, rows: str) -> None:
    """Add (sign 1) or take away (-1) the queue rows `rows` (a table, or one with a
    condition) from the queue's counts."""
    db.execute(
        f"""
        MERGE INTO inbox_counts c
        USING (SELECT status, assignee, count(*) AS n FROM {rows} GROUP BY ALL) d
        ON c.status = d.status AND c.assignee IS NOT DISTINCT FROM d.assignee
        WHEN MATCHED THEN UPDATE SET mentions = c.mentions + ? * d.n
        WHEN NOT MATCHED THEN INSERT VALUES (d.status, d.assignee, ? * d.n)
        """,
        [sign, sign],
    )
    db.execute("DELETE FROM inbox_counts WHERE mentions = 0")


def refresh(
    db: duckdb.DuckDBPyConnection,
    mention_ids: Sequence[str],
    scores: str | None = None,
    new_stories: Collection[str] = (),
) -> None:
    """Bring the readings of these mentions (newly scored, rescored or corrected) and the
    rollups of their stories up to date: what the stories counted is taken away, their
    readings replaced, and what they count now added (the work of a few stories, however
    many days they span and the store holds).

    Each big table is read once, for the touched rows alone (the mentions, the readings of
    their stories, their scores), into temporary tables the rest works on: a mention's
    story_key never changes, so its stories are known from the mentions alone, and their
    readings include any the touched mentions had. A mention without a reading before (a new
    one) has no reading or queue row to take away. `scores`: a temporary table holding every
    score of the touched mentions, when the caller has one (data.store.upsert_scores).
    `new_stories`: story keys no mention had before this transaction (a pass's new stories),
    whose readings are not looked for: none can be stored, and finding that out reads the
    story key of every reading."""
    ids = list(dict.fromkeys(mention_ids))
    if not ids:
        return
    db.register("touched_mentions", pa.table({"id": pa.array(ids, pa.string())}))
    db.register("new_stories", pa.table({"key": pa.array(list(set(new_stories)), pa.string())}))
    touched = "WHERE mention_id IN (SELECT id FROM touched_mentions)"
    try:
        with atomic(db):
            # The mentions this connection stored since its last refresh are at hand; the
            # others are looked up.
            db.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {WRITTEN} AS "
                f"SELECT {MENTION_COLUMNS} FROM mentions LIMIT 0"
            )
            db.execute(
                "CREATE OR REPLACE TEMP TABLE touched_rows AS "
                f"FROM {WRITTEN} WHERE id IN (SELECT id FROM touched_mentions)"
            )
            db.execute(f"DROP TABLE {WRITTEN}")
            (found,) = db.execute("SELECT count(DISTINCT id) FROM touched_rows").fetchone()
            if found < len(ids):
                _fetch(
                    db,
                    "stored_rows",
                    "mentions",
                    "id IN (SELECT id FROM touched_mentions "
                    "WHERE id NOT IN (SELECT id FROM touched_rows))",
                    MENTION_COLUMNS,
                )
                db.execute("INSERT INTO touched_rows FROM stored_rows")
                db.execute("DROP TABLE stored_rows")
            stories = (
                "SELECT coalesce(story_key, id) FROM touched_rows "
                "WHERE coalesce(story_key, id) NOT IN (SELECT key FROM new_stories)"
            )
            (known,) = db.execute(f"SELECT count(*) FROM ({stories})").fetchone()
            if known:
                _fetch(db, "story_readings", "readings", f"story_key IN ({stories})")
            else:  # only new stories: none has a reading yet
                db.execute("CREATE OR REPLACE TEMP TABLE story_readings AS FROM readings LIMIT 0")
            own_scores = scores is None
            if own_scores:
                scores = "touched_scores"
                _fetch(db, scores, "scores", "mention_id IN (SELECT id FROM touched_mentions)")
            (before,) = db.execute("SELECT count(*) FROM story_readings").fetchone()
            (replaced,) = (
                db.execute(f"SELECT count(*) FROM story_readings {touched}").fetchone()
                if before
                else (0,)
            )
            current = _READINGS.format(scores=scores, corrections=touched, mentions="touched_rows")
            db.execute("CREATE OR REPLACE TEMP TABLE fresh_readings AS FROM readings LIMIT 0")
            db.execute(f"INSERT INTO fresh_readings ({_COLUMNS}) {current}")
            if replaced:
                db.execute(f"DELETE FROM readings {touched}")
            db.execute("INSERT INTO readings FROM fresh_readings")
            db.execute(
                "CREATE OR REPLACE TEMP TABLE story_readings_now AS "
                "FROM story_readings WHERE mention_id NOT IN (SELECT id FROM touched_mentions) "
                "UNION ALL FROM fresh_readings"
            )
            # What the stories count now, less what they counted (when they were not new).
            _add_counts(
                db, [(1, "story_readings_now"), *([(-1, "story_readings")] if before else [])]
            )
            for table in _ROLLUPS:
                db.execute(f"DELETE FROM {table} WHERE mentions = 0")
            _requeue_readings(db, bool(replaced))
            for table in ("touched_rows", "story_readings", "story_readings_now",
                          "fresh_readings", *([scores] if own_scores else [])):  # fmt: skip
                db.execute(f"DROP TABLE {table}")
    finally:
        db.unregister("touched_mentions")
        db.unregister("new_stories")


def _fetch(
    db: duckdb.DuckDBPyConnection, into: str, table: str, where: str, columns: str = "*"
) -> None:
    """Into a temporary table, the `columns` of the rows of `table` where `where`: first their
    row ids, reading only the columns `where` names, then those rows alone. (In one query,
    every column of every row would be read before the few were kept.)"""
    db.execute(
        f"CREATE OR REPLACE TEMP TABLE fetched_rowids AS SELECT rowid AS r FROM {table} "
        f"WHERE {where}"
    )
    db.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS "
        f"SELECT {columns} FROM {table} WHERE rowid IN (SELECT r FROM fetched_rowids)"
    )
    db.execute("DROP TABLE fetched_rowids")


@contextmanager
def atomic(db: duckdb.DuckDBPyConnection) -> Iterator[None]:
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
