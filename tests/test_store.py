"""The DuckDB store on a real file: migrations, idempotent bulk writes, a locked file."""

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from data import store
from data.errors import StoreLockedError
from data.records import Mention, Score, SourceState
from tests.conftest import ROOT

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def mention(i: int, source: str = "blog", text: str = "Nimbus Notes is fine") -> Mention:
    return Mention(
        source,
        f"id-{i}",
        f"https://x.example/{i}",
        f"title {i}",
        text,
        None,
        NOW - timedelta(hours=i),
    )


def score(m: Mention, sentiment: float = 0.5, version: str = "v1") -> Score:
    return Score(
        m.id, version, ("Nimbus Notes",), sentiment, "positive" if sentiment > 0 else "negative"
    )


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "t.duckdb"
    numbered = sorted((ROOT / "data" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
    with store.connect(path) as db:
        assert store.migrate(db) == len(numbered) == int(numbered[-1].name[:3])  # no gaps
        tables = {
            r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert {
        "mentions",
        "scores",
        "sources",
        "runs",
        "schema_migrations",
        "inbox",
        "outbox",
    } <= tables
    with store.connect(path) as db:
        assert db.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(numbered)


def test_second_upsert_of_same_mentions_adds_nothing(tmp_path):
    batch = [mention(i) for i in range(2000)]
    with store.connect(tmp_path / "t.duckdb") as db:
        assert store.upsert_mentions(db, batch + batch[:10], NOW) == 2000
        assert store.upsert_mentions(db, batch, NOW) == 0
        store.upsert_scores(db, [score(m) for m in batch], NOW)
        store.upsert_scores(db, [score(m, -0.5) for m in batch], NOW)
        assert store.totals(db) == {"mentions": 2000, "scored": 2000}
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 2000
        assert db.execute("SELECT max(sentiment) FROM scores").fetchone()[0] == -0.5


def test_an_item_listed_twice_in_a_write_is_stored_once_as_first_listed(tmp_path, monkeypatch):
    """Within a chunk and across two (each id listed once is what the insert relies on)."""
    batch = [mention(i) for i in range(10)]
    again = [mention(i, text="Nimbus Notes, listed again") for i in (3, 8)]
    listed = batch[:5] + again + batch[5:]  # 3 first as in batch, 8 first as in again
    first = {m.id: m.text for m in reversed(listed)}
    assert first[batch[8].id] != batch[8].text and first[batch[3].id] == batch[3].text
    for name, chunk in (("one", store.CHUNK), ("parts", 6)):
        monkeypatch.setattr(store, "CHUNK", chunk)
        with store.connect(tmp_path / f"{name}.duckdb") as db:
            assert store.upsert_mentions(db, listed, NOW) == 10
            rows = db.execute("SELECT id, text FROM mentions ORDER BY id").fetchall()
        assert rows == sorted(first.items())


def big_table_indexes(db) -> list[tuple]:
    return db.execute(
        "SELECT table_name, constraint_type FROM duckdb_constraints() "
        "WHERE table_name IN ('mentions', 'scores') AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
        "UNION ALL SELECT table_name, index_name FROM duckdb_indexes() "
        "WHERE table_name IN ('mentions', 'scores')"
    ).fetchall()


def test_a_keyed_store_keeps_every_mention_and_score_when_its_keys_go(tmp_path):
    """Migration 024: the keys of the big tables, whose upkeep grew with the store, are
    dropped; every row stays, and writing the same items again still adds nothing."""
    batch = [mention(i) for i in range(50)]
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, batch, NOW)
        store.upsert_scores(db, [score(m) for m in batch], NOW)
        mentions = db.execute("SELECT * FROM mentions ORDER BY id").fetchall()
        scores = db.execute("SELECT * FROM scores ORDER BY mention_id").fetchall()
        readings = db.execute("SELECT * FROM scored_mentions ORDER BY id").fetchall()
        assert big_table_indexes(db) == []
        # The store as migration 022 left it: keyed and indexed.
        db.execute("ALTER TABLE mentions RENAME TO mentions_unkeyed")
        db.execute("ALTER TABLE scores RENAME TO scores_unkeyed")
        db.execute(
            "CREATE TABLE mentions (id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, "
            "native_id VARCHAR NOT NULL, url VARCHAR NOT NULL, title VARCHAR NOT NULL, "
            "text VARCHAR NOT NULL, author VARCHAR, published TIMESTAMP NOT NULL, reach BIGINT, "
            "collected_at TIMESTAMP NOT NULL, kind VARCHAR, shared_url VARCHAR, "
            "story_key VARCHAR, article BOOLEAN DEFAULT false, fingerprint BLOB, "
            "bands UBIGINT[], published_known BOOLEAN DEFAULT true)"
        )
        db.execute("CREATE INDEX mentions_published ON mentions (published)")
        db.execute("CREATE INDEX mentions_story ON mentions (story_key)")
        db.execute("INSERT INTO mentions FROM mentions_unkeyed")
        db.execute(
            "CREATE TABLE scores (mention_id VARCHAR, model_version VARCHAR, "
            "terms VARCHAR[] NOT NULL, sentiment DOUBLE NOT NULL, "
            "sentiment_label VARCHAR NOT NULL, scored_at TIMESTAMP NOT NULL, "
            "lang VARCHAR DEFAULT 'und', intents VARCHAR[] DEFAULT [], "
            "intent_scores VARCHAR DEFAULT '{}', term_sentiments DOUBLE[] DEFAULT [], "
            "term_relevance DOUBLE[] DEFAULT [], set_aside BOOLEAN DEFAULT false, "
            "PRIMARY KEY (mention_id, model_version))"
        )
        db.execute("INSERT INTO scores FROM scores_unkeyed")
        db.execute("DROP VIEW scored_mentions")
        db.execute("DROP TABLE mentions_unkeyed")
        db.execute("DROP TABLE scores_unkeyed")
        db.execute("DELETE FROM schema_migrations WHERE version = 24")
        assert len(big_table_indexes(db)) == 4
        store.migrate(db)
        assert big_table_indexes(db) == []
        assert db.execute("SELECT * FROM mentions ORDER BY id").fetchall() == mentions
        assert db.execute("SELECT * FROM scores ORDER BY mention_id").fetchall() == scores
        assert db.execute("SELECT * FROM scored_mentions ORDER BY id").fetchall() == readings
        assert store.upsert_mentions(db, batch, NOW) == 0
        store.upsert_scores(db, [score(m, -0.5) for m in batch], NOW)
        assert store.totals(db) == {"mentions": 50, "scored": 50}
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 50
    with store.connect(tmp_path / "t.duckdb") as db:  # and it opens again, as it was
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 50


def test_the_latest_score_wins_and_old_versions_are_kept(tmp_path):
    m = mention(1)
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, [m], NOW)
        store.upsert_scores(db, [score(m, 0.5, "v1")], NOW)
        store.upsert_scores(db, [score(m, -0.7, "v2")], NOW + timedelta(minutes=1))
        found = store.find_mentions(db, store.MentionFilter())
        assert found["sentiment"].tolist() == [-0.7]
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 2


def test_cross_posts_of_one_link_count_once(tmp_path):
    story = "https://news.example/nimbus-outage?utm_source=hn"
    posts = [
        Mention("hn", "1", "https://hn.example/1", "Nimbus outage", "Nimbus Notes down", None, NOW, 10, shared_url=story),
        Mention("reddit", "2", "https://reddit.example/2", "Nimbus outage", "Nimbus Notes down", None, NOW, 5, shared_url="https://www.news.example/nimbus-outage/"),
        Mention("blog", "3", "https://news.example/nimbus-outage", "Nimbus outage", "Nimbus Notes down", None, NOW),
        Mention("blog", "4", "https://news.example/other", "Other", "Nimbus Notes up", None, NOW),
    ]  # fmt: skip
    kinds = {"hn": "hackernews", "reddit": "reddit", "blog": "rss"}
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, posts, NOW, kinds)
        store.upsert_scores(db, [score(m, -0.5) for m in posts], NOW)
        assert store.summary(db, store.MentionFilter())["mentions"] == 2
        assert store.mentions_per_day(db, store.MentionFilter())["mentions"].sum() == 2
        found = store.find_mentions(db, store.MentionFilter()).set_index("source")
        assert found.loc["hn", "also_on"] == 2 and found.loc["hn", "kind"] == "hackernews"
        assert found.loc["hn", "reach"] == 10
        assert store.find_mentions(db, store.MentionFilter(kinds=("reddit",)))[
            "source"
        ].tolist() == ["reddit"]


