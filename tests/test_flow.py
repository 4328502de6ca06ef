"""The pass end to end under Prefect's test harness, against feeds served from 127.0.0.1."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from prefect.testing.utilities import prefect_test_harness
from werkzeug import Response

from data import store
from data.config import Source
from data.records import Fetched, SourceState
from flows.pipeline import pass_once
from flows.sources import due_sources, next_state
from tests.conftest import DEMO_FEEDS, make_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
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


def run(config, force=False):
    return asyncio.run(pass_once(config, force))


def test_pass_stores_mentions_and_a_second_pass_adds_nothing(httpserver, tmp_path, caplog):
    sources = [
        {"id": "reviews", "url": serve_demo(httpserver, "app-reviews")},
        {"id": "forum", "url": serve_demo(httpserver, "community-forum")},
    ]
    config = make_config(tmp_path, sources)
    with caplog.at_level(logging.INFO):
        first = run(config)
    assert first.sources_fetched == 2 and first.sources_failed == 0
    assert 0 < first.matched < first.items_seen  # some items are about nothing we watch
    assert first.new_mentions == first.matched
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    with store.connect(config.db_path) as db:
        stored = store.totals(db)
        states = store.source_states(db)
    assert stored == {"mentions": first.new_mentions, "scored": first.new_mentions}
    assert states["reviews"].etag == '"1"' and states["reviews"].last_error is None

    assert run(config).sources_fetched == 0  # nothing is due yet
    again = run(config, force=True)
    assert again.not_modified == 2 and again.new_mentions == 0
    with store.connect(config.db_path) as db:
        assert store.totals(db) == stored
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 2  # idle pass: no row


def test_failing_sources_are_recorded_and_the_pass_goes_on(httpserver, tmp_path):
    httpserver.expect_request("/down.xml").respond_with_data("busy", status=503)
    httpserver.expect_request("/junk.xml").respond_with_data("<html>not a feed</html>")
    sources = [
        {"id": "good", "url": serve_demo(httpserver, "nimbus-blog")},
        {"id": "down", "url": httpserver.url_for("/down.xml")},
        {"id": "junk", "url": httpserver.url_for("/junk.xml")},
        {"id": "nowhere", "url": "http://127.0.0.1:9/feed.xml"},
    ]
    config = make_config(tmp_path, sources, http={"timeout_seconds": 2, "max_attempts": 2})
    report = run(config)
    assert report.sources_failed == 3 and report.new_mentions > 0
    assert set(report.errors) == {"down", "junk", "nowhere"}
    with store.connect(config.db_path) as db:
        states = store.source_states(db)
        health = store.source_health(db).set_index("source")
    assert "HTTP 503" in states["down"].last_error and states["down"].consecutive_failures == 1
    assert "not" in states["junk"].last_error and "feed" in states["junk"].last_error
    assert "connection failed" in states["nowhere"].last_error
    assert health.loc["good", "health"] == "ok" and health.loc["down", "health"] == "error"


def test_a_retried_fetch_is_in_the_runs_logs_in_prefect(httpserver, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    # 503 once, then the feed: the pass succeeds after one retry.
    httpserver.expect_ordered_request("/flaky.xml").respond_with_data("busy", status=503)
    httpserver.expect_request("/flaky.xml").respond_with_data(
        (DEMO_FEEDS / "nimbus-blog.xml").read_bytes(), content_type="application/rss+xml"
    )
    sources = [{"id": "flaky", "url": httpserver.url_for("/flaky.xml")}]
    config = make_config(tmp_path, sources)
    # Another test's `tidings demo` may have turned logs to the API off in this process.
    with temporary_settings(updates={PREFECT_LOGGING_TO_API_ENABLED: True}):
        state = asyncio.run(pass_once(config, True, return_state=True))
    assert state.is_completed() and state.result().new_mentions > 0
    APILogHandler().flush()  # the logs still queued reach the server

    async def messages() -> list[str]:
        async with get_client() as client:
            only = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            return [log.message for log in await client.read_logs(log_filter=only)]

    retried = [m for m in asyncio.run(messages()) if "/flaky.xml: HTTP 503" in m]
    assert len(retried) == 1 and "attempt 1 of 3" in retried[0]  # one line per retry


def test_a_503_then_200_is_a_task_retry_in_prefects_state_history(httpserver, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from tests.conftest import task_run_history

    httpserver.expect_ordered_request("/flaky.xml").respond_with_data("busy", status=503)
    httpserver.expect_request("/flaky.xml").respond_with_data(
        (DEMO_FEEDS / "nimbus-blog.xml").read_bytes(), content_type="application/rss+xml"
    )
    config = make_config(tmp_path, [{"id": "flaky", "url": httpserver.url_for("/flaky.xml")}])
    state = asyncio.run(pass_once(config, True, return_state=True))
    assert state.is_completed() and state.result().sources_failed == 0
    assert len(httpserver.log) == 2

    async def collect_history() -> list[str]:
        only = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        async with get_client() as client:
            for _ in range(600):  # the server learns of task runs from events, a moment later
                runs = await client.read_task_runs(flow_run_filter=only)
                if collect := [r for r in runs if r.name == "collect-flaky"]:
                    return await task_run_history(collect[0].id)
                await asyncio.sleep(0.2)
        raise AssertionError("no task run collect-flaky")

    history = asyncio.run(collect_history())
    assert history[-1] == "Completed"
    assert history.index("AwaitingRetry") < history.index("Retrying") < len(history) - 1


def test_a_write_that_finds_the_store_locked_is_retried_by_prefect(tmp_path):
    import contextvars
    import subprocess
    import sys
    import threading
    import time

    from prefect import flow
    from prefect.client.orchestration import get_client

    from flows.pipeline import store_task

    db_path = tmp_path / "tidings.duckdb"
    config = make_config(tmp_path, [], database={"path": str(db_path), "lock_timeout_seconds": 0.5})
    with store.connect(db_path):
        pass  # created and migrated
    holder = subprocess.Popen(  # another process holds the database, as a long read would
        [sys.executable, "-c", "import duckdb, sys\n"
         f"db = duckdb.connect({str(db_path)!r}); print('held', flush=True)\n"
         "sys.stdin.readline(); db.close()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"

    @flow
    def write_a_pass():
        return store_task(config, [], [], [], {}, store.utcnow())

    outcome = {}
    context = contextvars.copy_context()  # the harness's Prefect settings, in the thread too
    thread = threading.Thread(
        target=context.run, args=(lambda: outcome.update(state=write_a_pass(return_state=True)),)
    )
    thread.start()
    try:
        deadline = time.monotonic() + 300
        with get_client(sync_client=True) as client:
            while not any(
                r.name.startswith("store-pass") and r.state_name == "AwaitingRetry"
                for r in client.read_task_runs()
            ):
                assert time.monotonic() < deadline and thread.is_alive(), "never retried"
                time.sleep(0.5)
    finally:
        holder.communicate("\n", timeout=60)  # the other process lets go
    thread.join(timeout=300)
    assert outcome["state"].is_completed()
    with store.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


# --- pure decisions -----------------------------------------------------------------------

SRC = Source(id="s", url="https://x.example/feed", interval_minutes=60)


def test_due_sources_respects_next_fetch_and_enabled():
    off = Source(id="off", url="https://x.example/f", enabled=False)
    later = {"s": SourceState("s", next_fetch_at=NOW + timedelta(minutes=5))}
    assert due_sources([SRC, off], {}, NOW) == [SRC]
    assert due_sources([SRC], later, NOW) == []
    assert due_sources([SRC], later, NOW, force=True) == [SRC]
    assert due_sources([SRC], later, NOW + timedelta(minutes=5)) == [SRC]


def test_failures_back_off_exponentially_and_honour_retry_after():
    state = None
    waits = []
    for _ in range(4):
        state = next_state(SRC, state, Fetched("s", error="boom"), NOW)
        waits.append(state.next_fetch_at - NOW)
    assert waits == [timedelta(hours=h) for h in (1, 2, 4, 8)]
    assert state.consecutive_failures == 4 and state.last_error == "boom"
    slow = next_state(SRC, None, Fetched("s", error="429", retry_after=7200), NOW)
    assert slow.next_fetch_at == NOW + timedelta(hours=2)
    # However long a source asks (a typo, an HTTP date in the year 9999), a week at most:
    # the next fetch stays a date, and the pass that read it goes on.
    for asked in (10.0**20, float("inf"), 8 * 86400.0):
        wait = next_state(SRC, None, Fetched("s", error="429", retry_after=asked), NOW)
        assert wait.next_fetch_at == NOW + timedelta(days=7)
    healed = next_state(SRC, state, Fetched("s", etag='"e"'), NOW)
    assert healed.consecutive_failures == 0 and healed.last_error is None
    assert healed.next_fetch_at == NOW + timedelta(hours=1) and healed.etag == '"e"'


def test_a_source_failing_for_months_backs_off_a_day_at_most():
    """Its back-off doubled without end once: after 35 failures in a row (a month of a feed
    that is gone) it overflowed, and the write of every pass failed with it."""
    for failures in (34, 35, 40, 10_000):
        before = SourceState("s", consecutive_failures=failures)
        state = next_state(SRC, before, Fetched("s", error="HTTP 404"), NOW)
        assert state.next_fetch_at == NOW + timedelta(hours=24)
        assert state.consecutive_failures == failures + 1


def test_a_failure_keeps_the_caching_headers():
    ok = next_state(SRC, None, Fetched("s", etag='"e"', last_modified="Mon"), NOW)
    failed = next_state(SRC, ok, Fetched("s", error="boom"), NOW)
    assert failed.etag == '"e"' and failed.last_modified == "Mon" and failed.last_success_at == NOW


def test_search_sources_store_their_kind_and_resume_from_their_cursor(httpserver, tmp_path):
    from tests.conftest import recorded

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(
        lambda r: Response(recorded(f"hackernews/page{r.args.get('page', '0')}.json"))
    )
    source = {
        "id": "hn",
        "kind": "hackernews",
        "base_url": httpserver.url_for("/api/v1"),
        "requests_per_minute": 6000,
    }
    config = make_config(tmp_path, [source])
    first = run(config)
    assert first.new_mentions == 3 and first.sources_failed == 0
    with store.connect(config.db_path) as db:
        found = store.find_mentions(db, store.MentionFilter(kinds=("hackernews",)))
        state = store.source_states(db)["hn"]
    assert len(found) == 3 and state.skipped_last_fetch == 4  # the bad hit, once per query
    assert set(state.cursors) == {"Nimbus Notes", "NimbusNotes", "Nimbus Sync", "Quillpad"}
    httpserver.clear_log()
    again = run(config, force=True)
    assert again.new_mentions == 0
    cursor = state.cursors["Nimbus Notes"]
    filters = {r.args["query"]: r.args["numericFilters"] for r, _ in httpserver.log}
    assert filters["Nimbus Notes"] == f"created_at_i>{cursor}"


def test_a_guessed_encoding_and_samples_reach_the_sources_state_and_a_304_keeps_the_guess():
    source = Source.model_validate({"id": "ru", "url": "http://127.0.0.1/ru.xml"})
    fetched = Fetched("ru", skipped=1, encoding_guessed="koi8-r", samples=('{"odd": 1}',))
    state = next_state(source, None, fetched, NOW)
    assert state.encoding_guessed == "koi8-r" and state.unexpected_samples == ('{"odd": 1}',)
    later = next_state(source, state, Fetched("ru", not_modified=True), NOW + timedelta(hours=1))
    assert later.encoding_guessed == "koi8-r" and later.unexpected_samples == ()


def test_api_items_of_the_wrong_type_are_skipped_alone_and_the_pass_stores_the_rest(
    httpserver, tmp_path
):
    """An author that is an object, a count no store column holds, a count as text: each item
    is skipped and counted; its neighbours and the other sources are stored."""
    now = int(datetime.now(UTC).timestamp()) - 3600

    def hit(object_id: str, **odd: object) -> dict:
        return {
            "objectID": object_id, "created_at_i": now, "title": f"Nimbus Notes story {object_id}",
            "author": "kai", "points": 3, **odd,
        }  # fmt: skip

    hits = [
        hit("1"),
        hit("2", author={"name": "kai"}),
        hit("3", points=10**30),
        hit("4", points=[7]),
        hit("5", title=["Nimbus Notes"]),
    ]
    httpserver.expect_request("/api/v1/search_by_date").respond_with_json(
        {"hits": hits, "nbPages": 1}
    )
    hn = {"id": "hn", "kind": "hackernews", "base_url": httpserver.url_for("/api/v1")}
    blog = {"id": "blog", "url": serve_demo(httpserver, "nimbus-blog")}
    config = make_config(tmp_path, [blog, {**hn, "requests_per_minute": 6000}])
    report = asyncio.run(asyncio.wait_for(pass_once(config), 300))  # bounded: it once hung
    assert report.sources_failed == 0
    with store.connect(config.db_path) as db:
        stored = dict(db.execute("SELECT source, count(*) FROM mentions GROUP BY 1").fetchall())
        state = store.source_states(db)["hn"]
    assert stored["hn"] == 1 and stored["blog"] > 0
    assert state.skipped_last_fetch == 4 * 4  # four odd hits, once per watched term's search
    assert run(config, force=True).sources_failed == 0  # and the next pass goes on


def test_an_item_with_a_link_longer_than_any_index_key_is_stored_without_it(httpserver, tmp_path):
    """DuckDB refuses an index key over 120 KB, and a story is keyed by its link: one item
    linking 200 KB failed the write of the whole pass, every pass."""
    long_link = "https://x.example/" + "a" * 200_000
    feed = (
        "<rss version='2.0'><channel><title>t</title>"
        f"<item><title>Nimbus Notes, long</title><link>{long_link}</link><guid>1</guid></item>"
        "<item><title>Nimbus Notes, short</title><link>https://x.example/2</link><guid>2</guid>"
        "</item></channel></rss>"
    )
    httpserver.expect_request("/long.xml").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    sources = [
        {"id": "blog", "url": serve_demo(httpserver, "nimbus-blog")},
        {"id": "long", "url": httpserver.url_for("/long.xml")},
    ]
    config = make_config(tmp_path, sources)
    report = run(config)
    assert report.sources_failed == 0
    with store.connect(config.db_path) as db:
        links = dict(db.execute("SELECT title, url FROM mentions WHERE source = 'long'").fetchall())
        blog = db.execute("SELECT count(*) FROM mentions WHERE source = 'blog'").fetchone()[0]
    assert links == {"Nimbus Notes, long": "", "Nimbus Notes, short": "https://x.example/2"}
    assert blog > 0
