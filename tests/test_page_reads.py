"""Reads the pages make on every visit, narrowed to what they show (issue 13: a page on a store
of 1 M mentions should cost about what it costs on one of 1 k): the same answers as before."""

from datetime import UTC, datetime, timedelta

from data import corrections, store
from data.records import Mention, Score, SourceState

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def mention(i: int, source: str = "blog") -> Mention:
    return Mention(
        source, f"n{i}", f"https://x.example/{i}", f"t{i}", "Nimbus", None, NOW - timedelta(days=i)
    )


def test_a_mentions_confidences_read_by_its_date_are_those_read_by_its_key(tmp_path):
    ms = [mention(i) for i in range(30)]
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, ms, NOW)
        store.upsert_scores(
            db,
            [
                Score(m.id, "v1", ("Nimbus Notes",), -0.5, "negative",
                      intents={"complaint": i / 30, "question": 0.25})
                for i, m in enumerate(ms)
            ],
            NOW,
        )  # fmt: skip
        for i, m in enumerate(ms):
            published = m.published.replace(tzinfo=None)
            by_date = corrections.confidences(db, m.id, published)
            assert by_date == corrections.confidences(db, m.id)
            assert by_date["complaint"] == i / 30 and by_date["question"] == 0.25
        # Another date: not its reading (the date narrows the read, it is not ignored).
        assert corrections.confidences(db, ms[3].id, published + timedelta(seconds=1)) == {}


def test_source_states_without_counts_are_the_states_with_them(tmp_path):
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, [mention(1), mention(2), mention(3, "forum")], NOW)
        store.save_source_states(db, [
            SourceState("blog", last_attempt_at=NOW, last_success_at=NOW),
            SourceState("forum", last_attempt_at=NOW, last_error="HTTP 404", consecutive_failures=3),
        ])  # fmt: skip
        counted = store.source_health(db)
        states = store.source_health(db, counts=False)
    assert counted.set_index("source")["mentions"].to_dict() == {"blog": 2, "forum": 1}
    assert "mentions" not in states and "dates_unknown" not in states
    assert states.equals(counted[list(states.columns)])
    assert states.set_index("source")["health"].to_dict() == {"blog": "ok", "forum": "failing"}
