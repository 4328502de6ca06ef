"""Dashboard reads on a big store: the demo's data spread over a year, written through the
store's own write path one pass at a time, then every read the dashboard makes timed as the
dashboard makes it (open the file, one query, close), p50 and p95.

Each read is also timed on the path it took before the current readings and rollups
(migration 014): the same query through the old `scored_mentions` view, a window function over
every score of every mention; the inbox's reads on their form before its queue was kept
(migration 020). The writing is timed beside a bare DuckDB Arrow insert of the same rows into a
table without keys. Prints figures; asserts nothing.

Beyond `--write-up-to` mentions the store grows by copying what was written, in SQL (`grow`:
the ids a pass would give the copies, then a rebuild of every derived table): a store of 10 M
mentions in minutes, for its reads; the write path's own speed is the figure of what was
written.

    .venv/bin/python bench/dashboard.py [--mentions 1000000 [10000000]] [--write-up-to N]
                                        [--keep DIR] [--runs 15] [--results bench/RESULTS.md]
    .venv/bin/python bench/dashboard.py --pass-on DIR [--passes 3]

`--pass-on DIR` only times passes of the demo's mentions through the write path on a store
kept in DIR, each on a fresh copy of it: the upkeep of a pass, however big the store.

`--keep DIR` leaves the store (the largest) and a tidings.toml pointing at it in DIR, so the
dashboard can be opened on it: `tidings --config DIR/store/tidings.toml dashboard`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import RESULTS, busy, machine, write_section  # noqa: E402
from collectors import COLLECTORS  # noqa: E402
from collectors.http import Http  # noqa: E402
from data import inbox, rollups, store  # noqa: E402
from data.config import Config, load_config  # noqa: E402
from data.records import Mention, Score, SourceState, mention_id  # noqa: E402
from flows.demo import prepare_demo, replay_feeds, serve_folder  # noqa: E402
from flows.pipeline import keep_candidates, store_pass  # noqa: E402
from nlp import build_scorer  # noqa: E402

GOAL_1M_MS = 150  # p95 at 1 M mentions
GOAL_10M_MS = 500  # p95 at 10 M mentions


# --- the seed: the demo's recorded feeds, collected, scored and stored as one pass ------------


def demo_pass(workdir: Path) -> tuple[Config, list[Mention], list[Score], dict[str, str]]:
    """The demo's recorded feeds collected and scored as a pass does (without Prefect), and
    stored by the pass's own store step; returns the stored mentions (scored ones and
    knowledge articles), their scores, and each mention's story key."""
    replay_feeds(workdir / "feeds")
    server, base_url = serve_folder(workdir / "feeds")
    try:
        config = load_config(prepare_demo(workdir, base_url))
        scorer = build_scorer(config.watch, config.models_dir)

        async def collect() -> list:
            async with Http(config.http) as http:
                return await asyncio.gather(
                    *(
                        COLLECTORS[s.kind](http, s, SourceState(source=s.id), config.queries_for(s))
                        for s in config.sources
                    )
                )

        fetched = [
            keep_candidates(f, s, scorer)
            for f, s in zip(asyncio.run(collect()), config.sources, strict=True)
        ]
    finally:
        server.shutdown()
    mentions = [m for f in fetched for m in f.mentions]
    scored = scorer.score(mentions)
    matched = {m.id for m, _ in scored}
    knowledge = {s.id for s in config.sources if s.knowledge}
    articles = [m for m in mentions if m.source in knowledge and m.id not in matched]
    store_pass(config, list(config.sources), fetched, scored, {}, store.utcnow(), articles)
    with store.connect(config.db_path) as db:
        keys = dict(db.execute("SELECT id, story_key FROM mentions").fetchall())
    stored = [m for m, _ in scored] + articles
    return config, stored, [s for _, s in scored], keys


# --- the big store: copies of the seed, each moved to its own time in the year -------------


