"""Reddit through recorded search listings served from 127.0.0.1."""

import base64
import json

from werkzeug import Response

from collectors import reddit
from data.records import SourceState
from tests.conftest import collect_with, fast_source, recorded


def serve(httpserver, token_required: bool = False):
    def search(request):
        if token_required and request.headers.get("Authorization") != "Bearer tok-123":
            return Response("unauthorized", status=401)
        if request.args["type"] == "comment":
            name = "comments"
        else:
            name = "posts_page2" if request.args.get("after") else "posts_page1"
        return Response(recorded(f"reddit/{name}.json"), content_type="application/json")

    httpserver.expect_request("/search.json").respond_with_handler(search)
    return fast_source("reddit", httpserver.url_for(""))


def test_posts_and_comments_newest_first_until_the_window_ends(httpserver, monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_ID", raising=False)
    fetched = collect_with(reddit.collect, serve(httpserver))
    assert fetched.error is None
    by_id = {m.native_id: m for m in fetched.mentions}
    assert set(by_id) == {"t3_1gx0001", "t3_1gx0002", "t3_1gw0001", "t1_lz00001"}  # not the old one
    assert fetched.skipped == 1
    post = by_id["t3_1gx0001"]
    assert (
        post.url
        == "https://www.reddit.com/r/productivity/comments/1gx0001/nimbus_notes_sync_broken/"
    )
    assert post.text == "After the update **Nimbus Notes** won't sync on my phone. Anyone else?"
    assert post.author == "u/notes_nerd" and post.reach == 154 and post.shared_url is None
    link = by_id["t3_1gx0002"]
    assert link.shared_url == "https://blog.nimbusnotes.example/post-mortem" and link.author is None
    comment = by_id["t1_lz00001"]
    assert comment.title == "Re: Nimbus Notes sync broken?" and comment.reach == 33
    assert set(fetched.cursors) == {"Nimbus Notes", "Nimbus Notes [comments]"}
    user_agents = {r.headers["User-Agent"] for r, _ in httpserver.log}
    assert user_agents == {"Tidings/0.1 (self-hosted mention monitor)"}


def test_second_pass_stops_at_what_it_already_has(httpserver, monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_ID", raising=False)
    source = serve(httpserver)
    first = collect_with(reddit.collect, source)
    httpserver.clear_log()
    again = collect_with(reddit.collect, source, state=SourceState("reddit", cursors=first.cursors))
    assert again.mentions == [] and again.error is None
    assert not any(r.args.get("after") for r, _ in httpserver.log)  # no second page fetched


def test_oauth_client_credentials_from_the_environment(httpserver, monkeypatch):
    monkeypatch.setenv("REDDIT_CLIENT_ID", "cid")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "shh")
    expected = "Basic " + base64.b64encode(b"cid:shh").decode()
    httpserver.expect_request(
        "/api/v1/access_token", method="POST", headers={"Authorization": expected}
    ).respond_with_data(json.dumps({"access_token": "tok-123", "token_type": "bearer"}))
    fetched = collect_with(reddit.collect, serve(httpserver, token_required=True))
    assert fetched.error is None and len(fetched.mentions) == 4


def test_refusal_marks_the_source_as_needing_credentials(httpserver, monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_ID", raising=False)
    fetched = collect_with(reddit.collect, serve(httpserver, token_required=True))
    assert fetched.needs_credentials
    assert "HTTP 401" in fetched.error and "REDDIT_CLIENT_ID" in fetched.error


def test_a_wrong_secret_is_reported_as_such(httpserver, monkeypatch):
    monkeypatch.setenv("REDDIT_CLIENT_ID", "cid")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "wrong")
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_data(
        "no", status=401
    )
    fetched = collect_with(reddit.collect, serve(httpserver, token_required=True))
    assert fetched.needs_credentials and "access_token: HTTP 401" in fetched.error
    assert "shh" not in fetched.error and "wrong" not in fetched.error


def test_comments_without_permalink_are_linked_from_their_post_and_id(httpserver, monkeypatch):
    monkeypatch.delenv("REDDIT_CLIENT_ID", raising=False)
    httpserver.expect_request("/search.json").respond_with_handler(
        lambda r: Response(
            recorded("reddit/comments_without_permalink.json" if r.args["type"] == "comment"
                     else "reddit/posts_page2.json"),
            content_type="application/json",
        )
    )  # fmt: skip
    fetched = collect_with(reddit.collect, fast_source("reddit", httpserver.url_for("")))
    by_id = {m.native_id: m for m in fetched.mentions}
    assert by_id["t1_lz00009"].url == "https://www.reddit.com/comments/1gx0001/_/lz00009/"
    assert by_id["t1_lz0000a"].url == "https://www.reddit.com/comments/1gx0001/_/lz0000a/"
    assert by_id["t1_lz0000a"].author is None  # "[deleted]"


def test_a_post_dated_in_the_future_does_not_move_the_cursor_past_now(httpserver, monkeypatch):
    """Newest first, a search stops at the first post no newer than its cursor: a post dated
    in the year 9999 would have every later search stop at once, finding nothing, ever."""
    from datetime import UTC, datetime

    monkeypatch.delenv("REDDIT_CLIENT_ID", raising=False)
    now = datetime.now(UTC).timestamp()
    children = [
        {"kind": "t3", "data": {"name": "t3_f", "id": "f", "title": "Nimbus Notes, later",
                                "created_utc": 253402300000.0, "author": "a"}},
        {"kind": "t3", "data": {"name": "t3_n", "id": "n", "title": "Nimbus Notes, now",
                                "created_utc": now - 60, "author": "b"}},
    ]  # fmt: skip
    httpserver.expect_request("/search.json").respond_with_json(
        {"kind": "Listing", "data": {"after": None, "children": children}}
    )
    fetched = collect_with(reddit.collect, fast_source("reddit", httpserver.url_for("")))
    assert fetched.error is None and len(fetched.mentions) == 2
    assert float(fetched.cursors["Nimbus Notes"]) <= datetime.now(UTC).timestamp()


def test_a_token_answer_without_a_usable_token_is_an_error_naming_the_url(httpserver, monkeypatch):
    """A token of another type, or with a byte no header can carry (it once failed the source
    with an encoding error), or an answer nested too deep to read."""
    monkeypatch.setenv("REDDIT_CLIENT_ID", "cid")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "shh")
    for answer in ('{"access_token": "tok\\u00e9"}', '{"access_token": {"a": 1}}', "[" * 99_999):
        httpserver.clear()
        httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_data(answer)
        source = serve(httpserver, token_required=True)
        fetched = collect_with(reddit.collect, source)
        url = httpserver.url_for("/api/v1/access_token")
        assert fetched.error.startswith(f"{url}: no access_token in the answer"), answer
