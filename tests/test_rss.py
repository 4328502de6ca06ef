"""The RSS/Atom collector: parsing (pure) and fetching (against a real server on 127.0.0.1)."""

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Response

from collectors import rss
from collectors.http import Http
from data.config import Http as HttpSettings
from data.config import Source
from data.records import SourceState
from tests.conftest import FIXTURES, fetch_as_a_pass_does

FAST = HttpSettings(
    timeout_seconds=1,
    max_attempts=3,
    max_retry_after_seconds=5,
    max_body_mb=0.5,
    backoff_seconds=0.01,
)


def collect(url: str, state: SourceState | None = None, settings: HttpSettings = FAST):
    source = Source(id="feed", url=url)

    async def go():
        async with Http(settings) as http:
            return await rss.collect(http, source, state or SourceState(source="feed"))

    return asyncio.run(go())


# --- parsing ------------------------------------------------------------------------------


def test_rss_items_become_plain_text_mentions_in_utc(demo_feed):
    mentions = rss.parse_feed(demo_feed, "reviews")
    assert len(mentions) == demo_feed.count(b"<item>")
    first = mentions[0]
    assert first.source == "reviews" and first.url.startswith("https://appreviews.example/")
    assert first.native_id == first.url and first.author
    assert first.published.tzinfo is not None and first.published.utcoffset().total_seconds() == 0
    for m in mentions:
        assert "<p>" not in m.text and "&lt;" not in m.text and "&pound;" not in m.text


def test_atom_entries_strip_markup_decode_entities_and_drop_unsafe_links():
    body = (FIXTURES / "atom.xml").read_bytes()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    first, second = rss.parse_feed(body, "atom", now=now)
    assert first.title == "Why I left Quillpad for Nimbus Notes"
    assert first.text == "Nimbus Notes is fast & calm.\nCafé notes sync well."
    assert "alert" not in first.text
    assert first.author == "Ana Lima"
    assert first.published == datetime(2026, 11, 2, 16, 30, 2, tzinfo=UTC)
    assert second.url == "" and second.native_id == "tag:quill.example,2026:2"


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage \x00\xff not xml", b"<html><body><p>Hello</p></body></html>", b'{"a": 1}'],
)
def test_a_body_that_is_not_a_feed_is_refused(body):
    with pytest.raises(rss.FeedError):
        rss.parse_feed(body, "x")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_any_bytes_either_parse_or_raise_feed_error(body):
    try:
        mentions = rss.parse_feed(body, "x")
    except rss.FeedError:
        return
    for m in mentions:
        assert m.published.tzinfo is not None


# --- fetching -----------------------------------------------------------------------------


