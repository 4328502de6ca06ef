"""Current readings and daily rollups: kept on write, equal to a rebuild, and what the
dashboard's counts, pages and inbox read."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from data import corrections, inbox, rollups, store
from data.records import Mention, Score

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAY = NOW.date()
KINDS = {"blog": "rss", "hn": "hackernews", "reddit": "reddit", "forum": "rss"}
TERMS = ("Nimbus Notes", "Quillpad", "Nimbus Sync")
DERIVED = {
    "readings": "mention_id",
    "daily_terms": "day, term, kind, feeling, intents::VARCHAR, earlier_kinds::VARCHAR",
    "daily_sources": "day, source, kind, feeling, earlier_kinds::VARCHAR",
    "inbox_queue": "mention_id",
    "inbox_counts": "status, assignee",
}


def post(source: str, n: int, hours_ago: float, story: str | None = None) -> Mention:
    return Mention(
        source,
        f"{source}-{n}",
        f"https://{source}.example/{n}",
        f"title {n}",
        f"text {n} about Nimbus Notes",
        None,
        NOW - timedelta(hours=hours_ago),
        n,
        shared_url=story,
    )


def reading(m: Mention, label: str = "neutral", terms=("Nimbus Notes",), intents=(), v="v1"):
    value = {"negative": -0.6, "neutral": 0.0, "positive": 0.6, "unscored": 0.0}[label]
    return Score(
        m.id, v, tuple(terms), value, label, "en", {i: 0.9 for i in intents},
        tuple(value / 2 for _ in terms), present=tuple(intents),
    )  # fmt: skip


def snapshot(db) -> dict[str, list]:
    return {
        table: db.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        for table, order in DERIVED.items()
    }


def write(db, scored, when=NOW):
    store.upsert_mentions(db, [m for m, _ in scored], when, KINDS)
    store.upsert_scores(db, [s for _, s in scored], when)


def test_counts_kept_on_write_equal_a_rebuild_from_the_records(tmp_path):
    rng = random.Random(7)
    stories = [f"https://news.example/{i}" for i in range(12)]
    made: list[Mention] = []
    with store.connect(tmp_path / "t.duckdb") as db:
        # Small passes over two months: a pass touches a few days, and a story told again
        # (earlier or later than before) moves counts on days the pass did not write to.
        for n in range(40):
            db.begin()
            batch = [
                post(rng.choice(list(KINDS)), 100 * n + i, rng.uniform(0, 24 * 60),
                     rng.choice([*stories, None]))
                for i in range(3)
            ]  # fmt: skip
            again = rng.sample(made, min(1, len(made)))
            write(
                db,
                [(m, reading(m, rng.choice(["negative", "neutral", "positive", "unscored"]),
                             rng.sample(TERMS, rng.randint(1, 2)),
                             rng.sample(["complaint", "question", "compliment"], rng.randint(0, 2)),
                             v=f"v{n}"))
                 for m in batch + again],
                NOW + timedelta(minutes=n),
            )  # fmt: skip
            made += batch
            db.commit()
        for m in rng.sample(made, 12):
            corrections.correct(
                db, m.id, "ana", NOW, sentiment=rng.choice(["negative", "positive"])
            )
        for m in rng.sample(made, 6):
            corrections.correct(db, m.id, "ana", NOW, intents=["question"])
        gone = rng.sample(made, 5)
        for m in gone:
            corrections.correct(db, m.id, "ana", NOW, not_about=True)
        corrections.undo(db, made[0].id, "sentiment", "ana", NOW)
        kept = snapshot(db)
        assert len(kept["readings"]) == len(made) - len({m.id for m in gone})
        rollups.rebuild(db)
        assert snapshot(db) == kept


def test_a_story_counts_once_on_the_day_of_its_first_mention(tmp_path):
    story = "https://news.example/outage"
    first = post("blog", 1, 30, story)  # yesterday, on a blog
    cross = post("hn", 2, 2, story)  # today, on Hacker News
    other = post("forum", 3, 1)
    f = store.MentionFilter
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(first, reading(first, "negative")), (cross, reading(cross, "positive")),
                   (other, reading(other, "positive"))])  # fmt: skip
        yesterday = DAY - timedelta(days=1)
        assert store.summary(db, f(since=yesterday, until=DAY)) == {
            "mentions": 2, "negative": 1, "positive": 1
        }  # fmt: skip
        assert store.summary(db, f(since=DAY, until=DAY))["mentions"] == 1
        daily = store.mentions_per_day(db, f()).set_index("day")["mentions"]
        assert daily.to_dict() == {
            datetime.combine(yesterday, datetime.min.time()): 1,
            datetime.combine(DAY, datetime.min.time()): 1,
        }
        # Of one kind: the story's first mention of that kind.
        assert store.summary(db, f(since=DAY, until=DAY, kinds=("hackernews",)))["mentions"] == 1
        assert store.mentions_per_day(db, f(kinds=("hackernews",)))["positive"].sum() == 1
        # Every post still counts for its source, and in the list.
        top = store.top_sources(db, f()).set_index("source")["mentions"].to_dict()
        assert top == {"blog": 1, "hn": 1, "forum": 1}
        assert store.count_mentions(db, f()) == 3


def test_a_story_on_several_kinds_asked_for_counts_once_from_the_rollups(tmp_path):
    story = "https://news.example/outage"
    first = post("blog", 1, 30, story)  # yesterday, on a blog (rss)
    cross = post("hn", 2, 2, story)  # today, on Hacker News
    again = post("reddit", 3, 1, story)  # today, on Reddit
    alone = post("reddit", 4, 1)
    scored = [(first, reading(first, "negative")), (cross, reading(cross, "positive")),
              (again, reading(again, "positive")), (alone, reading(alone, "negative"))]  # fmt: skip
    f = store.MentionFilter(since=DAY, until=DAY)
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, scored)
        # Today the story is new on Hacker News and on Reddit, but among both it began on
        # Hacker News: one story, not two; among a blog and Reddit it began yesterday.
        both = replace(f, kinds=("hackernews", "reddit"))
        assert store.summary(db, both) == {"mentions": 2, "negative": 1, "positive": 1}
        assert store.summary(db, replace(f, kinds=("rss", "reddit")))["mentions"] == 1
        per_day = store.mentions_per_day(db, both)
        # Read from the rollups, not from the readings: the overview of any kinds stays a read
        # of a few rows per day, however many mentions there are.
        db.execute("DELETE FROM readings")
        assert store.summary(db, both) == {"mentions": 2, "negative": 1, "positive": 1}
        assert store.mentions_per_day(db, both).equals(per_day)
        assert per_day["mentions"].sum() == 2


def test_a_correction_moves_the_counts_at_once(tmp_path):
    m = post("blog", 1, 1)
    f = store.MentionFilter(since=DAY, until=DAY)
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(m, reading(m, "negative", intents=("complaint",)))])
        assert store.summary(db, f)["negative"] == 1
        assert inbox.queue(db)["likely_complaint"].tolist() == [True]
        corrections.correct(db, m.id, "ana", NOW, sentiment="positive", intents=[])
        assert store.summary(db, f) == {"mentions": 1, "negative": 0, "positive": 1}
        assert inbox.queue(db)["likely_complaint"].tolist() == [False]
        assert store.find_mentions(db, f)["sentiment"].tolist() == [0.5]
        corrections.correct(db, m.id, "ana", NOW, not_about=True)
        assert store.summary(db, f)["mentions"] == 0
        assert store.find_mentions(db, f).empty and inbox.queue_size(db) == 0
        assert store.mentions_per_day(db, f).empty and store.top_sources(db, f).empty
        corrections.undo(db, m.id, "relevance", "ana", NOW)
        assert store.summary(db, f) == {"mentions": 1, "negative": 0, "positive": 1}


@pytest.mark.parametrize(
    "kinds",
    [(), ("rss",), ("hackernews",), ("rss", "reddit"), ("hackernews", "rss"),
     ("hackernews", "reddit", "rss")],
)  # fmt: skip
def test_the_rollups_answer_as_the_readings_do(tmp_path, monkeypatch, kinds):
    rng = random.Random(3)
    stories = [f"https://news.example/{i}" for i in range(10)]
    scored = []
    for i in range(120):
        m = post(rng.choice(list(KINDS)), i, rng.uniform(0, 24 * 10), rng.choice([*stories, None]))
        label = rng.choice(["negative", "neutral", "positive", "unscored"])
        scored.append((m, reading(m, label, rng.sample(TERMS, rng.randint(1, 3)))))
    f = store.MentionFilter(since=DAY - timedelta(days=6), until=DAY, kinds=kinds)
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, scored)
        answers = [store.summary(db, f), store.mentions_per_day(db, f), store.top_sources(db, f)]
        monkeypatch.setattr(store, "_from_rollups", lambda f: False)
        per_day = store.mentions_per_day(db, f)
        assert store.summary(db, f) == answers[0] and answers[0]["mentions"] > 0
        assert per_day[["day", "term", "mentions", "negative", "positive", "unscored"]].equals(
            answers[1][["day", "term", "mentions", "negative", "positive", "unscored"]]
        )
        assert per_day["sentiment"].round(9).tolist() == answers[1]["sentiment"].round(9).tolist()
        # top_sources reads the rollup unless terms or text narrow it: compare with a term
        # filter that keeps everything.
        every = store.top_sources(db, store.MentionFilter(
            since=f.since, until=f.until, kinds=kinds, terms=TERMS))  # fmt: skip
        assert every[["source", "mentions"]].equals(answers[2][["source", "mentions"]])


def test_the_mention_list_is_read_a_page_at_a_time(tmp_path):
    ms = [post("blog", i, i / 10) for i in range(250)]
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(m, reading(m)) for m in ms])
        f = store.MentionFilter(limit=100)
        pages = [store.find_mentions(db, store.MentionFilter(limit=100, offset=o))["id"].tolist()
                 for o in (0, 100, 200)]  # fmt: skip
        assert store.count_mentions(db, f) == 250
        assert [len(p) for p in pages] == [100, 100, 50]
        assert sum(pages, []) == [m.id for m in ms]  # newest first, each once
        assert store.count_mentions(db, store.MentionFilter(text="TEXT 12")) == 11  # 12, 120…


def test_pages_of_mentions_published_at_the_same_time_hold_each_once(tmp_path):
    # Seven at each time: a page's last row shares its time with the next page's first.
    ms = [replace(post("blog", i, 0), published=NOW - timedelta(hours=i // 7)) for i in range(60)]
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(m, reading(m)) for m in ms])
        pages = [store.find_mentions(db, store.MentionFilter(limit=10, offset=o))["id"].tolist()
                 for o in range(0, 70, 10)]  # fmt: skip
    order = sorted(ms, key=lambda m: (-m.published.timestamp(), m.id))
    assert sum(pages, []) == [m.id for m in order]


def test_the_inbox_is_a_top_n_of_the_open_queue(tmp_path):
    loud = [post("forum", i, i, None) for i in range(150)]
    with store.connect(tmp_path / "t.duckdb") as db:
        scored = [(m, reading(m, "negative" if m.reach % 3 == 0 else "positive")) for m in loud]
        write(db, scored)
        first = inbox.queue(db, limit=10)
        assert first["likely_complaint"].all()
        assert first["reach"].tolist() == sorted((m.reach for m in loud if m.reach % 3 == 0),
                                                 reverse=True)[:10]  # fmt: skip
        inbox.update(db, first["id"].tolist(), "ana", NOW, status="done")
        assert inbox.queue_size(db) == 140
        assert inbox.queue_size(db, ("done",)) == 10
        rest = inbox.queue(db, limit=100, offset=100)
        assert len(rest) == 40 and not set(rest["id"]) & set(first["id"])


def test_an_existing_store_gets_its_readings_when_migrated(tmp_path):
    ms = [post("blog", 1, 5, "https://news.example/a"), post("hn", 2, 1, "https://news.example/a")]
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(m, reading(m, "negative")) for m in ms])
        corrections.correct(db, ms[1].id, "ana", NOW, sentiment="positive")
        kept = snapshot(db)
        # The store as it was before migration 014: no derived tables, the old view (nor the
        # inbox's queue of migration 020, the story heads' bands of 021, the columns of 022,
        # nor the readings' kept words of 023).
        db.execute("DROP VIEW scored_mentions")
        for table in [*DERIVED, "inbox_queue_order", "story_bands"]:
            db.execute(f"DROP TABLE {table}")
        db.execute("DELETE FROM schema_migrations WHERE version IN (14, 20, 21, 22, 23)")
        store.migrate(db)
        assert snapshot(db) == kept and len(kept["readings"]) == 2
        assert db.execute("SELECT count(*) FROM scored_mentions").fetchone()[0] == 2


# The tables as migration 020 left them, before 022 recreated them with their new columns.
BEFORE_022 = """
DROP TABLE inbox_queue;
CREATE TABLE inbox_queue (
    place BIGINT NOT NULL, mention_id VARCHAR NOT NULL, published TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, assignee VARCHAR, reach BIGINT, source VARCHAR NOT NULL,
    kind VARCHAR, terms VARCHAR[] NOT NULL, sentiment DOUBLE NOT NULL,
    sentiment_label VARCHAR NOT NULL, intents VARCHAR[] NOT NULL);
