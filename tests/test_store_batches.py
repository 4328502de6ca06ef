"""A pass stores its mentions in batches, each one transaction closed by a checkpoint. What
is stored, and every reading of it, is the same however the pass is cut into batches; what a
batch costs is what it writes, not the rows earlier batches wrote (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from data import rollups, store
from data.records import Mention
from flows import pipeline
from tests.conftest import make_config
from tests.test_duplicates import ARTICLE, POST

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
# Posts of their own: no two alike.
OWN = [
    "lost my notes again and support never answered",
    "is the best app I paid for this year",
    "crashes whenever I open a shared notebook on my phone",
    "why does export to PDF cost extra",
    "sync took three hours after the update",
    "has a lovely dark theme, finally",
    "deleted a folder I never touched",
    "how do I move notebooks between accounts",
    "pricing doubled overnight, cancelling",
    "works offline on the train, great",
    "search cannot find words inside attachments",
    "team plan invoices arrive twice",
    "the web clipper saves ads instead of articles",
    "tags vanished after I renamed one",
    "handwriting recognition is surprisingly good",
    "my reminders fire an hour late",
    "is slower than PaperTrail app on old laptops",
    "customer service fixed my account in minutes",
    "keeps logging me out on Linux",
    "imports from Quillpad without losing a single image",
]
LINK = "https://nimbus.example/blog/outage"
# Every table a batch writes, each in an order of its own rows.
TABLES = {
    "mentions": "id",
    "scores": "mention_id, model_version",
    "readings": "mention_id",
    "story_bands": "band, mention_id",
    "inbox_queue": "mention_id",
    "inbox_counts": "ALL",
    "daily_terms": "ALL",
    "daily_sources": "ALL",
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Forty scored mentions: near copies of a post (one story across batches), an article,
    and posts of their own."""
    from nlp import build_scorer

    texts = [f"{POST} ({n})" for n in range(15)] + [f"{ARTICLE} ({n})" for n in range(5)]
    texts += [f"Nimbus Notes {what}." for what in OWN]
    # Three posts sharing a link, each in a batch of its own: one story. (Long enough to have
    # a fingerprint, and none like another.)
    shared = {21: LINK, 28: LINK, 35: LINK}
    for k, n in enumerate(shared):
        texts[n] = "Nimbus Notes " + ", and it ".join(OWN[6 * k : 6 * k + 6]) + "."
    mentions = [
        Mention("forum", str(n), f"https://forum.example/{n}", "", text, None, NOW,
                shared_url=shared.get(n))
        for n, text in enumerate(texts)
    ]  # fmt: skip
    return build_scorer(make_config(tmp_path_factory.mktemp("scorer"), []).watch).score(mentions)


def store_in_batches(tmp_path, scored, size: int):
    config = make_config(tmp_path, [])
    for i in range(0, len(scored), size):
        pipeline.store_pass(config, [], [], scored[i : i + size], {}, NOW, record=False)
    return config


def contents(config) -> dict[str, list]:
    with store.connect(config.db_path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in TABLES.items()
        }


def row_groups(config, table: str = "mentions") -> int:
    with store.connect(config.db_path) as db:
        (n,) = db.execute(
            f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('{table}')"
        ).fetchone()
    return n


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(store, "utcnow", lambda: NOW)


def test_a_pass_stores_and_reads_the_same_in_one_batch_or_in_many(
    tmp_path, scored, fixed_clock, monkeypatch
):
    monkeypatch.setattr(store, "MERGE_EVERY", 3)  # merged along the way
    whole = contents(store_in_batches(tmp_path / "one", scored, len(scored)))
    config = store_in_batches(tmp_path / "many", scored, 3)
    batched = contents(config)
    assert len(whole["mentions"]) == len(scored) and len(whole["readings"]) == len(scored)
    assert batched == whole
    # Each batch kept the readings and rollups of the stories it extended (the link shared
    # across batches, the near copies) as a rebuild from the records makes them.
    with store.connect(config.db_path) as db:
        assert db.execute(
            "SELECT count(DISTINCT story_key) FROM mentions WHERE shared_url IS NOT NULL"
        ).fetchone() == (1,)
        rollups.rebuild(db)
    assert contents(config) == batched


def test_a_batch_leaves_the_rows_of_earlier_batches_as_they_were_written(tmp_path, scored):
    """Each batch's checkpoint writes that batch's rows: the row groups of earlier batches
    are neither merged nor written again with them (which cost each batch the rows of every
    earlier one, up to a row group's worth)."""
    config = make_config(tmp_path, [])
    blocks = []
    for i in range(0, 12, 4):
        pipeline.store_pass(config, [], [], scored[i : i + 4], {}, NOW, record=False)
        with store.connect(config.db_path) as db:
            blocks.append(
                set(
                    db.execute(
                        "SELECT row_group_id, column_id, segment_id, block_id, block_offset "
                        "FROM pragma_storage_info('mentions') WHERE persistent"
                    ).fetchall()
                )
            )
    assert blocks[0] < blocks[1] < blocks[2]  # every segment stays where it was written
    assert row_groups(config) == 3


def test_row_groups_are_merged_at_every_few_writes(tmp_path, scored, monkeypatch):
    monkeypatch.setattr(store, "MERGE_EVERY", 3)
    config = make_config(tmp_path, [])
    seen = []
    for i in range(0, 24, 4):
        pipeline.store_pass(config, [], [], scored[i : i + 4], {}, NOW, record=False)
        seen.append(row_groups(config))
    # Each batch adds a row group of its own; each third one merges them (24 mentions: one).
    assert seen == [1, 2, 1, 2, 3, 1]


def test_a_batch_whose_commit_fails_writing_the_file_leaves_nothing_and_is_stored_again_once(
    tmp_path, scored, monkeypatch
):
    """A batch goes into the file as it commits: a failure there (the machine going down)
    leaves nothing of it, and the store as it was; storing it again stores it once."""
    config = store_in_batches(tmp_path, scored[:10], 10)
    before = contents(config)
    checkpoint_at_commit = store.checkpoint_at_commit
    found = []

    def failing_once(db):
        checkpoint_at_commit(db)
        found.append(db.execute("SELECT count(*) FROM mentions").fetchone()[0])
        if len(found) == 1:
            db.execute("SET debug_checkpoint_abort = 'before_header'")

    monkeypatch.setattr(store, "checkpoint_at_commit", failing_once)
    # The failed commit is run again (data.database.retry_conflicts), on the store as it was.
    report = pipeline.store_pass(config, [], [], scored[10:20], {}, NOW, record=False)
    assert found == [10, 10] and report.new_mentions == 10
    after = contents(config)
    assert len(after["mentions"]) == len(after["readings"]) == 20
    assert all(row in after[t] for t in ("mentions", "scores") for row in before[t])
    with store.connect(config.db_path) as db:
        rollups.rebuild(db)
    assert contents(config) == after