def test_conditional_get_turns_an_unchanged_feed_into_304(httpserver, demo_feed):
    def handler(request):
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(
            demo_feed, headers={"ETag": '"v1"', "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}
        )

    httpserver.expect_request("/feed").respond_with_handler(handler)
    first = collect(httpserver.url_for("/feed"))
    assert first.error is None and len(first.mentions) > 100 and first.etag == '"v1"'
    second = collect(
        httpserver.url_for("/feed"),
        SourceState(source="feed", etag=first.etag, last_modified=first.last_modified),
    )
    assert second.not_modified and second.mentions == [] and second.etag == '"v1"'
    assert second.error is None


def test_validators_no_request_header_can_carry_are_not_sent_back(httpserver, demo_feed):
    """An ETag or Last-Modified with a byte beyond ASCII (read as Latin-1) cannot be sent as
    If-None-Match: it once failed every later fetch of the feed, the failure keeping it."""
    asked: list[dict[str, str]] = []

    def handler(request):
        asked.append(dict(request.headers))
        return Response(demo_feed, headers={"ETag": '"\xe9t\xe9"', "Last-Modified": "\xff\xfe"})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    first = collect(httpserver.url_for("/feed"))
    assert first.error is None and first.etag == '"\xe9t\xe9"'
    state = SourceState(source="feed", etag=first.etag, last_modified=first.last_modified)
    second = collect(httpserver.url_for("/feed"), state)
    assert second.error is None and len(second.mentions) == len(first.mentions)
    assert "If-None-Match" not in asked[1] and "If-Modified-Since" not in asked[1]


def test_a_content_location_no_url_parser_reads_leaves_links_to_the_feeds_address():
    """It once failed the whole feed ("Invalid IPv6 URL"); our test server cannot even send it,
    so the response is built as the client builds it."""
    import httpx

    from collectors.http import Response as Fetched

    url = "https://blog.example/feed"
    for location in ("http://[::1", "javascript:alert(1)"):
        got = Fetched(url, 200, b"", httpx.Headers({"Content-Location": location}))
        assert got.base_url == url
    moved = Fetched(url, 200, b"", httpx.Headers({"Content-Location": "/v2/feed"}))
    assert moved.base_url == "https://blog.example/v2/feed"


def test_429_with_retry_after_waits_then_succeeds(httpserver, demo_feed, prefect_server):
    asked = []  # when each request arrived

    def handler(request):
        asked.append(time.monotonic())
        if len(asked) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response(demo_feed)

    httpserver.expect_request("/feed").respond_with_handler(handler)
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, states = fetch_as_a_pass_does(source, FAST)
    assert fetched.error is None and fetched.mentions
    assert "AwaitingRetry" in states and states[-1] == "Completed"
    # The task's back-off is 0.01 s: the second request waited what the server asked.
    assert len(asked) == 2 and asked[1] - asked[0] >= 1.0


def test_retry_after_longer_than_we_wait_fails_fast_and_reports_it(httpserver, prefect_server):
    httpserver.expect_request("/feed").respond_with_data(
        "later", status=429, headers={"Retry-After": "3600"}
    )
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, states = fetch_as_a_pass_does(source, FAST)
    assert len(httpserver.log) == 1 and "AwaitingRetry" not in states
    assert "HTTP 429" in fetched.error and "asked to wait 3600s" in fetched.error
    assert fetched.retry_after == 3600


@pytest.mark.parametrize(
    "asked", ["99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 99 Foo 99999"]
)
def test_a_retry_after_beyond_reason_is_a_week_or_nothing(httpserver, prefect_server, asked):
    httpserver.expect_request("/feed").respond_with_data(
        "later", status=429, headers={"Retry-After": asked}
    )
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, _ = fetch_as_a_pass_does(source, FAST)
    assert "HTTP 429" in fetched.error
    assert fetched.retry_after in (7 * 86400, None)  # unreadable: no wait asked


def test_persistent_5xx_gives_up_after_bounded_attempts(httpserver, prefect_server):
    httpserver.expect_request("/feed").respond_with_data("oops", status=503)
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, states = fetch_as_a_pass_does(source, FAST)
    assert "HTTP 503" in fetched.error and "after 3 attempts" in fetched.error
    assert len(httpserver.log) == 3 and states.count("AwaitingRetry") == 2
    assert states[-1] == "Completed"  # the source failed, and the pass goes on without it


def test_a_404_is_not_retried(httpserver, prefect_server):
    httpserver.expect_request("/feed").respond_with_data("no", status=404)
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, states = fetch_as_a_pass_does(source, FAST)
    assert "HTTP 404" in fetched.error and len(httpserver.log) == 1
    assert "AwaitingRetry" not in states


def test_a_server_that_never_answers_times_out(httpserver):
    answer = threading.Event()

    def slow(request):
        answer.wait(2.5)
        return Response("too late")

    httpserver.expect_request("/feed").respond_with_handler(slow)
    fast = HttpSettings(timeout_seconds=0.3, max_attempts=2)
    started = time.monotonic()
    try:
        fetched = collect(httpserver.url_for("/feed"), settings=fast)
    finally:
        answer.set()  # the server (one thread) is free for the next test at once
    assert "timed out after 0.3s" in fetched.error
    assert time.monotonic() - started < 2.0


def test_a_redirect_loop_is_an_error_not_a_hang(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    fetched = collect(httpserver.url_for("/a"))
    assert "too many redirects" in fetched.error


def test_a_redirect_to_an_address_that_is_not_http_is_refused_at_once(httpserver, prefect_server):
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": "ftp://files.example/feed.xml"}
    )
    source = Source(id="feed", url=httpserver.url_for("/feed"))
    fetched, _ = fetch_as_a_pass_does(source, FAST)
    assert fetched.error.startswith(
        f"{httpserver.url_for('/feed')}: redirected to an address that is not HTTP ("
    )
    assert len(httpserver.log) == 1  # not tried again: another attempt cannot mend it


def test_a_redirect_to_an_invalid_address_is_an_error_naming_the_url(httpserver):
    """httpx fails on a malformed IDNA host with an error of its own (IDNAError; on a port
    beyond 65535, an ExceptionGroup), which once failed the source as an unexpected error."""
    location = "http://xn--/feed"
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    fetched = collect(httpserver.url_for("/feed"))
    assert fetched.error == (
        f"{httpserver.url_for('/feed')}: redirected to an invalid address (Location: {location})"
    )


def test_a_redirect_is_followed(httpserver, demo_feed):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data(demo_feed)
    assert collect(httpserver.url_for("/old")).mentions


def test_a_body_over_the_cap_is_refused(httpserver):
    httpserver.expect_request("/feed").respond_with_data(b"<rss>" + b" " * 1_000_000)
    fetched = collect(httpserver.url_for("/feed"))
    assert "exceeds the cap" in fetched.error


def test_a_gzip_bomb_is_refused_before_it_is_inflated_past_the_cap(httpserver):
    """A few hundred KB of gzip inflate to 100 MB: the cap (0.5 MB here) must hold while the
    body is inflated, not after each piece the network brings (64 KB of it once made 64 MB)."""
    import gzip
    import tracemalloc

    bomb = gzip.compress(b" " * (100 * 1024 * 1024), 9)
    httpserver.expect_request("/feed").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip"}, content_type="application/rss+xml"
    )
    tracemalloc.start()
    try:
        fetched = collect(httpserver.url_for("/feed"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fetched.error == f"{httpserver.url_for('/feed')}: body exceeds the cap of 524,288 bytes"
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "zstd", "deflate, gzip"])
def test_a_compression_not_asked_for_or_applied_twice_is_refused_naming_the_url(
    httpserver, encoding
):
    """Twice-gzipped, a 64 KB body can hold gigabytes, and httpx would inflate each piece the
    network brings twice over before any cap looks; br and zstd we never ask for."""
    import gzip

    twice = gzip.compress(gzip.compress(b" " * (50 * 1024 * 1024), 9), 9)
    httpserver.expect_request("/feed").respond_with_data(
        twice, headers={"Content-Encoding": encoding}, content_type="application/rss+xml"
    )
    fetched = collect(httpserver.url_for("/feed"))
    assert fetched.error == (
        f"{httpserver.url_for('/feed')}: the body is compressed as {encoding!r}, which Tidings "
        "does not read (it asks for gzip or deflate)"
    )


