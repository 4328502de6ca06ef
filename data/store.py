"""The DuckDB store: one `connect()`, numbered migrations, bulk idempotent writes, and the
named queries the dashboard and the CLI read through.

DuckDB lets one process at a time open a file read-write, and while it does no other process
can open it at all. So connections are short-lived (`with connect(path) as db:`), one
transaction per batch, and opening waits with back-off for a bounded time when the file is
held elsewhere.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from data import database, rollups, search
from data.errors import StoreLockedError, TidingsError
from data.records import Mention, Score, SourceState
from data.text import canonical_url

_migrated: set[Path | database.Lake] = set()
CHUNK = 8000  # rows per bulk insert (a pass's batch, [pipeline] batch_size, at once)
# As nlp.intent.THRESHOLD: an intent at least this confident is present, for scores that do not
# carry their own reading of it (Score.present, from the model's per-intent thresholds).
INTENT_THRESHOLD = 0.5


def utcnow() -> datetime:
    return datetime.now(UTC)


def _naive_utc(ts: datetime | None) -> datetime | None:
    """DuckDB columns are UTC TIMESTAMPs; aware datetimes are converted, naive ones trusted."""
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(UTC).replace(tzinfo=None)


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else ts.replace(tzinfo=UTC)


@contextmanager
def connect(
    path: str | Path | database.Lake, lock_timeout: float = 30.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store, migrated to the latest schema, for one short unit of work: the DuckDB
    file at `path`, or a DuckLake (data.database)."""
    if isinstance(path, database.Lake):
        with _connect_lake(path) as db:
            yield db
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = _open_with_retry(path, lock_timeout)
    try:
        resolved = path.resolve()
        if resolved not in _migrated:
            migrate(db)
            _migrated.add(resolved)
        yield db
    finally:
        db.close()