ALTER TABLE daily_terms DROP COLUMN earlier_kinds;
ALTER TABLE daily_sources DROP COLUMN earlier_kinds;
DELETE FROM schema_migrations WHERE version = 22;
"""


def test_a_store_of_migration_020_gets_its_inbox_rows_and_kind_sets_when_migrated(tmp_path):
    story = "https://news.example/a"
    ms = [post("blog", 1, 5, story), post("hn", 2, 1, story), post("reddit", 3, 3, story)]
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(m, reading(m, "negative", intents=("complaint",))) for m in ms])
        inbox.update(db, [ms[0].id], "ana", NOW, assignee="sam@example.com")
        kept = snapshot(db)
        db.execute(
            "CREATE TEMP TABLE queued AS "
            "SELECT * EXCLUDE (title, author, url, published_known) FROM inbox_queue"
        )
        db.execute(BEFORE_022)
        db.execute("INSERT INTO inbox_queue FROM queued")  # as migration 020 kept it
        store.migrate(db)
        assert snapshot(db) == kept
        assert db.execute("SELECT count(*) FROM daily_sources WHERE earlier_kinds <> []").fetchone()
        queued = inbox.queue(db)
    assert queued["title"].tolist() == ["title 3", "title 2", "title 1"]  # by reach
    assert queued["url"].tolist()[0] == "https://reddit.example/3"


def test_lists_say_date_unknown_where_the_source_gave_no_readable_date(tmp_path):
    from dashboard.reads import published_text

    dated, undated = post("blog", 1, 2), replace(post("blog", 2, 1), published_known=False)
    with store.connect(tmp_path / "t.duckdb") as db:
        write(db, [(dated, reading(dated)), (undated, reading(undated))])
        listed = store.find_mentions(db, store.MentionFilter())
        queued = inbox.queue(db)
        opened = inbox.mention(db, undated.id)
    for rows in (listed, queued):
        shown = dict(zip(rows["id"], published_text(rows), strict=True))
        assert shown[undated.id] == "date unknown"
        assert shown[dated.id] == f"{dated.published:%Y-%m-%d %H:%M}"
    assert not opened["published_known"]