@pytest.mark.parametrize("encoding", ["identity", "utf-8", "gzip, identity"])
def test_an_encoding_naming_no_compression_leaves_the_body_as_it_is(
    httpserver, demo_feed, encoding
):
    import gzip

    body = gzip.compress(demo_feed) if "gzip" in encoding else demo_feed
    httpserver.expect_request("/feed").respond_with_data(
        body, headers={"Content-Encoding": encoding}, content_type="application/rss+xml"
    )
    fetched = collect(httpserver.url_for("/feed"))
    assert fetched.error is None and fetched.mentions


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw deflate"])
def test_compressed_feeds_are_read_and_a_corrupt_one_is_an_error_naming_the_url(
    httpserver, demo_feed, encoding
):
    import gzip
    import zlib

    packed = {
        "gzip": gzip.compress(demo_feed),
        "deflate": zlib.compress(demo_feed),
        "raw deflate": zlib.compress(demo_feed)[2:-4],  # as some servers send "deflate"
    }[encoding]
    name = encoding.split()[-1]
    httpserver.expect_request("/feed").respond_with_data(
        packed, headers={"Content-Encoding": name}, content_type="application/rss+xml"
    )
    httpserver.expect_request("/corrupt").respond_with_data(
        b"\x1f\x8b not compressed at all", headers={"Content-Encoding": name}
    )
    assert len(collect(httpserver.url_for("/feed")).mentions) > 100
    error = collect(httpserver.url_for("/corrupt")).error
    assert error.startswith(f"{httpserver.url_for('/corrupt')}: the body ")


