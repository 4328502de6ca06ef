"""Hacker News through a recorded Algolia API served from 127.0.0.1."""

import json
from datetime import UTC, datetime, timedelta

from werkzeug import Response

from collectors import hackernews
from data.config import Http as HttpSettings
from data.records import SourceState
from tests.conftest import (
    ANCHOR,
    SHIFT,
    collect_with,
    fast_source,
    fetch_as_a_pass_does,
    recorded,
)

RETRYING = HttpSettings(timeout_seconds=2, max_attempts=3, backoff_seconds=0.01)


def serve_pages(httpserver):
    def handler(request):
        page = request.args.get("page", "0")
        return Response(recorded(f"hackernews/page{page}.json"), content_type="application/json")

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(handler)
    return fast_source("hackernews", httpserver.url_for("/api/v1"))


def test_stories_and_comments_across_pages_with_bad_hit_skipped(httpserver):
    fetched = collect_with(hackernews.collect, serve_pages(httpserver))
    assert fetched.error is None and fetched.skipped == 1
    by_id = {m.native_id: m for m in fetched.mentions}
    assert set(by_id) == {"41000001", "41000005", "41000009"}
    story, comment, ask = by_id["41000001"], by_id["41000005"], by_id["41000009"]
    assert story.url == "https://news.ycombinator.com/item?id=41000001"
    assert story.reach == 87 and story.author == "pg_fan"
    assert story.shared_url == "https://blog.nimbusnotes.example/post-mortem?utm_source=hn"
    assert comment.title == "Re: Nimbus Notes sync outage post-mortem"
    assert (
        comment.text
        == "I moved to Nimbus Notes from Quillpad last year and it's been great, apart from this week.\nStill recommend it."
    )
    assert comment.reach is None and comment.shared_url is None
    assert ask.text == "We are 6 people & need shared notebooks." and ask.shared_url is None
    assert story.published.tzinfo == UTC
    assert story.published == ANCHOR + SHIFT - timedelta(hours=1)  # recorded an hour before
    queries = [r.args for r, _ in httpserver.log]
    assert [q["page"] for q in queries] == ["0", "1"]
    assert queries[0]["query"] == "Nimbus Notes" and queries[0]["tags"] == "(story,comment)"


def test_first_pass_looks_back_a_bounded_window_then_resumes_from_newest(httpserver):
    source = serve_pages(httpserver)
    before = datetime.now(UTC)
    first = collect_with(hackernews.collect, source)
    since = int(httpserver.log[0][0].args["numericFilters"].removeprefix("created_at_i>"))
    assert abs(since - (before - timedelta(days=7)).timestamp()) < 5
    cursor = first.cursors["Nimbus Notes"]
    assert int(cursor) == max(int(m.published.timestamp()) for m in first.mentions)
    httpserver.clear_log()
    collect_with(hackernews.collect, source, state=SourceState("hackernews", cursors=first.cursors))
    assert httpserver.log[0][0].args["numericFilters"] == f"created_at_i>{cursor}"


def test_one_search_per_watched_term(httpserver):
    collect_with(hackernews.collect, serve_pages(httpserver), queries=["Nimbus Notes", "Quillpad"])
    assert {r.args["query"] for r, _ in httpserver.log} == {"Nimbus Notes", "Quillpad"}


def test_429_is_retried_after_the_wait_it_asks_for(httpserver, prefect_server):
    httpserver.expect_oneshot_request("/api/v1/search_by_date").respond_with_data(
        "rate limited", status=429, headers={"Retry-After": "1"}
    )
    fetched, states = fetch_as_a_pass_does(serve_pages(httpserver), RETRYING)
    assert fetched.error is None and len(fetched.mentions) == 3
    assert "AwaitingRetry" in states


def test_a_retry_fetches_only_the_pages_not_fetched_yet(httpserver, prefect_server):
    failed_once = []

    def handler(request):
        page = request.args.get("page", "0")
        if page == "1" and not failed_once:
            failed_once.append(page)
            return Response("busy", status=503)
        return Response(recorded(f"hackernews/page{page}.json"), content_type="application/json")

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(handler)
    source = fast_source("hackernews", httpserver.url_for("/api/v1"))
    fetched, states = fetch_as_a_pass_does(source, RETRYING)
    assert fetched.error is None and len(fetched.mentions) == 3
    assert [r.args["page"] for r, _ in httpserver.log] == ["0", "1", "1"]
    assert states.count("AwaitingRetry") == 1 and states[-1] == "Completed"