def copies(
    seed: list[Mention],
    scores: list[Score],
    keys: dict[str, str],
    n: int,
    end: datetime,
    rng: random.Random,
):
    """Yield (offset, mentions, scores, story keys) for as many copies of the seed as make n
    mentions, oldest first. Copy k is the seed with new ids and story keys (its cross-posts
    stay one story), moved back by a random offset so that the copies cover the year."""
    newest = max(m.published for m in seed)
    span = newest - min(m.published for m in seed)
    room = timedelta(days=365) - span
    count = -(-n // len(seed))
    offsets = sorted((rng.random() * room for _ in range(count)), reverse=True)
    left = n
    for k, offset in enumerate(offsets):
        batch = seed[:left]
        left -= len(batch)
        yield copy_of(batch, scores, keys, str(k), end - newest - offset)


def copy_of(
    seed: list[Mention], scores: list[Score], keys: dict[str, str], k: str, shift: timedelta
) -> tuple:
    by_id = {s.mention_id: s for s in scores}
    moved, moved_scores, moved_keys = [], [], {}
    for m in seed:
        c = replace(m, native_id=f"{m.native_id}#{k}", published=m.published + shift)
        moved.append(c)
        moved_keys[c.id] = f"{keys[m.id]}#{k}"
        if m.id in by_id:
            moved_scores.append(replace(by_id[m.id], mention_id=c.id, fingerprint=None))
    return shift, moved, moved_scores, moved_keys


def build(
    path: Path,
    config: Config,
    seed: list[Mention],
    scores: list[Score],
    keys: dict[str, str],
    n: int,
    pass_size: int,
    bare_anchor: bool = True,
    budget: float | None = None,
) -> tuple[float, int, float, int]:
    """Write n mentions into a new store at `path`, a pass (one transaction) per `pass_size`
    mentions, through store.upsert_mentions and store.upsert_scores as store_pass calls them,
    oldest first. Stops early, at a pass's end, once `budget` seconds are spent.
    Returns (seconds, scored mentions, seconds of a bare Arrow insert of the same rows (0
    without `bare_anchor`), mentions written)."""
    kinds = {s.id: s.kind for s in config.sources}
    knowledge = frozenset(s.id for s in config.sources if s.knowledge)
    end = store.utcnow()
    rng = random.Random(13)
    with store.connect(path):
        pass  # migrations, outside the timing
    took = bare = 0.0
    scored = 0
    pending: list = []

    def write(group: list) -> tuple[float, float]:
        mentions = [m for _, ms, _, _ in group for m in ms]
        new_scores = [s for _, _, ss, _ in group for s in ss]
        story_keys = {i: k for _, _, _, ks in group for i, k in ks.items()}
        collected = max(m.published for m in mentions) + timedelta(minutes=5)
        t0 = time.perf_counter()
        with store.connect(path) as db:
            db.begin()
            store.upsert_mentions(db, mentions, collected, kinds, knowledge, None, story_keys)
            store.upsert_scores(db, new_scores, collected)
            db.commit()
        t1 = time.perf_counter()
        if not bare_anchor:
            return t1 - t0, 0.0
        bare_insert(path.with_name("bare.duckdb"), mentions, new_scores)
        return t1 - t0, time.perf_counter() - t1

    in_pending = written = 0
    report_every = max(n // 10, pass_size)
    for copy in copies(seed, scores, keys, n, end, rng):
        pending.append(copy)
        in_pending += len(copy[1])
        if in_pending >= pass_size:
            a, b = write(pending)
            took, bare = took + a, bare + b
            scored += sum(len(c[2]) for c in pending)
            written, pending, in_pending = written + in_pending, [], 0
            if written // report_every != (written - pass_size) // report_every:
                print(f"  {written:,} written in {took:.0f} s", flush=True)
            if budget is not None and took >= budget:
                print(f"  build budget of {budget:.0f} s spent: measured at {written:,}")
                break
    else:
        if pending:
            a, b = write(pending)
            took, bare = took + a, bare + b
            scored += sum(len(c[2]) for c in pending)
            written += in_pending
    path.with_name("bare.duckdb").unlink(missing_ok=True)
    return took, scored, bare, written


def bare_insert(path: Path, mentions: list[Mention], scores: list[Score]) -> None:
    """The anchor: the same rows appended by a plain Arrow insert into tables without keys."""
    ms = pa.table(
        {
            "id": [m.id for m in mentions],
            "source": [m.source for m in mentions],
            "native_id": [m.native_id for m in mentions],
            "url": [m.url for m in mentions],
            "title": [m.title for m in mentions],
            "text": [m.text for m in mentions],
            "author": [m.author for m in mentions],
            "published": pa.array([m.published for m in mentions], pa.timestamp("us", "UTC")),
            "reach": pa.array([m.reach for m in mentions], pa.int64()),
        }
    )
    ss = pa.table(
        {
            "mention_id": [s.mention_id for s in scores],
            "terms": pa.array([list(s.terms) for s in scores], pa.list_(pa.string())),
            "sentiment": pa.array([s.sentiment for s in scores], pa.float64()),
            "sentiment_label": [s.sentiment_label for s in scores],
            "intents": [json.dumps(s.intents) for s in scores],
        }
    )
    db = duckdb.connect(str(path))
    try:
        db.register("incoming_m", ms)
        db.register("incoming_s", ss)
        db.execute("CREATE TABLE IF NOT EXISTS m AS SELECT * FROM incoming_m LIMIT 0")
        db.execute("CREATE TABLE IF NOT EXISTS s AS SELECT * FROM incoming_s LIMIT 0")
        db.begin()
        db.execute("INSERT INTO m SELECT * FROM incoming_m")
        db.execute("INSERT INTO s SELECT * FROM incoming_s")
        db.commit()
    finally:
        db.close()


# --- beyond what is written: the store grown by copying what was written, in SQL ------------

# Each copy of a mention is moved this much earlier than the one before, so that copies of one
# mention are not published at the same instant.
COPY_SHIFT_MINUTES = 37


def grow(path: Path, n: int) -> tuple[float, float, int]:
    """Grow the store to n mentions by copying the mentions and scores it holds, in SQL: copy
    k of a mention gets native id `…#gB.k` (B: the mentions before) and the id a pass would
    give it
    (data.records.mention_id), story key `…#gB.k` (its cross-posts stay one story), and is
    published k × 37 minutes earlier. Written in order of publication, a month at a time, as
    passes over a year would have written them. The current readings, rollups and the inbox's
    queue are then rebuilt from the records by `data.rollups.rebuild`.
    Returns (seconds copying, seconds rebuilding, mentions now)."""
    t0 = time.perf_counter()
    with store.connect(path) as db:
        base = db.execute("SELECT id, source, native_id FROM mentions ORDER BY published, id")
        base = base.fetchall()
        if n <= len(base):
            return 0.0, 0.0, len(base)
        # Which mention each copy copies, and its id: copy k of the first n - k·base mentions.
        db.execute("CREATE TEMP TABLE copy_ids (id VARCHAR, k INTEGER, new_id VARCHAR)")
        tag = f"#g{len(base)}."  # each growth its own: a copy of a copy is a new mention
        k = 0
        while len(base) * (k + 1) < n:
            k += 1
            part = base[: n - len(base) * k]
            db.register(
                "copy_part",
                pa.table({
                    "id": [i for i, _, _ in part],
                    "k": pa.array([k] * len(part), pa.int32()),
                    "new_id": [mention_id(src, f"{nid}{tag}{k}") for _, src, nid in part],
                }),
            )  # fmt: skip
            db.execute("INSERT INTO copy_ids SELECT * FROM copy_part")
            db.unregister("copy_part")
        del base
        first, last = db.execute("SELECT min(published), max(published) FROM mentions").fetchone()
        db.begin()
        db.execute(
            "INSERT INTO scores BY NAME SELECT s.* REPLACE (c.new_id AS mention_id) "
            "FROM scores s JOIN copy_ids c ON c.id = s.mention_id"
        )
        month = first
        while month <= last:
            db.execute(
                f"""
                INSERT INTO mentions BY NAME
                SELECT m.* REPLACE (
                    c.new_id AS id,
                    m.native_id || ? || c.k AS native_id,
                    m.published - c.k * INTERVAL {COPY_SHIFT_MINUTES} MINUTE AS published,
                    m.story_key || ? || c.k AS story_key)
                FROM mentions m JOIN copy_ids c ON c.id = m.id
                WHERE m.published >= ? AND m.published < ?
                ORDER BY m.published, c.k, m.id
                """,
                [tag, tag, month, month + timedelta(days=31)],
            )
            month += timedelta(days=31)
        db.commit()
        db.execute("DROP TABLE copy_ids")
        db.execute("CHECKPOINT")
        t1 = time.perf_counter()
        rollups.rebuild(db)
        db.execute("CHECKPOINT")
        (now,) = db.execute("SELECT count(*) FROM mentions").fetchone()
    return t1 - t0, time.perf_counter() - t1, now


# --- the reads, as the dashboard makes them ---------------------------------------------------

# The view every read went through before migration 014 (as migration 009 defined it), created
# as a temporary view on the bench's own connection: the anchor of each read.
OLD_VIEW = """
CREATE OR REPLACE TEMP VIEW old_scored_mentions AS
WITH latest AS (
    SELECT * FROM scores
    QUALIFY row_number() OVER (PARTITION BY mention_id ORDER BY scored_at DESC, model_version DESC) = 1
)
SELECT m.*, s.terms,
       CASE WHEN cs.value IS NULL OR cs.value = s.sentiment_label THEN s.sentiment
            WHEN cs.value = 'positive' THEN 0.5
            WHEN cs.value = 'negative' THEN -0.5
            ELSE 0.0 END AS sentiment,
       coalesce(cs.value, s.sentiment_label) AS sentiment_label,
       s.model_version, s.lang,
       CASE WHEN ci.value IS NULL THEN s.intents
            WHEN ci.value = '' THEN []::VARCHAR[]
            ELSE string_split(ci.value, ',') END AS intents,
       s.intent_scores, s.term_sentiments
FROM mentions m
JOIN latest s ON s.mention_id = m.id
LEFT JOIN corrections cs ON cs.mention_id = m.id AND cs.kind = 'sentiment'
LEFT JOIN corrections ci ON ci.mention_id = m.id AND ci.kind = 'intents'
WHERE NOT EXISTS (
    SELECT 1 FROM corrections cr
    WHERE cr.mention_id = m.id AND cr.kind = 'relevance' AND cr.value = 'not_about'
)
"""


def old_where(f: store.MentionFilter) -> tuple[str, list]:
    """The filter as store._where built it before migration 014."""
    clauses, params = ["TRUE"], []
    if f.since:
        clauses.append("published >= ?")
        params.append(f.since)
    if f.until:
        clauses.append("published < ?::DATE + INTERVAL 1 DAY")
        params.append(f.until)
    if f.kinds:
        clauses.append("list_contains(?, kind)")
        params.append(list(f.kinds))
    if f.text:
        clauses.append("(contains(lower(title), ?) OR contains(lower(text), ?))")
        params += [f.text, f.text]
    return " AND ".join(clauses), params


def old_per_day(f: store.MentionFilter) -> Callable:
    def read(db: duckdb.DuckDBPyConnection) -> object:
        where, params = old_where(f)
        return db.execute(
            f"""
            SELECT published::DATE AS day, term, count(DISTINCT story_key) AS mentions,
                   avg(coalesce(term_sentiment, sentiment)) AS sentiment,
                   count(DISTINCT story_key) FILTER (sentiment_label = 'negative') AS negative,
                   count(DISTINCT story_key) FILTER (sentiment_label = 'positive') AS positive,
                   count(DISTINCT story_key) FILTER (sentiment_label = 'unscored') AS unscored
            FROM (SELECT *, unnest(terms) AS term, unnest(term_sentiments) AS term_sentiment
                  FROM old_scored_mentions WHERE {where})
            GROUP BY ALL ORDER BY day, term
            """,
            params,
        ).df()

    return read


def old_summary(f: store.MentionFilter) -> Callable:
    def read(db: duckdb.DuckDBPyConnection) -> object:
        where, params = old_where(f)
        return db.execute(
            f"""
            SELECT count(DISTINCT story_key),
                   count(DISTINCT story_key) FILTER (sentiment_label = 'negative'),
                   count(DISTINCT story_key) FILTER (sentiment_label = 'positive')
            FROM old_scored_mentions WHERE {where}
            """,
            params,
        ).fetchone()

    return read


def old_top_sources(f: store.MentionFilter) -> Callable:
    def read(db: duckdb.DuckDBPyConnection) -> object:
        where, params = old_where(f)
        return db.execute(
            f"""
            SELECT source, any_value(kind) AS kind, count(*) AS mentions, avg(sentiment)
            FROM old_scored_mentions WHERE {where}
            GROUP BY source ORDER BY mentions DESC, source LIMIT 100
            """,
            params,
        ).df()

    return read


def old_mention_list(f: store.MentionFilter) -> Callable:
    """The mentions page loaded its first 1,000 rows at once."""

    def read(db: duckdb.DuckDBPyConnection) -> object:
        where, params = old_where(f)
        return db.execute(
            f"""
            WITH found AS (
                SELECT published, source, kind, title, terms, sentiment, sentiment_label, lang,
                       intents, author, reach, url, text, story_key
                FROM old_scored_mentions WHERE {where}
                ORDER BY published DESC LIMIT 1000
            )
            SELECT found.* EXCLUDE (story_key),
                   (SELECT count(DISTINCT m.source) FROM mentions m
                    WHERE m.story_key = found.story_key AND m.source <> found.source) AS also_on
            FROM found ORDER BY published DESC
            """,
            params,
        ).df()

    return read


# The inbox's reads before its queue was kept (migration 020): a top-N sorting every current
# reading, a count of them, and a mention joined to them through the scored_mentions view.
_QUEUE_ORDER_020 = """
    ORDER BY r.urgent DESC,
             CASE WHEN list_contains(r.intents, 'complaint') THEN 0
                  WHEN list_contains(r.intents, 'churn_risk') THEN 1
                  WHEN list_contains(r.intents, 'question') THEN 2 ELSE 3 END,
             r.reach DESC NULLS LAST, r.published DESC, r.mention_id
"""


def old_inbox_queue(db: duckdb.DuckDBPyConnection) -> object:
    return db.execute(
        f"""
        WITH page AS (
            SELECT r.*, coalesce(i.status, 'new') AS status, i.assignee,
                   coalesce(i.tags, []) AS tags, i.note
            FROM readings r LEFT JOIN inbox i ON i.mention_id = r.mention_id
            WHERE list_contains(?, coalesce(i.status, 'new')) AND r.published >= ?
            {_QUEUE_ORDER_020} LIMIT 100
        )
        SELECT r.*, m.title, m.text, m.author, m.url
        FROM page r JOIN mentions m ON m.id = r.mention_id AND m.published = r.published
        {_QUEUE_ORDER_020}
        """,
        [list(inbox.OPEN), datetime(1970, 1, 1)],
    ).df()


def old_queue_size(db: duckdb.DuckDBPyConnection) -> object:
    return db.execute(
        "SELECT count(*) FROM readings r LEFT JOIN inbox i ON i.mention_id = r.mention_id "
        "WHERE list_contains(?, coalesce(i.status, 'new'))",
        [list(inbox.OPEN)],
    ).fetchone()


def old_mention(one: str) -> Callable:
    def read(db: duckdb.DuckDBPyConnection) -> object:
        return db.execute(
            "SELECT m.*, coalesce(i.status, 'new') AS status, i.assignee, i.tags, i.note "
            "FROM scored_mentions m LEFT JOIN inbox i ON i.mention_id = m.id WHERE m.id = ?",
            [one],
        ).df()

    return read


def old_choices(db: duckdb.DuckDBPyConnection) -> object:
    return (
        db.execute("SELECT DISTINCT unnest(terms) AS t FROM scores ORDER BY t").fetchall(),
        db.execute(
            "SELECT id FROM sources UNION SELECT DISTINCT source FROM mentions ORDER BY 1"
        ).fetchall(),
        db.execute(
            "SELECT DISTINCT kind FROM mentions WHERE kind IS NOT NULL ORDER BY 1"
        ).fetchall(),
    )


def reads(today: date, one: str) -> list[tuple[str, Callable, Callable | None]]:
    """Each read the dashboard makes (name, as now, as before migration 014 or None)."""
    month, year = today - timedelta(days=29), today - timedelta(days=364)
    f30 = store.MentionFilter(since=month, until=today)
    f365 = store.MentionFilter(since=year, until=today)
    rss = replace(f30, kinds=("rss",))
    two = replace(f30, kinds=("rss", "reddit"))
    words = replace(f30, text="outage")
    return [
        ("Overview: mentions per day, 30 days", lambda db: store.mentions_per_day(db, f30),
         old_per_day(f30)),
        ("… mentions per day, 365 days", lambda db: store.mentions_per_day(db, f365),
         old_per_day(f365)),
        ("… mentions per day, 30 days, one kind", lambda db: store.mentions_per_day(db, rss),
         old_per_day(rss)),
        ("… summary (counts), 30 days", lambda db: store.summary(db, f30), old_summary(f30)),
        ("… summary (counts), 365 days", lambda db: store.summary(db, f365), old_summary(f365)),
        ("… mentions per day, 30 days, two kinds", lambda db: store.mentions_per_day(db, two),
         old_per_day(two)),
        ("… summary, 30 days, two kinds", lambda db: store.summary(db, two), old_summary(two)),
        ("… top sources, 30 days", lambda db: store.top_sources(db, f30), old_top_sources(f30)),
        ("… top sources, 365 days", lambda db: store.top_sources(db, f365),
         old_top_sources(f365)),
        ("Mentions: a page, 30 days (before: first 1,000)",
         lambda db: store.find_mentions(db, f30), old_mention_list(f30)),
        ("… page 50, 30 days", lambda db: store.find_mentions(db, replace(f30, offset=4900)),
         None),
        ("… how many, 30 days", lambda db: store.count_mentions(db, f30), None),
        ("… a page, 30 days, text contains 'outage'",
         lambda db: store.find_mentions(db, words), old_mention_list(words)),
        ("… filter choices (terms, sources, kinds)",
         lambda db: (store.known_terms(db), store.known_sources(db), store.known_kinds(db)),
         old_choices),
        ("Inbox: a page of the queue", lambda db: inbox.queue(db), old_inbox_queue),
        ("… page 50 of the queue", lambda db: inbox.queue(db, offset=4900), None),
        ("… how many in the queue", lambda db: inbox.queue_size(db), old_queue_size),
        ("… one mention opened", lambda db: inbox.mention(db, one), old_mention(one)),
    ]  # fmt: skip


def timed(path: Path, read: Callable, runs: int, setup: str | None = None) -> list[float]:
    """Milliseconds of each run: open the store, read, close, as dashboard.reads does."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with store.connect(path, 5.0) as db:
            if setup:
                db.execute(setup)
            read(db)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the report ------------------------------------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mentions", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--pass-size", type=int, default=20_000, help="mentions per pass written")
    ap.add_argument(
        "--write-up-to",
        type=int,
        default=1_000_000,
        help="mentions written through the store's write path; a bigger store grows from them "
        "by copying in SQL (see grow)",
    )
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each read")
    ap.add_argument("--old-runs", type=int, default=5, help="timed runs on the old path")
    ap.add_argument("--keep", type=Path, help="leave the (last) store and a tidings.toml here")
    ap.add_argument(
        "--anchors-up-to",
        type=int,
        default=1_000_000,
        help="stores this big at most also get the anchors (bare insert, old path): beyond, the "
        "old path costs minutes a read",
    )
    ap.add_argument(
        "--build-budget",
        type=float,
        help="seconds a store's build may take; beyond, the reads are measured on the store "
        "as far as it got",
    )
    ap.add_argument("--results", default=str(RESULTS), help="'' to write none")
    ap.add_argument(
        "--pass-on",
        type=Path,
        help="only time passes of the demo's mentions on a copy of the store kept in this DIR "
        "(by --keep DIR): --passes times, each on a fresh copy",
    )
    ap.add_argument("--passes", type=int, default=3, help="passes timed with --pass-on")
    args = ap.parse_args()
    if args.pass_on:
        passes_on(args.pass_on, args.passes)
        return
    args.argv = sys.argv[1:]

    tmp = Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    try:
        t0 = time.perf_counter()
        config, seed, scores, keys = demo_pass(tmp / "demo")
        print(
            f"seed: the demo's pass, {len(seed):,} mentions ({len(scores):,} scored) "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        sections: list[dict] = []
        where = (args.keep or tmp) / "store"
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        path = where / "tidings.duckdb"
        written: dict = {}
        for n in sorted(args.mentions):
            if not written:
                w = min(n, args.write_up_to)
                print(f"\nwriting {w:,} mentions through the store's write path", flush=True)
                took, _, bare, w = build(
                    path, config, seed, scores, keys, w, args.pass_size,
                    w <= args.anchors_up_to, args.build_budget,
                )  # fmt: skip
                written = {"mentions": w, "seconds": took, "bare": bare}
                print(
                    f"{w:,} mentions written in {took:.0f} s ({w / took:,.0f}/s"
                    + (f"; bare Arrow insert of the same rows {bare:.0f} s, {w / bare:,.0f}/s"
                       if bare else "") + ")",
                    flush=True,
                )  # fmt: skip
            copy_s, rebuild_s, n = grow(path, n)
            if copy_s:
                print(
                    f"grown to {n:,} mentions by copying in SQL: {copy_s:.0f} s, then the "
                    f"readings, rollups and queue rebuilt: {rebuild_s:.0f} s",
                    flush=True,
                )
            size = path.stat().st_size / 2**20
            anchors = n <= args.anchors_up_to
            today = store.utcnow().date()
            with store.connect(path) as db:
                (one,) = db.execute(
                    "SELECT mention_id FROM readings ORDER BY published DESC LIMIT 1 OFFSET 10"
                ).fetchone()
                (n_scored,) = db.execute("SELECT count(*) FROM readings").fetchone()
            print(f"\n{n:,} mentions ({n_scored:,} scored), file {size:,.0f} MB", flush=True)
            rows = []
            for name, read, old in reads(today, one):
                now = timed(path, read, args.runs)
                # The inbox's old reads (before migration 020) stay affordable at any size.
                inbox_read = old in (old_inbox_queue, old_queue_size) or name.endswith("opened")
                before = (
                    timed(path, old, args.old_runs, OLD_VIEW)
                    if old and (anchors or inbox_read)
                    else []
                )
                rows.append((name, now, before))
                print(
                    f"  {name:55s} p50 {p(now, 0.5):7.1f} ms  p95 {p(now, 0.95):7.1f} ms"
                    + (f"   old path p50 {p(before, 0.5):7.1f} ms" if before else ""),
                    flush=True,
                )
            upkeep = pass_upkeep(path, config, seed, scores, keys, rebuild=not copy_s)
            if copy_s:
                upkeep["rebuild"] = rebuild_s
            print(
                "  a pass of {new:,} new mentions: {whole:.2f} s ({closed:.2f} s with the "
                "checkpoint as it closes the file), of which current readings and rollups "
                "{derived:.2f} s; rebuilding them all from the records {rebuild:.1f} s".format(
                    **upkeep
                ),
                flush=True,
            )
            sections.append(
                {"mentions": n, "scored": n_scored, "size": size, "rows": rows, "upkeep": upkeep,
                 "written": written, "copy": copy_s, "loads": os.getloadavg()[0]}
            )  # fmt: skip
        if args.keep:
            keep_config(where, path)
            print(f"store kept: tidings --config {where / 'tidings.toml'} dashboard")
        print(f"peak memory (max RSS): {peak_mb():.0f} MB")
        if args.results:
            write_section("dashboard", report(sections, args), Path(args.results))
            print(f"wrote {args.results}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pass_upkeep(
    path: Path,
    config: Config,
    seed: list[Mention],
    scores: list[Score],
    keys: dict[str, str],
    rebuild: bool = True,
) -> dict[str, float]:
    """What keeping the derived tables costs a pass on this store: one pass writing the seed
    again (dated now) as the pipeline does, then the same write without the refresh (its
    refresh timed alone), then a rebuild of everything from the records."""
    kinds = {s.id: s.kind for s in config.sources}
    knowledge = frozenset(s.id for s in config.sources if s.knowledge)
    shift = store.utcnow() - max(m.published for m in seed)
    out: dict[str, float] = {"new": len(seed)}
    _, ms, ss, ks = copy_of(seed, scores, keys, "pass-a", shift)
    with store.connect(path) as db:
        t0 = time.perf_counter()
        db.begin()
        store.upsert_mentions(db, ms, store.utcnow(), kinds, knowledge, None, ks)
        store.upsert_scores(db, ss, store.utcnow())
        db.commit()
        out["whole"] = time.perf_counter() - t0
    # … and with the checkpoint DuckDB makes as the pass closes the file.
    out["closed"] = time.perf_counter() - t0
    # The same without the refresh, then the refresh alone.
    _, ms, ss, ks = copy_of(seed, scores, keys, "pass-b", shift)
    with store.connect(path) as db:
        db.begin()
        store.upsert_mentions(db, ms, store.utcnow(), kinds, knowledge, None, ks)
        store._insert_scores(db, ss, store.utcnow())
        t1 = time.perf_counter()
        rollups.refresh(db, [s.mention_id for s in ss], scores=store.SCORED)
        db.commit()
        out["derived"] = time.perf_counter() - t1
    if rebuild:
        with store.connect(path) as db:
            t0 = time.perf_counter()
            rollups.rebuild(db)
            out["rebuild"] = time.perf_counter() - t0
    return out


def passes_on(where: Path, passes: int) -> None:
    """Time `passes` passes of the demo's mentions (pass_upkeep), each on a fresh copy of the
    store kept in `where` (by --keep), so that each finds the store as it was."""
    kept = where / "store" / "tidings.duckdb"
    if not kept.is_file():
        raise SystemExit(f"{kept}: no store kept there (bench/dashboard.py --keep {where})")
    tmp = Path(tempfile.mkdtemp(prefix="tidings-bench-"))
    try:
        config, seed, scores, keys = demo_pass(tmp / "demo")
        path = tmp / "copy.duckdb"
        shutil.copy(kept, path)
        with store.connect(path) as db:  # migrated once, outside the timing
            (n,) = db.execute("SELECT count(*) FROM mentions").fetchone()
        migrated = tmp / "migrated.duckdb"
        path.rename(migrated)
        for k in range(passes):
            shutil.copy(migrated, path)
            upkeep = pass_upkeep(path, config, seed, scores, keys, rebuild=False)
            print(
                f"store of {n:,} mentions, pass {k + 1}: {upkeep['new']:,.0f} new mentions in "
                f"{upkeep['whole']:.2f} s ({upkeep['closed']:.2f} s with the checkpoint as it "
                f"closes the file), of which current readings, rollups and inbox queue "
                f"{upkeep['derived']:.2f} s (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def keep_config(where: Path, path: Path) -> None:
    demo = (Path(__file__).resolve().parent.parent / "data" / "demo" / "demo.toml").read_text()
    # The demo's watchlist, sources and rules, without its mail and push settings: nothing
    # listens at the addresses the demo fills in.
    body = demo.split("[[watch]]", 1)[1]
    text = (
        f'[database]\npath = "{path.name}"\n\n[[watch]]{body}'.replace(
            "{base_url}", "http://127.0.0.1:9"
        )
    ).replace("{chat_url}", "json://127.0.0.1:9/")
    (where / "tidings.toml").write_text(text, encoding="utf-8")


def report(sections: list[dict], args: argparse.Namespace) -> str:
    w = sections[0]["written"]
    grown = [x for x in sections if x["copy"]]
    lines = [
        "## Dashboard reads (`bench/dashboard.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine(f'DuckDB {duckdb.__version__}')} "
        f"({busy()}; the 1-minute load average after each size's reads: "
        + ", ".join(f"{x['loads']:.1f}" for x in sections)
        + f"), with `bench/dashboard.py {' '.join(args.argv)}`. "
        "The store holds the demo's data (its recorded feeds collected, scored and stored as "
        "one pass) copied and spread over a year: its first "
        f"{w['mentions']:,} mentions written through `store.upsert_mentions` and "
        f"`store.upsert_scores` in passes of {args.pass_size:,} mentions, one transaction each"
        + (
            "; beyond, grown by copying those in SQL (`bench/dashboard.py` `grow`: each copy "
            "with the ids a pass would give it, its own story keys, published "
            f"{COPY_SHIFT_MINUTES} minutes earlier than the copy before, written in order of "
            "publication), then the current readings, rollups and inbox queue rebuilt from "
            "the records by `data.rollups.rebuild`. Copying is not the write path: it says how "
            "reads behave on a store that big, not how fast passes fill one"
            if grown else ""
        )
        + ". Each read opens the file, runs its query and closes it, as the dashboard does "
        f"({args.runs} runs; the old path {args.old_runs}). Old path: the same read through "
        "the `scored_mentions` view of migration 009 (the latest score of each mention found "
        "by a window function over all scores), on the same store in the same run; for the "
        "inbox, the reads as they were before the queue was kept (migration 020): the queue "
        "sorted from every current reading, counted from them, a mention joined to them.",
    ]  # fmt: skip
    for x in sections:
        n, rows, upkeep = x["mentions"], x["rows"], x["upkeep"]
        goal = GOAL_1M_MS if n <= 1_000_000 else GOAL_10M_MS
        lines += [
            "",
            f"### {n:,} mentions ({x['scored']:,} scored), file {x['size']:,.0f} MB",
            "",
            "| read | p50 | p95 | old path p50 | goal (p95) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, now, before in rows:
            lines.append(
                f"| {name} | {p(now, 0.5):,.0f} ms | {p(now, 0.95):,.0f} ms | "
                + (f"{p(before, 0.5):,.0f} ms" if before else "—")
                + f" | < {goal} ms |"
            )
        lines.append("")
        if x is sections[0]:
            took, bare, m = w["seconds"], w["bare"], w["mentions"]
            anchor = (
                f"; a bare DuckDB Arrow insert of the same rows into tables without keys, same "
                f"run: {bare:,.0f} s ({m / bare:,.0f}/s)"
                if bare
                else ""
            )
            lines.append(
                f"Writing {m:,} mentions through the write path: {took:,.0f} s ({m / took:,.0f} "
                f"mentions/s, with scores, current readings, rollups and the inbox queue, in "
                f"passes of {args.pass_size:,}){anchor}."
            )
        if x["copy"]:
            lines.append(
                f"Grown to {n:,} by copying in SQL: {x['copy']:,.0f} s; the current readings, "
                f"rollups and inbox queue then rebuilt from the records in {upkeep['rebuild']:,.0f} s."
            )
        lines[-1] += (
            f" On the full store, a pass of {upkeep['new']:,.0f} new mentions takes "
            f"{upkeep['whole']:.2f} s, of which keeping the current readings, rollups and inbox "
            f"queue {upkeep['derived']:.2f} s"
            + (
                f"; rebuilding them all from mentions + scores + corrections "
                f"(`data.rollups.rebuild`) {upkeep['rebuild']:.1f} s."
                if not x["copy"]
                else "."
            )
        )
    if max(x["mentions"] for x in sections) < 10_000_000:
        lines += [
            "",
            "10 M mentions: not measured in this run; `make bench-10m` "
            f"(`bench/dashboard.py --mentions 1000000 10000000`) measures it against the goal "
            f"of p95 < {GOAL_10M_MS} ms.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