def test_a_feed_made_to_parse_slowly_is_stopped_and_the_next_parses(
    httpserver, demo_feed, monkeypatch
):
    """feedparser reads an RSS author with a regex that takes the square of its length: 30 KB
    of it take seconds, 300 KB half an hour, and the pass waited for it."""
    from collectors import offload

    monkeypatch.setattr(offload, "PARSE_SECONDS", 1.0)  # a feed of 30 KB: a second
    slow = (
        "<rss version='2.0'><channel><title>t</title><item><title>Nimbus Notes</title>"
        f"<author>{'w' * 30_000}</author><guid>1</guid></item></channel></rss>"
    ).encode()
    httpserver.expect_request("/slow").respond_with_data(slow, content_type="application/rss+xml")
    httpserver.expect_request("/feed").respond_with_data(
        demo_feed, content_type="application/rss+xml"
    )
    fetched = collect(httpserver.url_for("/slow"))
    assert fetched.error == (
        f"{httpserver.url_for('/slow')}: parsing took longer than 1s (a body made to be slow?)"
    )
    assert len(collect(httpserver.url_for("/feed")).mentions) > 100


def test_garbage_and_404_are_reported_with_the_url(httpserver):
    httpserver.expect_request("/junk").respond_with_data(b"\x00\x01 binary junk")
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    junk = collect(httpserver.url_for("/junk"))
    gone = collect(httpserver.url_for("/gone"))
    assert junk.error.startswith(httpserver.url_for("/junk")) and "not" in junk.error
    assert gone.error == f"{httpserver.url_for('/gone')}: HTTP 404 NOT FOUND"


def test_connection_refused_is_an_error(httpserver):
    url = httpserver.url_for("/feed")
    httpserver.stop()
    try:
        fetched = collect(url, settings=HttpSettings(timeout_seconds=1, max_attempts=1))
    finally:
        httpserver.start()
    assert "connection failed" in fetched.error


