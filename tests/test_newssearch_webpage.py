"""News-search feeds and feedless web pages, served from 127.0.0.1."""

from datetime import UTC, datetime

from collectors import newssearch, webpage
from data.config import Source
from data.records import SourceState
from tests.conftest import FIXTURES, collect_with, fast_source, recorded


def serve_news(httpserver):
    httpserver.expect_request("/rss/search").respond_with_data(
        recorded("newssearch/search.xml"), content_type="application/rss+xml"
    )
    return fast_source("newssearch", httpserver.url_for("/rss/search"))


def test_news_search_credits_the_publisher(httpserver):
    fetched = collect_with(newssearch.collect, serve_news(httpserver))
    assert fetched.error is None
    first = fetched.mentions[0]
    assert first.title == "Nimbus Notes apologises after two-day sync outage"
    assert first.author == "Tech Daily"
    assert first.url == "https://news.google.com/rss/articles/CBMiAAA?oc=5"
    args = httpserver.log[0][0].args
    assert args["q"] == '"Nimbus Notes" when:7d' and args["hl"] == "en-US"


def test_news_search_keeps_only_what_is_newer_than_the_last_pass(httpserver):
    source = serve_news(httpserver)
    first = collect_with(newssearch.collect, source)
    again = collect_with(
        newssearch.collect, source, state=SourceState("newssearch", cursors=first.cursors)
    )
    assert len(first.mentions) == 2 and again.mentions == []


def page_source(url: str) -> Source:
    return Source.model_validate(
        {
            "id": "reviews",
            "kind": "webpage",
            "url": url,
            "selectors": {
                "item": "article.review",
                "title": ".title",
                "link": "a.permalink",
                "text": ".body",
                "author": ".by",
            },
        }
    )


def test_items_picked_out_by_css_selectors(httpserver):
    httpserver.expect_request("/reviews").respond_with_data(
        (FIXTURES / "webpage/reviews.html").read_bytes(),
        content_type="text/html",
        headers={"ETag": '"r1"'},
    )
    fetched = collect_with(webpage.collect, page_source(httpserver.url_for("/reviews")))
    assert fetched.error is None and fetched.skipped == 1 and fetched.etag == '"r1"'
    calm, lost, undated = fetched.mentions
    assert calm.title == "Calm and fast" and calm.author == "Ana L."
    assert calm.url == httpserver.url_for("/reviews/101")
    assert calm.text == "Nimbus Notes is the first notes app that stays out of my way."
    assert calm.published == datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    assert lost.published == datetime(2026, 11, 18, 17, tzinfo=UTC)
    assert (
        lost.text == "Two days of edits gone after the Nimbus Sync update & no reply from support."
    )
    assert undated.url == httpserver.url_for("/reviews") and undated.native_id.startswith("sha1:")


def test_a_page_where_nothing_matches_is_an_error(httpserver):
    httpserver.expect_request("/changed").respond_with_data(
        "<html><body><p>Redesigned!</p></body></html>"
    )
    fetched = collect_with(webpage.collect, page_source(httpserver.url_for("/changed")))
    assert fetched.error.endswith("no element matches 'article.review'")


def test_webpage_source_requires_selectors():
    import pytest

    from data.config import parse_config
    from data.errors import ConfigError

    with pytest.raises(
        ConfigError,
        match=r"sources\[0\]: a webpage source needs \[sources.selectors\]",
    ):
        parse_config({"sources": [{"id": "p", "kind": "webpage", "url": "https://x.example/"}]})


SHIFT_JIS_PAGE = """<html><head><title>レビュー</title></head><body>
<article class="review"><h3 class="title">Nimbus Notes は速くて静か</h3>
<p class="body">同期が速く、オフラインでもメモを編集できます。毎日使っています。</p></article>
<article class="review"><h3 class="title">Nimbus Notes の同期で困った</h3>
<p class="body">更新のあと、二日分のメモが消えてしまいました。サポートからの返事もありません。</p>
</article></body></html>"""


def test_a_page_in_a_legacy_encoding_is_read_from_its_http_charset_or_detected(httpserver):
    body = SHIFT_JIS_PAGE.encode("shift_jis")
    selectors = {"item": "article.review", "title": ".title", "text": ".body"}
    for path, content_type in (
        ("/declared", "text/html; charset=Shift_JIS"),
        ("/bare", "text/html"),
    ):
        httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
    declared, bare = (
        collect_with(webpage.collect, Source.model_validate(
            {"id": "jp", "kind": "webpage", "url": httpserver.url_for(p), "selectors": selectors}
        ))
        for p in ("/declared", "/bare")
    )  # fmt: skip
    for fetched in (declared, bare):
        assert [m.title for m in fetched.mentions] == [
            "Nimbus Notes は速くて静か",
            "Nimbus Notes の同期で困った",
        ]
    assert declared.encoding_guessed is None and bare.encoding_guessed


def test_links_on_a_page_start_from_its_base_element(httpserver):
    page = b"""<html><head><base href="https://reviews.example/app/"></head><body>
      <article class="review"><h3>Nimbus Notes</h3><a href="r/101">read</a></article>
      <article class="review"><h3>Nimbus Notes again</h3><p>No link.</p></article>
    </body></html>"""
    httpserver.expect_request("/p").respond_with_data(page, content_type="text/html")
    source = Source.model_validate(
        {"id": "p", "kind": "webpage", "url": httpserver.url_for("/p"),
         "selectors": {"item": "article.review"}}
    )  # fmt: skip
    linked, unlinked = collect_with(webpage.collect, source).mentions
    assert linked.url == "https://reviews.example/app/r/101"
    assert unlinked.url == httpserver.url_for("/p")  # the page itself


def test_links_that_cannot_be_resolved_are_no_links_not_the_end_of_the_page(httpserver):
    """A <base href> or a link that no URL parser reads ("http://[::1") once failed the whole
    page, or its item; now the page's own address stands in for it."""
    page = b"""<html><head><base href="http://[::1"></head><body>
      <article><h3>Nimbus Notes is calm</h3><a href="/reviews/1">more</a></article>
      <article><h3>Nimbus Notes again</h3><a href="http://[::2">more</a></article>
    </body></html>"""
    httpserver.expect_request("/reviews").respond_with_data(page, content_type="text/html")
    source = Source.model_validate(
        {"id": "rv", "kind": "webpage", "url": httpserver.url_for("/reviews"),
         "selectors": {"item": "article"}}
    )  # fmt: skip
    fetched = collect_with(webpage.collect, source)
    assert fetched.error is None and fetched.skipped == 0
    assert [m.url for m in fetched.mentions] == [
        httpserver.url_for("/reviews/1"),
        httpserver.url_for("/reviews"),
    ]
