"""Bluesky through recorded searchPosts answers served from 127.0.0.1."""

import json

from werkzeug import Response

from collectors import bluesky
from collectors.search import iso
from data.records import SourceState
from tests.conftest import collect_with, fast_source, recorded


def serve(httpserver, public_refuses: bool = False):
    def search(request):
        if public_refuses and request.headers.get("Authorization") != "Bearer jwt-1":
            return Response('{"error":"AuthMissing"}', status=403)
        name = "search_page2" if request.args.get("cursor") else "search"
        return Response(recorded(f"bluesky/{name}.json"), content_type="application/json")

    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_handler(search)
    return fast_source("bluesky", httpserver.url_for(""))


def test_posts_with_permalinks_reach_and_shared_links(httpserver, monkeypatch):
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    fetched = collect_with(bluesky.collect, serve(httpserver))
    assert fetched.error is None and fetched.skipped == 1
    by_author = {m.author: m for m in fetched.mentions}
    assert set(by_author) == {"@priya.bsky.social", "@tom.example.com", "@lena.bsky.social"}
    priya = by_author["@priya.bsky.social"]
    assert priya.url == "https://bsky.app/profile/priya.bsky.social/post/3kxyzpost1"
    assert priya.reach == 41 and priya.shared_url == "https://blog.nimbusnotes.example/offline"
    assert by_author["@lena.bsky.social"].reach is None
    first = httpserver.log[0][0].args
    assert first["q"] == "Nimbus Notes" and first["sort"] == "latest"
    assert httpserver.log[1][0].args["cursor"] == "100"
    assert iso(fetched.cursors["Nimbus Notes"]) == priya.published


def test_next_pass_asks_since_the_newest_post(httpserver, monkeypatch):
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    source = serve(httpserver)
    first = collect_with(bluesky.collect, source)
    httpserver.clear_log()
    again = collect_with(
        bluesky.collect, source, state=SourceState("bluesky", cursors=first.cursors)
    )
    assert again.mentions == []
    assert iso(httpserver.log[0][0].args["since"]) == iso(first.cursors["Nimbus Notes"])


def test_refused_without_credentials(httpserver, monkeypatch):
    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)
    fetched = collect_with(bluesky.collect, serve(httpserver, public_refuses=True))
    assert fetched.needs_credentials and "BLUESKY_APP_PASSWORD" in fetched.error


def test_app_password_session_when_the_public_endpoint_refuses(httpserver, monkeypatch):
    monkeypatch.setenv("BLUESKY_HANDLE", "me.bsky.social")
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh")
    httpserver.expect_request(
        "/xrpc/com.atproto.server.createSession",
        method="POST",
        json={"identifier": "me.bsky.social", "password": "abcd-efgh"},
    ).respond_with_data(json.dumps({"accessJwt": "jwt-1", "refreshJwt": "r"}))
    fetched = collect_with(bluesky.collect, serve(httpserver, public_refuses=True))
    assert fetched.error is None and len(fetched.mentions) == 3


def test_a_post_dated_in_the_future_does_not_move_the_cursor_past_now(httpserver, monkeypatch):
    """The next search asks for posts since the cursor: a post dated in the year 9999 would
    have it ask for none, ever again."""
    from datetime import UTC, datetime

    monkeypatch.delenv("BLUESKY_HANDLE", raising=False)

    def post(rkey: str, created: str) -> dict:
        return {
            "uri": f"at://did:plc:x/app.bsky.feed.post/{rkey}", "author": {"handle": "a.b"},
            "record": {"text": "Nimbus Notes", "createdAt": created},
        }  # fmt: skip

    now = datetime.now(UTC).isoformat()
    httpserver.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_json(
        {"posts": [post("f", "9999-12-31T23:59:59Z"), post("n", now)]}
    )
    fetched = collect_with(bluesky.collect, fast_source("bluesky", httpserver.url_for("")))
    assert fetched.error is None and len(fetched.mentions) == 2
    assert iso(fetched.cursors["Nimbus Notes"]) <= datetime.now(UTC)