@pytest.mark.parametrize(
    ("hosts", "cap"), [({}, 2), ({"127.0.0.1": 1}, 1), ({"other.example": 1}, 2)]
)
def test_requests_to_one_host_are_capped(demo_feed, hosts, cap):
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    lock, active, peak = threading.Lock(), [0], [0]

    def handler(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return Response(demo_feed)

    server.expect_request("/feed").respond_with_handler(handler)
    settings = HttpSettings(per_host=2, timeout_seconds=5, hosts=hosts)

    async def go():
        async with Http(settings) as http:
            sources = [Source(id=f"s{i}", url=server.url_for("/feed")) for i in range(6)]
            return await asyncio.gather(
                *(rss.collect(http, s, SourceState(source=s.id)) for s in sources)
            )

    try:
        results = asyncio.run(go())
    finally:
        server.stop()
    assert all(r.error is None for r in results)
    assert peak[0] == cap


# --- the real web: encodings ----------------------------------------------------------------

FEEDS = FIXTURES / "feeds"
# The first title of each feed in tests/fixtures/feeds/undeclared-*.xml, which declare no
# encoding anywhere (no XML encoding, served without a charset).
FIRST_TITLES = {
    "euc-jp": "Nimbus Notes が日本語に対応しました",
    "shift_jis": "Nimbus Notes の新機能を試してみた",
    "euc-kr": "Nimbus Notes 한국어 지원 시작",
    "gb2312": "Nimbus Notes 推出中文版本",
    "koi8-r": "Nimbus Notes теперь на русском языке",
    "tis-620": "Nimbus Notes รองรับภาษาไทยแล้ว",
    "windows-1255": "Nimbus Notes תומכת עכשיו בעברית",
}


def serve(httpserver, path: str, body: bytes, content_type: str) -> str:
    httpserver.expect_request(path).respond_with_handler(
        lambda request: Response(body, headers={"Content-Type": content_type})
    )
    return httpserver.url_for(path)


def test_a_charset_given_only_in_the_http_header_is_used(httpserver):
    body = (FEEDS / "undeclared-koi8-r.xml").read_bytes()
    url = serve(httpserver, "/ru", body, "application/rss+xml; charset=KOI8-R")
    fetched = collect(url)
    assert fetched.error is None and fetched.encoding_guessed is None  # declared, not guessed
    assert [m.title for m in fetched.mentions] == [
        FIRST_TITLES["koi8-r"],
        "Сравнение приложений для заметок",
    ]
    assert fetched.mentions[0].text.startswith("В новой версии синхронизация")


def test_a_charset_that_reads_nothing_is_taken_as_undeclared(httpserver):
    """Python has an "undefined" codec, which fails every decoding: declared, it once failed
    the feed with an unexpected error."""
    body = (FEEDS / "undeclared-koi8-r.xml").read_bytes()
    url = serve(httpserver, "/ru", body, "application/rss+xml; charset=undefined")
    fetched = collect(url)
    assert fetched.error is None and fetched.encoding_guessed == "koi8-r"
    assert fetched.mentions[0].title == FIRST_TITLES["koi8-r"]


def test_utf8_served_as_latin1_is_still_read_as_utf8(httpserver):
    body = (FEEDS / "italian.xml").read_bytes().replace(b"completa", "complèta".encode())
    fetched = collect(serve(httpserver, "/it", body, "text/xml; charset=ISO-8859-1"))
    assert fetched.mentions[0].title == "Nimbus Notes: la recensione complèta"


def test_latin1_declared_in_http_without_xml_declaration(httpserver):
    body = (FEEDS / "portuguese-latin1.xml").read_bytes().split(b"?>", 1)[1]
    fetched = collect(serve(httpserver, "/br", body, "text/xml; charset=iso-8859-1"))
    assert fetched.mentions[0].title == "Nimbus Notes chega ao Brasil com preço em reais"
    assert fetched.encoding_guessed is None


@pytest.mark.parametrize("encoding", sorted(FIRST_TITLES))
def test_an_undeclared_legacy_encoding_is_detected_and_said_to_be_guessed(httpserver, encoding):
    body = (FEEDS / f"undeclared-{encoding}.xml").read_bytes()
    fetched = collect(serve(httpserver, "/feed", body, "application/rss+xml"))
    assert fetched.error is None
    assert fetched.mentions[0].title == FIRST_TITLES[encoding]
    assert "\ufffd" not in fetched.mentions[0].text + fetched.mentions[1].text
    assert fetched.encoding_guessed  # shown on the Sources page


def test_a_feed_declaring_utf8_wrongly_is_detected_too():
    body = (FEEDS / "undeclared-shift_jis.xml").read_bytes()
    body = body.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-8"?>')
    feed = rss.read(body, "jp", content_type="application/xml")
    assert feed.mentions[0].title == FIRST_TITLES["shift_jis"] and feed.encoding_guessed


def test_plain_utf8_and_declared_latin1_are_not_guessed():
    assert rss.read((FEEDS / "italian.xml").read_bytes(), "it").encoding_guessed is None
    latin = rss.read((FEEDS / "portuguese-latin1.xml").read_bytes(), "br")
    assert latin.encoding_guessed is None and latin.mentions[0].author == "João Almeida"


# --- the real web: links --------------------------------------------------------------------


def test_relative_links_resolve_against_xml_base_and_the_address_after_redirects(httpserver):
    body = (FEEDS / "relative-links.atom").read_bytes()
    httpserver.expect_request("/feed").respond_with_data(
        "", status=301, headers={"Location": "/blog/atom.xml"}
    )
    serve(httpserver, "/blog/atom.xml", body, "application/atom+xml")
    fetched = collect(httpserver.url_for("/feed"))
    assert [m.url for m in fetched.mentions] == [
        httpserver.url_for("/blog/releases/4.2.html"),
        httpserver.url_for("/news/2024/offline-editing"),
        "https://mirror.example/nimbus/4.0.html",
    ]
    assert fetched.mentions[0].native_id == "tag:nimbus.example,2024:4.2"  # ids as given


# --- the real web: private feeds --------------------------------------------------------------

TOKEN = "s3cr3t-t0ken-never-shown"  # noqa: S105 (a test value)


def private_feed(httpserver, demo_feed) -> str:
    def handler(request):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response("who are you?", status=401)
        return Response(demo_feed, headers={"Content-Type": "application/rss+xml"})

    httpserver.expect_request("/private.xml").respond_with_handler(handler)
    return httpserver.url_for("/private.xml")


def collect_source(source: Source):
    async def go():
        async with Http(FAST) as http:
            return await rss.collect(http, source, SourceState(source=source.id))

    return asyncio.run(go())


def test_a_private_feed_reads_its_header_from_the_environment(httpserver, demo_feed, monkeypatch):
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN}")
    source = Source(
        id="private",
        url=private_feed(httpserver, demo_feed),
        headers={"Authorization": "FEED_TOKEN"},
    )
    fetched = collect_source(source)
    assert fetched.error is None and fetched.mentions
    assert TOKEN not in source.model_dump_json()  # the config holds the variable's name only