def test_an_answer_of_the_wrong_shape_fails_the_source_not_the_pass(httpserver):
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data(
        json.dumps({"message": "changed API"}), content_type="application/json"
    )
    fetched = collect_with(
        hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
    )
    assert "unexpected answer (no 'hits' list)" in fetched.error and not fetched.mentions


def test_configured_headers_go_with_every_api_request(httpserver, monkeypatch):
    monkeypatch.setenv("HN_PROXY_KEY", "k-123")
    source = serve_pages(httpserver)
    source = source.model_copy(update={"headers": {"X-Api-Key": "HN_PROXY_KEY"}})
    fetched = collect_with(hackernews.collect, source)
    assert fetched.error is None
    assert {r.headers.get("X-Api-Key") for r, _ in httpserver.log} == {"k-123"}
    monkeypatch.delenv("HN_PROXY_KEY")
    httpserver.clear_log()
    refused = collect_with(hackernews.collect, source)
    assert refused.needs_credentials and "HN_PROXY_KEY" in refused.error
    assert httpserver.log == []


def test_hits_older_than_lookback_days_are_not_kept_whatever_the_api_sends(httpserver):
    # An API (or a mirror) that ignores our created_at_i filter and sends a month-old story.
    page = json.loads(recorded("hackernews/page0.json"))
    old = dict(page["hits"][0], objectID="40000001", title="Nimbus Notes, a month ago")
    old["created_at_i"] = int((datetime.now(UTC) - timedelta(days=30)).timestamp())
    page["hits"].append(old)
    page["nbPages"] = 1
    httpserver.expect_request("/api/v1/search_by_date").respond_with_json(page)
    fetched = collect_with(
        hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
    )
    assert fetched.error is None
    assert {m.native_id for m in fetched.mentions} == {"41000001", "41000005"}
    assert fetched.items_seen == 3  # seen, counted, not kept


def test_a_hit_dated_in_the_future_does_not_move_the_cursor_past_now(httpserver):
    """One hit dated in the year 9999 would have the next searches ask for hits created after
    it: the source would find nothing, ever again."""
    now = datetime.now(UTC)
    hits = [
        {"objectID": "1", "created_at_i": 253402300000, "title": "Nimbus Notes from the future"},
        {"objectID": "2", "created_at_i": int(now.timestamp()) - 60, "title": "Nimbus Notes"},
    ]
    httpserver.expect_request("/api/v1/search_by_date").respond_with_json(
        {"hits": hits, "nbPages": 1}
    )
    fetched = collect_with(
        hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
    )
    assert fetched.error is None and len(fetched.mentions) == 2
    assert all(m.published <= datetime.now(UTC) for m in fetched.mentions)
    assert int(fetched.cursors["Nimbus Notes"]) <= datetime.now(UTC).timestamp()


def test_a_page_count_that_is_no_count_ends_the_search_with_the_hits_read(httpserver):
    hit = {"objectID": "1", "created_at_i": int(datetime.now(UTC).timestamp()) - 60,
           "title": "Nimbus Notes"}  # fmt: skip
    for pages in ('"abc"', "NaN", "1e400", "null", "[2]"):
        httpserver.clear()
        httpserver.expect_request("/api/v1/search_by_date").respond_with_data(
            f'{{"hits": [{json.dumps(hit)}], "nbPages": {pages}}}', content_type="application/json"
        )
        fetched = collect_with(
            hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
        )
        assert fetched.error is None and len(fetched.mentions) == 1, pages
        assert len(httpserver.log) == 1  # no second page asked for


def test_an_answer_nested_too_deep_is_an_error_naming_the_url(httpserver):
    httpserver.expect_request("/api/v1/search_by_date").respond_with_data(
        "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    fetched = collect_with(
        hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
    )
    url = httpserver.url_for("/api/v1/search_by_date")
    assert fetched.error == f"{url}: the answer is JSON nested too deep to read"