def test_filters_combine(tmp_path):
    a = mention(1, "blog", "Nimbus Notes lost my data")
    b = mention(2, "forum", "Nimbus Notes is great, 100% recommended")
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, [a, b], NOW)
        store.upsert_scores(db, [score(a, -0.6), score(b, 0.8)], NOW)
        f = store.MentionFilter
        assert store.find_mentions(db, f(sources=("forum",)))["source"].tolist() == ["forum"]
        assert store.find_mentions(db, f(sentiments=("negative",)))["text"].tolist() == [a.text]
        assert store.find_mentions(db, f(text="100%"))["text"].tolist() == [b.text]
        assert store.find_mentions(db, f(text="LOST"))["text"].tolist() == [a.text]
        assert store.find_mentions(db, f(terms=("Quillpad",))).empty
        day = NOW.date()
        assert len(store.find_mentions(db, f(since=day, until=day))) == 2
        assert store.find_mentions(db, f(since=day + timedelta(days=1))).empty
        per_day = store.mentions_per_day(db, f())
        assert per_day["mentions"].sum() == 2 and per_day["negative"].sum() == 1


def test_source_state_round_trips(tmp_path):
    state = SourceState(
        "blog",
        etag='"x"',
        last_modified="Mon",
        last_attempt_at=NOW,
        last_error="boom",
        consecutive_failures=2,
        next_fetch_at=NOW,
    )
    with store.connect(tmp_path / "t.duckdb") as db:
        store.save_source_states(db, [state])
        store.save_source_states(db, [state])
        assert store.source_states(db) == {"blog": state}


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    db = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    db.close()
    """
)


def hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_file_held_by_another_process_fails_with_a_clear_message(tmp_path):
    path = tmp_path / "t.duckdb"
    with store.connect(path) as db:
        store.upsert_mentions(db, [mention(1)], NOW)
    holder = hold(path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as err:
            with store.connect(path, lock_timeout=1.0):
                pass
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert 1.0 <= waited < 5
    assert str(err.value).startswith(f"{path}: database is locked by another process")
    assert "gave up after 1s" in str(err.value)
    with store.connect(path) as db:  # nothing was lost
        assert store.totals(db)["mentions"] == 1


def test_a_briefly_held_file_is_waited_for(tmp_path):
    path = tmp_path / "t.duckdb"
    with store.connect(path):
        pass
    holder = hold(path, 1.0)
    try:
        with store.connect(path, lock_timeout=20) as db:
            assert store.upsert_mentions(db, [mention(1)], NOW) == 1
    finally:
        holder.wait()


def test_per_term_sentiment_drives_the_daily_mean(tmp_path):
    m = mention(1, text="Quillpad awful, Nimbus Notes great")
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, [m], NOW)
        store.upsert_scores(
            db,
            [
                Score(
                    m.id, "v", ("Nimbus Notes", "Quillpad"), 0.1, "positive", "en", {}, (0.8, -0.7)
                )
            ],
            NOW,
        )
        daily = store.mentions_per_day(db, store.MentionFilter()).set_index("term")
    assert (
        daily.loc["Nimbus Notes", "sentiment"] == 0.8 and daily.loc["Quillpad", "sentiment"] == -0.7
    )