def test_a_missing_variable_is_one_line_naming_it_and_nothing_is_sent(httpserver, monkeypatch):
    monkeypatch.delenv("FEED_TOKEN", raising=False)
    source = Source(
        id="private",
        url=httpserver.url_for("/private.xml"),
        headers={"Authorization": "FEED_TOKEN"},
    )
    fetched = collect_source(source)
    assert fetched.error == (
        "source private: header Authorization needs the environment variable FEED_TOKEN, "
        "which is not set"
    )
    assert fetched.needs_credentials and httpserver.log == []


def test_a_value_with_a_line_break_is_refused_without_showing_it(httpserver, monkeypatch):
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN}\r\nX-Injected: 1")
    source = Source(
        id="private",
        url=httpserver.url_for("/private.xml"),
        headers={"Authorization": "FEED_TOKEN"},
    )
    fetched = collect_source(source)
    assert "FEED_TOKEN holds a line break" in fetched.error and TOKEN not in fetched.error
    assert httpserver.log == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_feed_refusing_us_needs_credentials_and_says_how_to_give_them(httpserver, status):
    httpserver.expect_request("/private.xml").respond_with_data("no", status=status)
    fetched = collect(httpserver.url_for("/private.xml"))
    assert fetched.needs_credentials and f"HTTP {status}" in fetched.error
    assert 'headers = {Authorization = "FEED_TOKEN"}' in fetched.error


def test_a_wrong_token_needs_credentials_and_the_error_never_holds_it(
    httpserver, demo_feed, monkeypatch, tmp_path
):
    from data import store
    from flows.pipeline import store_pass
    from tests.conftest import make_config

    monkeypatch.setenv("FEED_TOKEN", "Bearer wrong-token-value")
    url = private_feed(httpserver, demo_feed)
    config = make_config(
        tmp_path, [{"id": "private", "url": url, "headers": {"Authorization": "FEED_TOKEN"}}]
    )
    fetched = collect_source(config.sources[0])
    assert "check the value of FEED_TOKEN" in fetched.error
    store_pass(config, list(config.sources), [fetched], [], {}, store.utcnow())
    with store.connect(config.db_path) as db:
        health = store.source_health(db).set_index("source")
        everything = str(db.execute("SELECT * FROM sources").fetchall())
    assert health.loc["private", "health"] == "needs credentials"
    assert "wrong-token-value" not in everything


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Authorization": "Bearer abc123"}, "give the name of an environment variable"),
        ({"X Api Key": "KEY"}, "is not a header a source may set"),
        ({"Host": "HOST"}, "is not a header a source may set"),
    ],
)
def test_headers_in_the_config_name_variables_and_never_echo_a_value(headers, problem):
    from data.config import parse_config
    from data.errors import ConfigError

    raw = {"sources": [{"id": "p", "url": "https://x.example/feed", "headers": headers}]}
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_config(raw)
    assert "abc123" not in str(caught.value) and "\n" not in str(caught.value)


# --- the real web: JSON Feed ----------------------------------------------------------------


