"""Items of a shape nobody expected are skipped, counted and sampled (the first few, as they
came, cut short), on every kind of source, so that a user can report them."""

from __future__ import annotations

import json

from werkzeug import Response

from collectors import hackernews, rss, webpage
from collectors.unexpected import MAX_SAMPLES, SAMPLE_CHARS, Unexpected, sample
from data.config import Source
from tests.conftest import FIXTURES, collect_with, fast_source, recorded


def test_a_hacker_news_hit_of_a_new_shape_is_sampled_as_json(httpserver):
    def handler(request):
        return Response(recorded(f"hackernews/page{request.args.get('page', '0')}.json"))

    httpserver.expect_request("/api/v1/search_by_date").respond_with_handler(handler)
    fetched = collect_with(
        hackernews.collect, fast_source("hackernews", httpserver.url_for("/api/v1"))
    )
    assert fetched.skipped == 1 and len(fetched.samples) == 1
    hit = json.loads(fetched.samples[0])  # the hit without objectID, as the API sent it
    assert "objectID" not in hit and "created_at_i" in hit


def test_only_the_first_few_are_kept_each_cut_short_and_clean():
    skipped = Unexpected()
    for i in range(MAX_SAMPLES + 4):
        skipped.add({"n": i, "body": "x" * 10_000, "odd": "a\x00b\x1bc\ud800d"})
    assert skipped.count == MAX_SAMPLES + 4 and len(skipped.samples) == MAX_SAMPLES
    first = skipped.samples[0]
    assert len(first) == SAMPLE_CHARS + 1 and first.endswith("…")
    assert sample({"odd": "a\x00b\x1bc\ud800d"}) == '{"odd": "a\\u0000b\\u001bc?d"}'
    assert sample("<item>\x00ok\ud800</item>") == "<item>ok?</item>"


def test_a_json_feed_item_of_the_wrong_shape_is_sampled():
    feed = rss.read((FIXTURES / "feeds" / "jsonfeed-1.0.json").read_bytes(), "micro")
    assert feed.skipped == 2
    assert feed.samples == (
        "an item that is not an object",
        '{"id": {"oops": 1}, "content_text": "Nimbus Notes"}',
    )


def test_a_page_element_without_title_or_text_is_sampled_as_markup(httpserver):
    page = b"""<html><body>
      <article class="review"><h3>Nimbus Notes is calm</h3><p>Good.</p></article>
      <article class="review"><img src="/ad.png" alt=""></article>
    </body></html>"""
    httpserver.expect_request("/reviews").respond_with_data(page, content_type="text/html")
    source = Source.model_validate(
        {"id": "rv", "kind": "webpage", "url": httpserver.url_for("/reviews"),
         "selectors": {"item": "article.review"}}
    )  # fmt: skip
    fetched = collect_with(webpage.collect, source)
    assert fetched.skipped == 1
    assert fetched.samples == ('<article class="review"><img alt="" src="/ad.png"/></article>',)


def test_a_json_feed_whose_own_links_are_not_text_still_gives_its_items():
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "feed_url": 5, "home_page_url": ["x"],
        "items": [{"id": "1", "url": "/posts/1", "content_text": "Nimbus Notes is calm"}],
    }).encode()  # fmt: skip
    feed = rss.read(body, "micro", url="https://blog.example/feed.json")
    assert [m.url for m in feed.mentions] == ["https://blog.example/posts/1"]


def test_a_json_feed_item_whose_date_is_no_text_is_kept_with_its_date_unknown():
    body = json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": str(n), "url": f"https://blog.example/{n}", "date_published": when,
                   "content_text": "Nimbus Notes is calm"}
                  for n, when in enumerate([1764000000, ["2026"], {"at": 1}, True])],
    }).encode()  # fmt: skip
    feed = rss.read(body, "micro", url="https://blog.example/feed.json")
    assert len(feed.mentions) == 4 and not feed.skipped
    assert not any(m.published_known for m in feed.mentions)