@contextmanager
def _connect_lake(lake: database.Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    db = database.open_lake(lake)
    try:
        if lake not in _migrated:
            # Writers starting together may race to migrate: the loser runs again, and finds
            # the migrations applied.
            database.retry_conflicts(lambda: migrate(db))
            _migrated.add(lake)
        yield db
    finally:
        db.close()


def _open_with_retry(path: Path, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as e:
            if "version number" in str(e) and "newer version" in str(e):
                raise TidingsError(
                    f"{path}: written by a newer DuckDB than this Tidings uses "
                    f"({duckdb.__version__}): export it once with that DuckDB and import it "
                    "(docs/scale.md, 'DuckDB version')"
                ) from None
            if "lock" not in str(e).lower():
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise TidingsError(f"{path}: cannot open database: {first}") from None
            if time.monotonic() >= deadline:
                holder = str(e).split("Conflicting lock is held in", 1)[-1].strip()
                raise StoreLockedError(
                    f"{path}: database is locked by another process ({holder[:120]}); "
                    f"gave up after {lock_timeout:.0f}s"
                ) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0) * (0.75 + random.random() / 2)


def rebuild_story_bands(db: duckdb.DuckDBPyConnection) -> None:
    """Recreate story_bands (migration 021) from the band keys stored with the story heads."""
    db.execute("DELETE FROM story_bands")
    db.execute(
        "INSERT INTO story_bands SELECT band, id, recent_at FROM ("
        "SELECT unnest(bands) AS band, id, greatest(published, collected_at) AS recent_at "
        "FROM mentions WHERE bands IS NOT NULL) ORDER BY recent_at, id"
    )


# A migration that creates derived tables fills them, once every pending migration is applied,
# with the one function that rebuilds them from the records.
_FILLS = {
    14: rollups.rebuild_readings,
    20: rollups.rebuild_queue,
    21: rebuild_story_bands,  # and the exact sums of 021: 022's fill recounts the rollups
    22: rollups.rebuild_from_readings,
    23: search.fill_search_text,
}


def refill_derived(db: duckdb.DuckDBPyConnection, since_version: int) -> None:
    """Fill again the derived tables of the migrations after `since_version`: rows restored
    from a store of that schema (an export) have none, or lack their newer columns."""
    for number, fill in sorted(_FILLS.items()):
        if number > since_version:
            fill(db)


def migrate(db: duckdb.DuckDBPyConnection) -> int:
    """Apply the numbered migrations not applied yet; return the schema version."""
    lake = database.is_lake(db)
    dialect = database.for_lake if lake else str
    db.execute(
        dialect(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
    )
    database.ensure_writes_row(db)
    done = {v for (v,) in db.execute("SELECT version FROM schema_migrations").fetchall()}
    files = sorted(
        (f for f in resources.files("data.migrations").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    version = max(done, default=0)
    pending = [(int(f.name.split("_", 1)[0]), f) for f in files]
    pending = [(number, f) for number, f in pending if number not in done]
    if not pending:
        return version
    # On a DuckDB file all pending migrations are one transaction (a crash leaves the store as
    # it was); DuckLake cannot see a table created earlier in the same transaction, so there
    # each is its own.
    applied: list[int] = []
    for group in [[p] for p in pending] if lake else [pending]:
        db.begin()
        try:
            for number, f in group:
                if (
                    lake
                    and db.execute(  # applied by another writer of the lake meanwhile
                        "SELECT count(*) FROM schema_migrations WHERE version = ?", [number]
                    ).fetchone()[0]
                ):
                    continue
                if sql := dialect(f.read_text(encoding="utf-8")).strip():
                    db.execute(sql)  # (a lake skips what a DuckDB file alone needs)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)", [number, _naive_utc(utcnow())]
                )
                applied.append(number)
            db.commit()
        except Exception:
            db.rollback()
            raise
    # Derived tables are filled once the schema is whole: a fill runs the current code, which
    # may read columns a later migration adds.
    if fills := [_FILLS[n] for n in applied if n in _FILLS]:
        db.begin()
        for fill in fills:
            fill(db)
        db.commit()
    version = max([version, *applied])
    if not lake and version > max(done, default=0):
        # Into the file now, not left in the write-ahead log: DuckDB 1.4 cannot replay an
        # ALTER TABLE … ADD COLUMN … DEFAULT from the log after a crash (a process killed
        # during its first pass would leave a store that no longer opens).
        db.execute("CHECKPOINT")
    return version


# --- writes -------------------------------------------------------------------------------

# DuckDB keeps each transaction's appended rows in row groups of their own, and its checkpoint
# (as a batch closes the file) merges small neighbouring row groups into one by writing all
# their rows again: each batch of a pass rewrote the last, partly full row group of every
# table it appends to (mentions, scores, readings, story_bands, inbox_queue), whatever the few
# rows it added (a batch of 5,000 mentions rewrote up to 120,000 of each), and a pass of a
# thousand mentions on a big store some 60,000 of each. Merged at every MERGE_EVERY-th write
# only, each row is written at its batch and about once more when merged, and a table keeps
# at most about MERGE_EVERY small row groups at its end.
MERGE_EVERY = 16


def checkpoint_at_commit(db: duckdb.DuckDBPyConnection) -> None:
    """Have DuckDB write this connection's transactions into the file as each commits (its
    automatic checkpoint, which otherwise waits for 16 MB of write-ahead log), rather than as
    the file closes. A batch closes the file right after its one commit, and is checkpointed
    then either way; at its commit DuckDB writes it straight into the file, not into the log
    first: the batch's rows are written once, not twice. The commit returns once they are in
    the file; one that fails (a crash) leaves nothing of the batch, which the next pass stores
    again."""
    if not database.is_lake(db):
        db.execute("SET checkpoint_threshold = '1KiB'")


def merge_row_groups_when_due(db: duckdb.DuckDBPyConnection) -> bool:
    """Let the checkpoints of this connection's file (as it closes) merge row groups, and
    leave out deleted rows, only if this write transaction is a MERGE_EVERY-th of the store
    (counted by store_writes, data.database.claim_writes); else they write only what changed.
    Return whether they will merge. Call it before claim_writes. (Counting the row groups
    instead reads the storage information of every segment: 40 ms at a million mentions, and
    more as the store grows.) A DuckLake's files are not DuckDB's row groups: there, nothing
    changes."""
    if database.is_lake(db):
        return True
    (writes,) = db.execute("SELECT n FROM store_writes").fetchone()
    due = (writes + 1) % MERGE_EVERY == 0
    db.execute("RESET max_vacuum_tasks" if due else "SET max_vacuum_tasks = 0")
    return due


def upsert_mentions(
    db: duckdb.DuckDBPyConnection,
    mentions: Sequence[Mention],
    collected_at: datetime,
    kinds: Mapping[str, str] | None = None,
    knowledge: frozenset[str] = frozenset(),
    fingerprints: Mapping[str, bytes] | None = None,
    story_keys: Mapping[str, str] | None = None,
    bands: Mapping[str, Sequence[int]] | None = None,
) -> int:
    """Insert the mentions not stored yet, in bulk; return how many were new.

    `kinds` maps source ids to their kind (rss, reddit…), for filtering by kind; items from the
    `knowledge` sources are marked as articles, for client digests. `fingerprints` and
    `story_keys` and `bands` (by mention id) are the near-duplicate grouping's
    (nlp.duplicates); a mention without a story key is its own story, or that of the link it
    shares.
    """
    if len(mentions) > CHUNK:  # bounded memory: Arrow and DuckDB hold one chunk at a time
        return sum(
            upsert_mentions(db, mentions[i : i + CHUNK], collected_at, kinds, knowledge,
                            fingerprints, story_keys, bands)
            for i in range(0, len(mentions), CHUNK)
        )  # fmt: skip
    if not mentions:
        return 0
    kinds, fingerprints, story_keys = kinds or {}, fingerprints or {}, story_keys or {}
    bands = bands or {}
    ids = [m.id for m in mentions]  # a hash each: computed once, not once per column
    if len(set(ids)) < len(ids):  # an item listed twice: its first listing is stored
        first: dict[str, Mention] = {}
        for i, m in zip(ids, mentions, strict=True):
            first.setdefault(i, m)
        ids, mentions = list(first), list(first.values())
    table = pa.table(
        {
            "id": ids,
            "source": [m.source for m in mentions],
            "native_id": [m.native_id for m in mentions],
            "url": [m.url for m in mentions],
            "title": [m.title for m in mentions],
            "text": [m.text for m in mentions],
            "author": [m.author for m in mentions],
            "published": pa.array([_naive_utc(m.published) for m in mentions], pa.timestamp("us")),
            "reach": pa.array([m.reach for m in mentions], pa.int64()),
            "kind": [kinds.get(m.source) for m in mentions],
            "shared_url": [m.shared_url for m in mentions],
            "story_key": [
                story_keys.get(i) or story_key(m) for i, m in zip(ids, mentions, strict=True)
            ],
            "article": [m.source in knowledge for m in mentions],
            "fingerprint": pa.array([fingerprints.get(i) for i in ids], pa.binary()),
            "bands": _band_lists([bands.get(i) for i in ids]),
            "published_known": pa.array([m.published_known for m in mentions], pa.bool_()),
        }
    )
    db.register("incoming_mentions", table)
    try:
        # The new ones, found once: each look-up reads the ids of every stored mention. (Each
        # id is listed once, above: a DISTINCT ON would copy every column, texts included, into
        # a hash table for nothing.)
        db.execute(
            "CREATE OR REPLACE TEMP TABLE new_mentions AS "
            "SELECT i.* FROM incoming_mentions i ANTI JOIN mentions m ON m.id = i.id"
        )
        if table["bands"].null_count < len(ids):  # new story heads' bands (story_heads)
            db.execute(
                """
                INSERT INTO story_bands
                SELECT unnest(i.bands), i.id, greatest(i.published, ?::TIMESTAMP)
                FROM new_mentions i WHERE i.bands IS NOT NULL
                """,
                [_naive_utc(collected_at)],
            )
        (new,) = db.execute(
            f"""
            INSERT INTO mentions ({", ".join(table.column_names)}, collected_at)
            SELECT *, ?::TIMESTAMP AS collected_at FROM new_mentions
            """,
            [_naive_utc(collected_at)],
        ).fetchone()
        # What a refresh of their readings reads of them, without looking them up again.
        db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {rollups.WRITTEN} AS "
            f"SELECT {rollups.MENTION_COLUMNS} FROM mentions LIMIT 0"
        )
        db.execute(
            f"INSERT INTO {rollups.WRITTEN} BY NAME SELECT {rollups.MENTION_COLUMNS} "
            "FROM (SELECT *, ?::TIMESTAMP AS collected_at FROM new_mentions)",
            [_naive_utc(collected_at)],
        )
        db.execute("DROP TABLE new_mentions")
    finally:
        db.unregister("incoming_mentions")
    return int(new)


def _band_lists(rows: Sequence[Sequence[int] | np.ndarray | None]) -> pa.Array:
    """A column of band keys (UBIGINT[]): one list per row, or null. Built from one array of
    every key, not from each key as a Python int."""
    lengths = np.array([-1 if r is None else len(r) for r in rows], dtype=np.int64)
    present = [r for r in rows if r is not None and len(r)]
    values = (
        np.concatenate([np.asarray(r, dtype=np.uint64) for r in present])
        if present
        else np.empty(0, dtype=np.uint64)
    )
    offsets = np.concatenate([[0], np.cumsum(np.maximum(lengths, 0))]).astype(np.int32)
    mask = pa.array(lengths < 0) if (lengths < 0).any() else None
    return pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(values, pa.uint64()), mask=mask
    )


def story_key(m: Mention) -> str:
    """A mention's own story: the link it shares or points to, canonical, else itself."""
    return canonical_url(m.shared_url or m.url) or m.id


# Stored story heads compared with each new mention at most: those sharing the most bands
# with it (the likeliest near copies). Templated items share bands with thousands of heads;
# comparing them all costs memory and time and changes nothing.
CANDIDATES_PER_MENTION = 8


def stored_ids(db: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> set[str]:
    """Which of these mention ids are stored already."""
    if not ids:
        return set()
    rows = db.execute(
        "SELECT id FROM mentions WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(set(ids))]
    ).fetchall()
    return {i for (i,) in rows}


@dataclass(frozen=True, slots=True)
class StoryHeads:
    """Stored story heads sharing a band with new mentions, as arrays (thousands of pairs, each
    head's fingerprint held once): pair k is new mention `mentions[k]` (an index into the band
    keys asked about) and head `heads[k]` (a row of `fingerprints` and `keys`), each mention's
    pairs best first (most bands shared, then head id)."""

    mentions: np.ndarray  # int32
    heads: np.ndarray  # int32
    fingerprints: list[bytes]
    keys: list[str]  # their story keys

    def pairs(self) -> list[tuple[int, bytes, str]]:
        """(index into the band keys asked about, fingerprint, story key) of each pair."""
        return [
            (i, self.fingerprints[h], self.keys[h])
            for i, h in zip(self.mentions.tolist(), self.heads.tolist(), strict=True)
        ]


_NO_HEADS = StoryHeads(np.empty(0, np.int32), np.empty(0, np.int32), [], [])


def story_heads(
    db: duckdb.DuckDBPyConnection, bands: Sequence[Sequence[int]] | np.ndarray, since: datetime
) -> StoryHeads:
    """For new mentions' band keys (one list per mention, or one row of an array), the stored
    story heads published or stored since `since` that share a band with each, at most
    CANDIDATES_PER_MENTION of them, as arrays (StoryHeads), for nlp.duplicates.group.

    A head stored since then counts whatever its date: an old article stored a moment ago by
    another batch of the pass, or by another worker at once, must be found as it would be in
    the same batch (where copies group whatever their dates), else a near copy arriving in
    another batch, or from another worker, begins a story of its own."""
    if isinstance(bands, np.ndarray):  # a row of keys per mention (nlp.duplicates.band_array)
        idx = np.repeat(np.arange(len(bands), dtype=np.int32), bands.shape[1] if bands.ndim else 0)
        keys = bands.reshape(-1).astype(np.uint64, copy=False)
    else:
        pairs = [(i, b) for i, row in enumerate(bands) for b in row]
        idx = np.array([i for i, _ in pairs], dtype=np.int32)
        keys = np.array([b for _, b in pairs], dtype=np.uint64)
    if not len(keys):
        return _NO_HEADS
    table = pa.table({"idx": pa.array(idx, pa.int32()), "band": pa.array(keys, pa.uint64())})
    db.register("incoming_bands", table)
    try:
        return _story_heads(db, _naive_utc(since))
    finally:
        db.unregister("incoming_bands")


# (mention, story head) pairs sharing a band that one query of story_heads counts at
# most: what it holds stays bounded however many heads the window holds (templated items
# share a band with thousands of them).
PAIRS_AT_ONCE = 100_000


def _story_heads(db: duckdb.DuckDBPyConnection, since: datetime | None) -> StoryHeads:
    # The joins are on the band key, the new mentions' side the one held (built): the heads'
    # bands stream by. First how many (mention, head) pairs share a band: most batches have
    # few, and are one part, or none. Past PAIRS_AT_ONCE, how many each new mention has, and
    # the mentions in parts of at most that many pairs. Then each head found read once.
    (pairs,) = db.execute(
        "SELECT count(*) FROM incoming_bands i JOIN story_bands b ON b.band = i.band "
        "WHERE b.recent_at >= ?",
        [since],
    ).fetchone()
    if not pairs:
        return _NO_HEADS
    parts: list[list[int]] = [[0, 2**31 - 1]]  # every mention at once
    if pairs > PAIRS_AT_ONCE:
        per_mention = db.execute(
            "SELECT i.idx, count(*) FROM incoming_bands i JOIN story_bands b ON b.band = i.band "
            "WHERE b.recent_at >= ? GROUP BY i.idx ORDER BY i.idx",
            [since],
        ).fetchall()
        parts, held = [], 0
        for idx, n in per_mention:
            if not parts or held + n > PAIRS_AT_ONCE:
                parts.append([idx, idx])
                held = 0
            parts[-1][1] = idx
            held += n
    db.execute(
        "CREATE OR REPLACE TEMP TABLE candidate_heads (idx INTEGER, mention_id VARCHAR, n BIGINT)"
    )
    for first, last in parts:
        db.execute(
            """
            INSERT INTO candidate_heads
            SELECT i.idx, b.mention_id, count(*) AS n
            FROM incoming_bands i JOIN story_bands b ON b.band = i.band
            WHERE b.recent_at >= ? AND i.idx BETWEEN ? AND ?
            GROUP BY i.idx, b.mention_id
            QUALIFY row_number() OVER (PARTITION BY i.idx ORDER BY count(*) DESC, b.mention_id)
                    <= ?
            """,
            [since, first, last, CANDIDATES_PER_MENTION],
        )
    # Each head found read once (found by the ids alone, then read by row id: in one query
    # the fingerprints of every stored mention would be read), numbered; then the pairs, best
    # first, as arrays.
    db.execute(
        "CREATE OR REPLACE TEMP TABLE candidate_rows AS SELECT rowid AS r FROM mentions "
        "WHERE id IN (SELECT mention_id FROM candidate_heads)"
    )
    db.execute(
        "CREATE OR REPLACE TEMP TABLE candidate_stored AS "
        "SELECT id, fingerprint, story_key, (row_number() OVER (ORDER BY id) - 1)::INTEGER AS row "
        "FROM mentions WHERE rowid IN (SELECT r FROM candidate_rows)"
    )
    stored = db.execute(
        "SELECT fingerprint, story_key FROM candidate_stored ORDER BY row"
    ).fetchall()
    found = db.execute(
        """
        SELECT c.idx, h.row FROM candidate_heads c JOIN candidate_stored h ON h.id = c.mention_id
        ORDER BY c.idx, c.n DESC, c.mention_id
        """
    ).fetchnumpy()
    for table in ("candidate_heads", "candidate_rows", "candidate_stored"):
        db.execute(f"DROP TABLE {table}")
    return StoryHeads(
        np.asarray(found["idx"], np.int32),
        np.asarray(found["row"], np.int32),
        [fingerprint for fingerprint, _ in stored],
        [key for _, key in stored],
    )


def existing_story_keys(db: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> set[str]:
    """Which of these story keys stored mentions already have."""
    if not keys:
        return set()
    rows = db.execute(
        "SELECT DISTINCT story_key FROM mentions WHERE story_key IN (SELECT unnest(?::VARCHAR[]))",
        [list(set(keys))],
    ).fetchall()
    return {k for (k,) in rows}


def fill_fingerprints(
    db: duckdb.DuckDBPyConnection,
    fingerprints: Mapping[str, bytes],
    bands: Mapping[str, Sequence[int]],
) -> None:
    """Give mentions stored before near-duplicates were grouped their fingerprint and band
    keys (each stays the head of its own story; new copies of it will join it)."""
    if not fingerprints:
        return
    ids = list(fingerprints)
    table = pa.table(
        {
            "id": ids,
            "fp": pa.array([fingerprints[i] for i in ids], pa.binary()),
            "bands": pa.array([bands[i] for i in ids], pa.list_(pa.uint64())),
        }
    )
    db.register("incoming_fingerprints", table)
    try:
        db.execute(
            "INSERT INTO story_bands "
            "SELECT unnest(i.bands), m.id, greatest(m.published, m.collected_at) "
            "FROM incoming_fingerprints i JOIN mentions m ON m.id = i.id "
            "WHERE m.fingerprint IS NULL AND i.bands IS NOT NULL"
        )
        db.execute(
            "UPDATE mentions SET fingerprint = i.fp, bands = i.bands FROM incoming_fingerprints i "
            "WHERE mentions.id = i.id AND mentions.fingerprint IS NULL"
        )
    finally:
        db.unregister("incoming_fingerprints")


def scored_mention_records(db: duckdb.DuckDBPyConnection) -> list[Mention]:
    """Every mention that has a score, as collected: for re-scoring with a new model."""
    rows = db.execute(
        """
        SELECT source, native_id, url, title, text, author, published, reach, shared_url
        FROM mentions WHERE id IN (SELECT mention_id FROM scores) ORDER BY id
        """
    ).fetchall()
    return [
        Mention(src, nid, url, title, text, author, _aware(pub), reach, shared)
        for src, nid, url, title, text, author, pub, reach, shared in rows
    ]


def upsert_scores(
    db: duckdb.DuckDBPyConnection,
    scores: Sequence[Score],
    scored_at: datetime,
    new_stories: Collection[str] = (),
) -> int:
    """Store scores; a (mention, model version) pair already scored is replaced. The current
    readings of the mentions, and the daily rollups of their days, follow (data.rollups).
    `new_stories`: story keys that no mention stored before this transaction has (a pass
    knows them from existing_story_keys): their readings are not looked for."""
    if not scores:
        return 0
    n = _insert_scores(db, scores, scored_at)
    rollups.refresh(db, [s.mention_id for s in scores], scores=SCORED, new_stories=new_stories)
    db.execute(f"DROP TABLE IF EXISTS {SCORED}")
    return n


# Every score of the mentions _insert_scores stored scores of: what their refresh reads.
SCORED = "touched_scores"


def _insert_scores(
    db: duckdb.DuckDBPyConnection, scores: Sequence[Score], scored_at: datetime
) -> int:
    """Store scores, replacing those of the same (mention, model version), without the
    refresh; leave every score of their mentions in the temporary table SCORED."""
    # A pair listed twice: its last listing is stored.
    scores = list({(s.mention_id, s.model_version): s for s in scores}.values())
    ids = list(dict.fromkeys(s.mention_id for s in scores))
    db.register("scored_ids", pa.table({"id": pa.array(ids, pa.string())}))
    try:
        # The scores stored before of these mentions, found once (each look-up reads the
        # mention ids of every score): the replaced ones are deleted by their row ids, the
        # others read again for the refresh by theirs. A mention this connection has just
        # stored (rollups.WRITTEN: a pass's new mentions) has none: when all are, the scores
        # are not read at all.
        db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {rollups.WRITTEN} AS "
            f"SELECT {rollups.MENTION_COLUMNS} FROM mentions LIMIT 0"
        )
        (earlier,) = db.execute(
            f"SELECT count(*) FROM scored_ids WHERE id NOT IN (SELECT id FROM {rollups.WRITTEN})"
        ).fetchone()
        db.execute(
            "CREATE OR REPLACE TEMP TABLE prior_scores AS SELECT rowid AS r, mention_id, "
            "model_version FROM scores WHERE mention_id IN (SELECT id FROM scored_ids)"
            + ("" if earlier else " LIMIT 0")
        )
        db.execute("CREATE OR REPLACE TEMP TABLE written_scores AS FROM scores LIMIT 0")
        n = sum(
            _insert_score_chunk(db, scores[i : i + CHUNK], scored_at)
            for i in range(0, len(scores), CHUNK)
        )
        db.execute(
            f"CREATE OR REPLACE TEMP TABLE {SCORED} AS "
            + (
                "FROM scores WHERE rowid IN (SELECT r FROM prior_scores) UNION ALL "
                if earlier
                else ""
            )
            + "FROM written_scores"
        )
        db.execute("DROP TABLE prior_scores")
        db.execute("DROP TABLE written_scores")
    finally:
        db.unregister("scored_ids")
    return n


# json.dumps(…, sort_keys=True) of each score's intents, without building an encoder each time.
_INTENT_JSON = json.JSONEncoder(sort_keys=True).encode


def _insert_score_chunk(
    db: duckdb.DuckDBPyConnection, scores: Sequence[Score], scored_at: datetime
) -> int:
    table = pa.table(
        {
            "mention_id": [s.mention_id for s in scores],
            "model_version": [s.model_version for s in scores],
            "terms": pa.array([list(s.terms) for s in scores], pa.list_(pa.string())),
            "sentiment": pa.array([s.sentiment for s in scores], pa.float64()),
            "sentiment_label": [s.sentiment_label for s in scores],
            "lang": [s.lang for s in scores],
            "intents": pa.array(
                [
                    list(s.present)
                    if s.present is not None
                    else [i for i, c in s.intents.items() if c >= INTENT_THRESHOLD]
                    for s in scores
                ],
                pa.list_(pa.string()),
            ),
            "intent_scores": [_INTENT_JSON(s.intents) for s in scores],
            "term_sentiments": pa.array(
                [list(s.term_sentiments) for s in scores], pa.list_(pa.float64())
            ),
            "term_relevance": pa.array(
                [list(s.term_relevance) for s in scores], pa.list_(pa.float64())
            ),
            "set_aside": pa.array([s.set_aside for s in scores], pa.bool_()),
        }
    )
    db.register("incoming_scores", table)
    try:
        db.execute(
            """
            DELETE FROM scores WHERE rowid IN (
                SELECT p.r FROM prior_scores p JOIN incoming_scores i
                ON p.mention_id = i.mention_id AND p.model_version = i.model_version)
            """
        )
        for into in ("written_scores", "scores"):
            (n,) = db.execute(
                f"INSERT INTO {into} (mention_id, model_version, terms, sentiment, "
                "sentiment_label, lang, intents, intent_scores, term_sentiments, term_relevance, "
                "set_aside, scored_at) SELECT *, ?::TIMESTAMP FROM incoming_scores",
                [_naive_utc(scored_at)],
            ).fetchone()
    finally:
        db.unregister("incoming_scores")
    return int(n)


def save_source_states(db: duckdb.DuckDBPyConnection, states: Sequence[SourceState]) -> None:
    """Store every source's state in one statement (a thousand sources: one insert, not a
    thousand)."""
    if not states:
        return
    ts = pa.timestamp("us")
    table = pa.table(
        {
            "id": [s.source for s in states],
            "etag": pa.array([s.etag for s in states], pa.string()),
            "last_modified": pa.array([s.last_modified for s in states], pa.string()),
            "last_attempt_at": pa.array([_naive_utc(s.last_attempt_at) for s in states], ts),
            "last_success_at": pa.array([_naive_utc(s.last_success_at) for s in states], ts),
            "last_error": pa.array([s.last_error for s in states], pa.string()),
            "consecutive_failures": pa.array([s.consecutive_failures for s in states], pa.int32()),
            "next_fetch_at": pa.array([_naive_utc(s.next_fetch_at) for s in states], ts),
            "items_last_fetch": pa.array([s.items_last_fetch for s in states], pa.int32()),
            "skipped_last_fetch": pa.array([s.skipped_last_fetch for s in states], pa.int32()),
            "needs_credentials": pa.array([s.needs_credentials for s in states], pa.bool_()),
            "cursors": [json.dumps(s.cursors, sort_keys=True) for s in states],
            "encoding_guessed": pa.array([s.encoding_guessed for s in states], pa.string()),
            "unexpected_samples": [json.dumps(list(s.unexpected_samples)) for s in states],
        }
    )
    db.register("incoming_states", table)
    try:
        # MERGE, not INSERT OR REPLACE: a DuckLake table has no key to replace on.
        db.execute(
            "MERGE INTO sources USING (SELECT DISTINCT ON (id) * FROM incoming_states) i "
            "ON sources.id = i.id WHEN MATCHED THEN UPDATE WHEN NOT MATCHED THEN INSERT"
        )
    finally:
        db.unregister("incoming_states")


@dataclass(frozen=True, slots=True)
class RunRecord:
    started_at: datetime
    finished_at: datetime
    sources_fetched: int
    sources_failed: int
    items_seen: int
    new_mentions: int


def record_run(db: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    db.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
        [
            _naive_utc(run.started_at),
            _naive_utc(run.finished_at),
            run.sources_fetched,
            run.sources_failed,
            run.items_seen,
            run.new_mentions,
        ],
    )


# --- reads --------------------------------------------------------------------------------


def source_states(db: duckdb.DuckDBPyConnection) -> dict[str, SourceState]:
    rows = db.execute(
        "SELECT id, etag, last_modified, last_attempt_at, last_success_at, last_error, "
        "consecutive_failures, next_fetch_at, items_last_fetch, skipped_last_fetch, "
        "needs_credentials, cursors, encoding_guessed, unexpected_samples FROM sources"
    ).fetchall()
    return {
        r[0]: SourceState(
            source=r[0],
            etag=r[1],
            last_modified=r[2],
            last_attempt_at=_aware(r[3]),
            last_success_at=_aware(r[4]),
            last_error=r[5],
            consecutive_failures=r[6],
            next_fetch_at=_aware(r[7]),
            items_last_fetch=r[8],
            skipped_last_fetch=r[9] or 0,
            needs_credentials=bool(r[10]),
            cursors=json.loads(r[11] or "{}"),
            encoding_guessed=r[12],
            unexpected_samples=tuple(json.loads(r[13] or "[]")),
        )
        for r in rows
    }


def last_run(db: duckdb.DuckDBPyConnection) -> RunRecord | None:
    row = db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return RunRecord(_aware(row[0]), _aware(row[1]), *row[2:])  # type: ignore[arg-type]


def totals(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    mentions, scored = db.execute(
        "SELECT (SELECT count(*) FROM mentions), (SELECT count(DISTINCT mention_id) FROM scores)"
    ).fetchone()
    return {"mentions": mentions, "scored": scored}


@dataclass(frozen=True, slots=True)
class MentionFilter:
    """What the mentions page asks for. Empty tuples mean 'any'."""

    since: date | None = None
    until: date | None = None  # inclusive
    terms: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    text: str = ""
    limit: int = 100  # one page of the list
    offset: int = 0


def _where(f: MentionFilter, period: bool = True) -> tuple[str, list]:
    """The filter over current readings (alias r). Text is looked up in the words the readings
    keep (data.search)."""
    bounds, bound_params = _period(f) if period else ([], [])
    clauses, params = ["TRUE", *(f"r.{b}" for b in bounds)], list(bound_params)
    if f.terms:
        clauses.append("len(list_intersect(r.terms, ?)) > 0")
        params.append(list(f.terms))
    if f.sources:
        clauses.append("list_contains(?, r.source)")
        params.append(list(f.sources))
    if f.kinds:
        clauses.append("list_contains(?, r.kind)")
        params.append(list(f.kinds))
    if f.sentiments:
        clauses.append("list_contains(?, r.sentiment_label)")
        params.append(list(f.sentiments))
    if f.text.strip():
        clause, clause_params = search.text_clause(f.text, bounds, bound_params)
        clauses.append(clause)
        params += clause_params
    return " AND ".join(clauses), params


def _period(f: MentionFilter) -> tuple[list[str], list]:
    clauses, params = [], []
    if f.since:
        clauses.append("published >= ?")
        params.append(f.since)
    if f.until:
        clauses.append("published < ?::DATE + INTERVAL 1 DAY")
        params.append(f.until)
    return clauses, params


def find_mentions(db: duckdb.DuckDBPyConnection, f: MentionFilter) -> pd.DataFrame:
    """One page of the mentions the filter keeps, newest first: `f.limit` from `f.offset`."""
    where, params = _where(f)
    # First the date of the page's last row, from the columns the filter reads alone; then
    # the page, from the readings published since: the other columns are read only where the
    # page is, not for every row a top-N of page 50 keeps on its way. (A text filter too: the
    # readings keep the words, data.search.)
    bound = f"""AND r.published >= coalesce((
        SELECT r.published FROM readings r WHERE {where}
        ORDER BY r.published DESC LIMIT 1 OFFSET ?), '-infinity'::TIMESTAMP)"""
    bound_params = [*params, max(f.limit + f.offset - 1, 0)]
    found = db.execute(
        f"""
        WITH page AS (
            SELECT r.* FROM readings r WHERE {where} {bound}
            ORDER BY r.published DESC, r.mention_id LIMIT ? OFFSET ?
        )
        SELECT p.published, p.source, p.kind, m.title, p.terms, p.sentiment, p.sentiment_label,
               p.lang, p.intents, m.author, p.reach, m.url, m.text, p.mention_id AS id,
               p.story_key, coalesce(m.published_known, true) AS published_known
        FROM page p JOIN mentions m ON m.id = p.mention_id AND m.published = p.published
        ORDER BY p.published DESC, p.mention_id
        """,
        [*params, *bound_params, f.limit, f.offset],
    ).df()
    # Other sources sharing each story, for this page only: the keys are looked up in the
    # mentions' story index, one by one (a join would read every mention's key).
    keys = sorted(set(found["story_key"]))
    shared: dict[str, list[str]] = {}
    if keys:
        rows = db.execute(
            f"SELECT story_key, list(DISTINCT source) FROM mentions "
            f"WHERE story_key IN ({', '.join('?' * len(keys))}) GROUP BY story_key",
            keys,
        ).fetchall()
        shared = dict(rows)
    found["also_on"] = [
        sum(1 for s in shared.get(k, ()) if s != source)
        for k, source in zip(found["story_key"], found["source"], strict=True)
    ]
    return found.drop(columns="story_key")


def count_mentions(db: duckdb.DuckDBPyConnection, f: MentionFilter) -> int:
    """How many mentions the filter keeps (every page of find_mentions)."""
    where, params = _where(f)
    (n,) = db.execute(f"SELECT count(*) FROM readings r WHERE {where}", params).fetchone()
    return int(n)


def _from_rollups(f: MentionFilter) -> bool:
    """The daily rollups answer counts over a period, of all kinds of source or of any set of
    them (`_rollup`)."""
    return not (f.terms or f.sources or f.sentiments or f.text.strip())


def _rollup(table: str, f: MentionFilter) -> tuple[str, list]:
    """The rows of a daily rollup in the filter's period and kinds, each with `counted`: the
    stories whose first mention of those kinds (of any kind, when none are asked for) is
    counted there. A story's first mention of a kind starts it among a set of kinds unless the
    story was mentioned on another kind of the set before (earlier_kinds, migration 022):
    so a story on two kinds asked for counts once."""
    where, params = _days(f)
    counted = "stories"
    if f.kinds:
        counted = "CASE WHEN list_has_any(earlier_kinds, ?) THEN 0 ELSE kind_stories END"
        params = [list(f.kinds), *params]
    return f"(SELECT *, {counted} AS counted FROM {table} WHERE {where})", params


def _days(f: MentionFilter) -> tuple[str, list]:
    clauses, params = ["TRUE"], []
    if f.since:
        clauses.append("day >= ?")
        params.append(f.since)
    if f.until:
        clauses.append("day <= ?")
        params.append(f.until)
    if f.kinds:
        clauses.append("list_contains(?, kind)")
        params.append(list(f.kinds))
    return " AND ".join(clauses), params


def _first_mentions(f: MentionFilter, per_term: bool) -> tuple[str, list]:
    """SQL of the mentions the filter keeps of each story that has one in the period, with
    `head`: whether it is the story's first kept mention (about the term, if `per_term`).
    Rollups hold the same counts, kept on write; this answers any other filter."""
    where, params = _where(f)
    anywhen, anywhen_params = _where(f, period=False)
    terms = ", unnest(r.terms) AS term, unnest(r.term_sentiments) AS ts" if per_term else ""
    partition = "story_key, term" if per_term else "story_key"
    return (
        f"""
        SELECT *, row_number() OVER (PARTITION BY {partition}
                                     ORDER BY published, mention_id) = 1 AS head
        FROM (SELECT r.*{terms} FROM readings r
              WHERE {anywhen} AND r.story_key IN (SELECT r.story_key FROM readings r
                                                  WHERE {where}))
        """,
        [*anywhen_params, *params],
    )


def _in_period(f: MentionFilter) -> tuple[str, list]:
    clauses, params = _period(f)
    return " AND ".join(["TRUE", *clauses]), params


def summary(db: duckdb.DuckDBPyConnection, f: MentionFilter) -> dict[str, int]:
    """Stories the filter keeps first seen in the period (a story: a mention with its
    cross-posts and near copies, counted once, on the day of its first mention), and how many
    of them are negative or positive (as their first mention reads)."""
    if _from_rollups(f):
        rows, params = _rollup("daily_sources", f)
        sql = f"""
            SELECT sum(counted), sum(counted) FILTER (feeling = 'negative'),
                   sum(counted) FILTER (feeling = 'positive')
            FROM {rows}
        """
    else:
        heads, params = _first_mentions(f, per_term=False)
        period, period_params = _in_period(f)
        params = [*params, *period_params]
        sql = f"""
            SELECT count(*), count(*) FILTER (sentiment_label = 'negative'),
                   count(*) FILTER (sentiment_label = 'positive')
            FROM ({heads}) WHERE head AND {period}
        """
    total, negative, positive = db.execute(sql, params).fetchone()
    return {"mentions": int(total or 0), "negative": int(negative or 0),
            "positive": int(positive or 0)}  # fmt: skip


def mentions_per_day(db: duckdb.DuckDBPyConnection, f: MentionFilter) -> pd.DataFrame:
    """Columns day, term, mentions (stories first seen that day about the term), sentiment
    (mean of the day's mentions, of the clauses naming the term where known), and of the
    stories: negative, positive, unscored (not in English), as their first mention reads."""
    if _from_rollups(f):
        rows, params = _rollup("daily_terms", f)
        sql = f"""
            SELECT day, term, sum(counted)::BIGINT AS mentions,
                   sum(sentiment_sum) / sum(d.mentions) AS sentiment,
                   coalesce(sum(counted) FILTER (feeling = 'negative'), 0)::BIGINT AS negative,
                   coalesce(sum(counted) FILTER (feeling = 'positive'), 0)::BIGINT AS positive,
                   coalesce(sum(counted) FILTER (feeling = 'unscored'), 0)::BIGINT AS unscored
            FROM {rows} d
            GROUP BY day, term HAVING sum(counted) > 0 ORDER BY day, term
        """
    else:
        heads, params = _first_mentions(f, per_term=True)
        period, period_params = _in_period(f)
        params = [*params, *period_params]
        sql = f"""
            SELECT published::DATE AS day, term, count(*) FILTER (head) AS mentions,
                   avg(coalesce(ts, sentiment)) AS sentiment,
                   count(*) FILTER (head AND sentiment_label = 'negative') AS negative,
                   count(*) FILTER (head AND sentiment_label = 'positive') AS positive,
                   count(*) FILTER (head AND sentiment_label = 'unscored') AS unscored
            FROM ({heads}) WHERE term IS NOT NULL AND {period}
            GROUP BY ALL HAVING count(*) FILTER (head) > 0 ORDER BY day, term
        """
    return db.execute(sql, params).df()


def top_sources(db: duckdb.DuckDBPyConnection, f: MentionFilter, limit: int = 100) -> pd.DataFrame:
    """Mentions per source (every post counts) and their mean sentiment, most first."""
    if not (f.terms or f.text.strip()):
        where, params = _days(replace(f, kinds=()))
        for column, values in (("source", f.sources), ("kind", f.kinds),
                               ("feeling", f.sentiments)):  # fmt: skip
            if values:
                where += f" AND list_contains(?, {column})"
                params.append(list(values))
        sql = f"""
            SELECT source, any_value(kind) AS kind, sum(mentions)::BIGINT AS mentions,
                   sum(sentiment_sum) / sum(mentions) AS sentiment
            FROM daily_sources WHERE {where}
            GROUP BY source ORDER BY mentions DESC, source LIMIT ?
        """
    else:
        where, params = _where(f)
        sql = f"""
            SELECT source, any_value(kind) AS kind, count(*) AS mentions,
                   avg(sentiment) AS sentiment
            FROM readings r WHERE {where}
            GROUP BY source ORDER BY mentions DESC, source LIMIT ?
        """
    return db.execute(sql, [*params, limit]).df()


def known_terms(db: duckdb.DuckDBPyConnection) -> list[str]:
    rows = db.execute("SELECT DISTINCT term FROM daily_terms ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def known_kinds(db: duckdb.DuckDBPyConnection) -> list[str]:
    rows = db.execute("SELECT DISTINCT kind FROM daily_sources WHERE kind IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows.fetchall()]


def known_sources(db: duckdb.DuckDBPyConnection) -> list[str]:
    rows = db.execute(
        "SELECT id FROM sources UNION SELECT DISTINCT source FROM daily_sources ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def source_health(db: duckdb.DuckDBPyConnection, counts: bool = True) -> pd.DataFrame:
    """Each source's state; with `counts`, how many mentions it gave (and how many of them
    without a date we could read): a scan of every mention, which only the Sources page
    needs."""
    counted = """,
               (SELECT count(*) FROM mentions m WHERE m.source = s.id) AS mentions,
               (SELECT count(*) FROM mentions m
                WHERE m.source = s.id AND NOT m.published_known) AS dates_unknown"""
    return db.execute(
        f"""
        SELECT s.id AS source,
               CASE WHEN s.needs_credentials THEN 'needs credentials'
                    WHEN s.last_error IS NULL THEN 'ok'
                    WHEN s.consecutive_failures >= 3 THEN 'failing'
                    ELSE 'error' END AS health,
               s.last_success_at, s.last_attempt_at, s.consecutive_failures,
               s.last_error, s.next_fetch_at, s.items_last_fetch, s.skipped_last_fetch,
               s.encoding_guessed, s.unexpected_samples{counted if counts else ""}
        FROM sources s ORDER BY s.consecutive_failures DESC, s.id
        """
    ).df()


# --- what alert rules look at ----------------------------------------------------------------


def window_counts(
    db: duckdb.DuckDBPyConnection,
    terms: Sequence[str],
    now: datetime,
    window: timedelta,
    weeks: int,
    negative_only: bool = False,
) -> dict[str, tuple[int, list[int]]]:
    """Per watched term: stories in the window ending now, and in the same window of each of
    the `weeks` weeks before (same hour, same weekday). Weeks that ended before the first
    stored mention are left out, so a new install has a short baseline, not one of zeros."""
    if not terms:
        return {}
    rows = db.execute(
        """
        WITH weeks AS (
            SELECT k, ?::TIMESTAMP - k * INTERVAL 7 DAY AS hi FROM range(0, ? + 1) t(k)
        ), first AS (SELECT min(published) AS at FROM mentions)
        SELECT term, k, count(DISTINCT story_key) AS n
        FROM weeks, first, unnest(?::VARCHAR[]) u(term)
        LEFT JOIN (SELECT published, story_key, sentiment_label, unnest(terms) AS t
                   FROM scored_mentions) m
          ON m.t = term AND m.published >= weeks.hi - ?::INTERVAL AND m.published < weeks.hi
             AND (NOT ? OR m.sentiment_label = 'negative')
        WHERE k = 0 OR weeks.hi > first.at
        GROUP BY term, k ORDER BY term, k
        """,
        [_naive_utc(now), weeks, list(terms), window, negative_only],
    ).fetchall()
    out: dict[str, tuple[int, list[int]]] = {t: (0, []) for t in terms}
    for term, k, n in rows:
        observed, baseline = out[term]
        out[term] = (n, baseline) if k == 0 else (observed, [*baseline, n])
    return out


def recent_mentions(db: duckdb.DuckDBPyConnection, since: datetime) -> pd.DataFrame:
    """Mentions collected since a time, with their latest scores: what match rules look at."""
    return db.execute(
        """
        SELECT id, published, source, kind, title, text, author, reach, url, terms, sentiment,
               sentiment_label, intents
        FROM scored_mentions WHERE collected_at >= ? ORDER BY published
        """,
        [_naive_utc(since)],
    ).df()