def test_a_json_feed_1_1_is_read_by_an_rss_source(httpserver):
    body = (FEEDS / "jsonfeed-1.1.json").read_bytes()
    fetched = collect(serve(httpserver, "/feed.json", body, "application/feed+json"))
    assert fetched.error is None and fetched.skipped == 0
    post, link, note = fetched.mentions
    assert post.title == "Why I left Quillpad for Nimbus Notes"
    assert post.text == "Nimbus Notes is fast & calm." and post.author == "Ana Lima"
    assert post.url == "https://ana.example/2024/07/leaving-quillpad"  # against feed_url
    assert post.published == datetime(2024, 7, 2, 9, 30, tzinfo=UTC) and post.published_known
    assert link.text == "Nimbus Sync 4 is out, and it finally syncs folders."
    assert link.shared_url == "https://nimbus.example/blog/sync-4" and link.author == "Guest Writer"
    assert note.url == "https://ana.example/2024/06/untitled"
    assert note.published == datetime(2024, 6, 18, 8, tzinfo=UTC)


def test_a_json_feed_1_0_with_odd_items_keeps_the_good_ones():
    now = datetime(2024, 7, 5, tzinfo=UTC)
    feed = rss.read((FEEDS / "jsonfeed-1.0.json").read_bytes(), "micro", now)
    first, second = feed.mentions
    assert first.native_id == "4812" and first.author == "Ben"
    assert first.published == datetime(2024, 7, 3, 11, 15, tzinfo=UTC)
    assert second.text == "Nimbus Notes lost my draft again."
    assert not second.published_known and second.published == now  # "ieri": unknown
    assert feed.skipped == 2  # a string and an item whose id is an object


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": 1}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": ', "not valid JSON"),
        (b'{"version": "1.0", "items": []}', "not a JSON Feed"),
        (b'{"a": ' + b"[" * 100_000, "not valid JSON"),  # nesting deeper than Python recurses
    ],
)
def test_json_that_is_no_json_feed_says_so_not_xml(body, problem):
    with pytest.raises(rss.FeedError, match=problem) as caught:
        rss.parse_feed(body, "x")
    assert "token" not in str(caught.value)


# --- the real web: age ----------------------------------------------------------------------


def test_a_feed_keeps_its_history_unless_the_source_sets_lookback_days(httpserver):
    body = (FEEDS / "italian.xml").read_bytes()  # items of 2022, two of unknown date
    url = serve(httpserver, "/it.xml", body, "application/rss+xml")
    everything = collect_source(Source(id="it", url=url))
    recent_only = collect_source(Source(id="it", url=url, lookback_days=30))
    assert len(everything.mentions) == 4
    # Of unknown date, the age of two cannot be told: they stay, marked.
    assert [m.published_known for m in recent_only.mentions] == [False, False]
    assert recent_only.items_seen == 4


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("O aplicativo ganhou versão em português e cobrança em reais.", "latin-1"),
        ("Une fonctionnalité très pratique, déjà présentée l'été dernier.", "cp1252"),
        ("Größere Änderungen folgen im Frühjahr, heißt es aus München.", "cp1252"),
        ("Nimbus Notes “just works” — that’s what users say…", "cp1252"),
        ("Większe zmiany pojawią się wiosną, zapowiada firma z Łodzi.", "cp1250"),
    ],
)
def test_undeclared_latin_text_is_not_read_as_another_latin_encoding(text, encoding):
    body = f'<rss version="2.0"><channel><item><title>Nimbus Notes</title><description>{text}'
    body += "</description></item></channel></rss>"
    (m,) = rss.parse_feed(body.encode(encoding), "x")
    assert m.text == text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.text(max_size=60))
def test_any_body_and_content_type_give_an_encoding_or_leave_it_to_the_parser(body, header):
    from collectors.charsets import choose_encoding

    encoding = choose_encoding(body, header)
    if encoding.name is not None:
        body.decode(encoding.name, errors="replace")  # a codec Python knows


def test_a_content_location_header_is_where_relative_links_start(httpserver):
    body = (FEEDS / "relative-links.atom").read_bytes()
    httpserver.expect_request("/feed").respond_with_data(
        body,
        content_type="application/atom+xml",
        headers={"Content-Location": "/mirror/blog/atom.xml"},
    )
    fetched = collect(httpserver.url_for("/feed"))
    assert fetched.mentions[0].url == httpserver.url_for("/mirror/blog/releases/4.2.html")
