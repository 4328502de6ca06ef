"""A pass streams: sources are collected a few at a time and their items scored and stored in
batches, so that its memory is a batch or two, not the whole pass; a crash between batches
keeps what was stored and the next pass stores the rest, each item once (issue 13)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from prefect.testing.utilities import prefect_test_harness
from werkzeug import Response

from data import store
from data.config import Source
from data.records import Fetched, Mention
from flows import pipeline
from flows.pipeline import Batch, Batcher, PassReport, pass_once, stream_pass
from tests.conftest import DEMO_FEEDS, make_config
from tests.test_duplicates import ARTICLE, POST

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def mention(source: str, n: int) -> Mention:
    return Mention(source, f"{source}-{n}", f"http://127.0.0.1/{source}/{n}", "t", "x", None, NOW)


def fetched(source: str, items: int, seen: int | None = None) -> Fetched:
    return Fetched(source, [mention(source, n) for n in range(items)], seen=seen)


def test_sources_items_are_cut_into_batches_and_a_source_completes_in_its_last():
    batcher = Batcher(4)
    assert batcher.add(fetched("a", 3, seen=10)) == []
    full = batcher.add(fetched("b", 6))  # 1 fills the first batch, 4 the second, 1 is left
    assert [len(b.mentions) for b in full] == [4, 4]
    assert [f.source for f in full[0].sources] == ["a"]
    assert [f.source for f in full[1].sources] == []  # b still has an item to come
    assert batcher.add(Fetched("c", error="boom")) == []  # no items: rides with the open one
    last = batcher.rest()
    assert [m.native_id for m in last.mentions] == ["b-5"]
    assert [f.source for f in last.sources] == ["b", "c"]
    # Each source keeps its figures; its items live in the batches only.
    a = full[0].sources[0]
    assert a.items_seen == 10 and a.mentions == []
    assert last.sources[0].items_seen == 6 and batcher.rest() is None


def test_a_source_that_exactly_fills_a_batch_completes_in_it():
    batcher = Batcher(3)
    (full,) = batcher.add(fetched("a", 3))
    assert len(full.mentions) == 3 and [f.source for f in full.sources] == ["a"]
    assert batcher.rest() is None


def test_batches_are_stored_while_sources_are_still_being_collected():
    """The first batch is processed before the last sources even start, and never more than
    `in_flight` sources are collected at once: the pass does not hold everything at once."""
    events: list[str] = []
    running = most = 0

    async def collect(source: Source) -> Fetched:
        nonlocal running, most
        running += 1
        most = max(most, running)
        events.append(f"start {source.id}")
        await asyncio.sleep(0.01)
        running -= 1
        return fetched(source.id, 2)

    def process(batch: Batch) -> PassReport:
        events.append(f"process {len(batch.mentions)}")
        return PassReport(
            sources_fetched=len(batch.sources),
            items_seen=sum(f.items_seen for f in batch.sources),
            new_mentions=len(batch.mentions),
        )

    sources = [Source(id=f"s{i}", url=f"http://127.0.0.1/{i}.xml") for i in range(10)]
    report = asyncio.run(stream_pass(sources, collect, process, batch_size=3, in_flight=2))
    assert most <= 2
    assert events.index("process 3") < events.index("start s9")
    assert report.sources_fetched == 10 and report.items_seen == 20 and report.new_mentions == 20
    assert sum(int(e.split()[1]) for e in events if e.startswith("process")) == 20


def test_a_failing_batch_stops_the_collection_and_raises():
    started: list[str] = []

    async def collect(source: Source) -> Fetched:
        started.append(source.id)
        await asyncio.sleep(0.01)
        return fetched(source.id, 2)

    def process(batch: Batch) -> PassReport:
        raise RuntimeError("disk full")

    sources = [Source(id=f"s{i}", url=f"http://127.0.0.1/{i}.xml") for i in range(20)]
    with pytest.raises(RuntimeError, match="disk full"):
        asyncio.run(stream_pass(sources, collect, process, batch_size=2, in_flight=2))
    assert len(started) < 20


@pytest.fixture(scope="module")
def prefect():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def serve_demo(httpserver, name: str) -> str:
    body = (DEMO_FEEDS / f"{name}.xml").read_bytes()

    def handler(request):
        if request.headers.get("If-None-Match") == '"1"':
            return Response(status=304)
        return Response(body, headers={"ETag": '"1"', "Content-Type": "application/rss+xml"})

    httpserver.expect_request(f"/{name}.xml").respond_with_handler(handler)
    return httpserver.url_for(f"/{name}.xml")


def stored(config) -> tuple[dict[str, int], set[str], dict]:
    with store.connect(config.db_path) as db:
        ids = {i for (i,) in db.execute("SELECT id FROM mentions").fetchall()}
        return store.totals(db), ids, store.source_states(db)


def test_a_crash_between_batches_keeps_what_was_stored_and_the_next_pass_stores_the_rest(
    httpserver, tmp_path, prefect, monkeypatch
):
    sources = [
        {"id": "reviews", "url": serve_demo(httpserver, "app-reviews")},
        {"id": "forum", "url": serve_demo(httpserver, "community-forum")},
    ]
    whole = make_config(tmp_path / "whole", sources)
    reference = asyncio.run(pass_once(whole))  # one batch: the whole pass at once
    config = make_config(tmp_path / "batched", sources, pipeline={"batch_size": 20})

    calls = []
    real_store = pipeline.store_task

    def store_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("the machine went down")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(pipeline, "store_task", store_then_crash)
    with pytest.raises(OSError, match="went down"):
        asyncio.run(pass_once(config))
    totals, ids, states = stored(config)
    assert 0 < totals["mentions"] < reference.new_mentions  # two batches stored, kept
    # No source's ETag was stored ahead of its items: each gets fetched in full again.
    assert all(s.etag is None for s in states.values())

    monkeypatch.setattr(pipeline, "store_task", real_store)
    again = asyncio.run(pass_once(config))
    assert again.already_stored == totals["mentions"]
    assert again.new_mentions == reference.new_mentions - totals["mentions"]
    final, final_ids, states = stored(config)
    reference_totals, reference_ids, _ = stored(whole)
    assert final == reference_totals and final_ids == reference_ids and ids <= final_ids
    assert {s: states[s].etag for s in states} == {"reviews": '"1"', "forum": '"1"'}
    with store.connect(config.db_path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # the finished pass


def test_a_pass_in_small_batches_stores_and_reports_what_one_batch_does(
    httpserver, tmp_path, prefect
):
    sources = [
        {"id": "reviews", "url": serve_demo(httpserver, "app-reviews")},
        {"id": "blog", "url": serve_demo(httpserver, "nimbus-blog")},
    ]
    whole = make_config(tmp_path / "one", sources)
    one = asyncio.run(pass_once(whole))
    config = make_config(tmp_path / "small", sources, pipeline={"batch_size": 25})
    small = asyncio.run(pass_once(config))
    assert small == one and one.new_mentions > 50  # several batches
    totals, ids, states = stored(config)
    whole_totals, whole_ids, whole_states = stored(whole)
    assert totals == whole_totals and ids == whole_ids
    assert {k: s.items_last_fetch for k, s in states.items()} == {
        k: s.items_last_fetch for k, s in whole_states.items()
    }
    with store.connect(config.db_path) as db:
        (run,) = db.execute("SELECT sources_fetched, items_seen, new_mentions FROM runs").fetchall()
    assert run == (2, one.items_seen, one.new_mentions)


def most_held(per_source: int, batch_size: int, in_flight: int, pause: float) -> int:
    """The most items a pass over 60 sources of `per_source` items held at once, its sources
    collected faster than its batches are scored (10 ms each)."""
    held = most = 0

    async def collect(source: Source) -> Fetched:
        nonlocal held, most
        await asyncio.sleep(pause)
        held += per_source
        most = max(most, held)
        return fetched(source.id, per_source)

    def process(batch: Batch) -> PassReport:
        nonlocal held
        time.sleep(0.01)  # scoring is the slow side here
        held -= len(batch.mentions)
        return PassReport(new_mentions=len(batch.mentions))

    sources = [Source(id=f"s{i}", url=f"http://127.0.0.1/{i}.xml") for i in range(60)]
    report = asyncio.run(stream_pass(sources, collect, process, batch_size, in_flight=in_flight))
    assert report.new_mentions == 60 * per_source
    return most


def test_items_waiting_to_be_scored_stay_under_a_batch_and_the_sources_in_flight():
    """However fast sources arrive and however slowly batches are scored, the pass holds at
    most the batch being scored, less than a batch waiting, and the sources in flight."""
    most = most_held(per_source=5, batch_size=10, in_flight=3, pause=0)
    # The batch being processed (10), under a batch waiting (< 10) and 3 sources of 5.
    assert most <= 10 + 9 + 3 * 5


def test_large_sources_in_flight_are_counted_so_a_pass_holds_about_two_batches():
    """Sources of many items each (a big feed) are not started 16 at once: each source in
    flight counts as the mean of those collected, so what a pass holds stays near a batch
    being scored and one more, whatever the size of its sources."""
    most = most_held(per_source=40, batch_size=100, in_flight=16, pause=0.001)
    # The batch being processed (100), under a batch waiting and what completes it (< 140),
    # not 16 sources of 40 more (the first sources start before any mean is known).
    assert most <= 100 + 140 + 40 < 16 * 40


def test_a_near_copy_in_a_later_batch_joins_the_story_of_the_first(tmp_path):
    """Near-duplicates are found across the batches of a pass: the story heads of earlier
    batches are in the store, where each batch looks for them."""
    config = make_config(tmp_path, [], pipeline={"batch_size": 1})
    when = NOW - timedelta(hours=3)
    items = {
        "technews": Mention("technews", "1", "https://technews.example/a", "Post-mortem",
                            ARTICLE, None, when),
        "forum": Mention("forum", "2", "https://forum.example/2", "", POST, "bo", when),
        "startup": Mention("startup", "9", "https://startup.example/x", "Nimbus explains",
                           "Reported by staff. " + ARTICLE, None, when),
    }  # fmt: skip
    sources = [Source(id=s, url=f"http://127.0.0.1/{s}.xml") for s in items]

    async def collect(source: Source) -> Fetched:
        return Fetched(source.id, [items[source.id]])

    def process(batch: Batch) -> PassReport:
        return pipeline.process_batch(
            config, batch, sources, {}, NOW, Counter(), logging.getLogger("test")
        )

    report = asyncio.run(stream_pass(sources, collect, process, batch_size=1, in_flight=1))
    assert report.new_mentions == 3
    with store.connect(config.db_path) as db:
        keys = dict(db.execute("SELECT source, story_key FROM mentions").fetchall())
    assert keys["startup"] == keys["technews"] != keys["forum"]


def test_a_batch_writes_within_the_writers_share_of_memory_or_again_without_it(
    tmp_path, monkeypatch, caplog
):
    """A batch's writes may use WRITER_MEMORY_MB, however big the store (so what DuckDB keeps
    of a batch does not grow with the store); one that needs more is written again without
    the limit, never lost."""
    from nlp import build_scorer

    config = make_config(tmp_path, [])
    scored = build_scorer(config.watch).score(
        [Mention("forum", str(n), f"https://forum.example/{n}", "", f"{POST} ({n})", None, NOW)
         for n in range(20)]
    )  # fmt: skip
    pipeline.store_pass(config, [], [], scored[:10], {}, NOW)
    with store.connect(config.db_path) as db:
        # A store of 100,000 mentions and scores more (their tables have no index to hold).
        db.execute(
            "INSERT INTO mentions (id, source, native_id, url, title, text, published, "
            "collected_at) SELECT 'm' || i, 'forum', i::VARCHAR, 'https://forum.example/' || i, "
            "'', repeat('x', 200), now(), now() FROM range(100000) t(i)"
        )
        db.execute(
            "INSERT INTO scores (mention_id, model_version, terms, sentiment, sentiment_label, "
            "scored_at) SELECT 'm' || i, 'v', ['Nimbus Notes'], 0, 'neutral', now() "
            "FROM range(100000) t(i)"
        )
        pipeline.limit_writer(db, memory=True)
        limit = db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit == f"{pipeline.WRITER_MEMORY_MB:.1f} MiB"
    monkeypatch.setattr(pipeline, "WRITER_MEMORY_MB", 1)  # far too little for any batch
    with caplog.at_level(logging.INFO, logger=pipeline.__name__):
        report = pipeline.store_pass(config, [], [], scored[10:], {}, NOW)
    assert report.new_mentions == 10 and "more memory" in caplog.text
    with store.connect(config.db_path) as db:
        assert db.execute("SELECT count(*) FROM readings").fetchone()[0] == 20


def test_a_source_whose_collection_raises_is_recorded_failed_and_the_pass_goes_on():
    """Whatever raises while a source is collected (here: after its fetch, as its items are
    prepared), the pass neither waits for it forever nor loses the other sources."""

    async def collect(source: Source) -> Fetched:
        await asyncio.sleep(0.01)
        if source.id == "s1":
            raise TypeError("expected string or bytes-like object, got 'dict'")
        return fetched(source.id, 2)

    processed: list[Fetched] = []

    def process(batch: Batch) -> PassReport:
        processed.extend(batch.sources)
        return PassReport(
            sources_fetched=len(batch.sources),
            sources_failed=sum(bool(f.error) for f in batch.sources),
            new_mentions=len(batch.mentions),
            errors={f.source: f.error for f in batch.sources if f.error},
        )

    sources = [Source(id=f"s{i}", url=f"http://127.0.0.1/{i}.xml") for i in range(3)]
    # A generous bound only so that the failure this test guards against cannot hang it.
    report = asyncio.run(
        asyncio.wait_for(stream_pass(sources, collect, process, batch_size=3, in_flight=2), 120)
    )
    assert report.sources_fetched == 3 and report.new_mentions == 4
    assert report.errors == {
        "s1": "unexpected error: TypeError: expected string or bytes-like object, got 'dict'"
    }
