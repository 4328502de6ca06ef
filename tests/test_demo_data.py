"""The demo's recorded data as a newcomer reads it: each site writes in its own voice (news as
news, the company as "we", customers with their own details), one site's posts are not copies
of each other, and the recorded files are exactly what bench/feedgen.py writes."""

import json
import re
from datetime import datetime

import pytest

from bench import feedgen
from collectors import rss
from data.config import load_config
from flows.demo import prepare_demo
from nlp import build_scorer
from nlp.duplicates import SIMILAR, similarity
from tests.conftest import DEMO_FEEDS

NEWS_SITES = ["technews", "startup-news"]
WRITTEN = ["technews", "startup-news", "productivity-blog", "nimbus-blog"]  # not customers'
RSS_FEEDS = [*WRITTEN, "app-reviews", "community-forum"]


def files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def items(stem: str) -> list:
    return rss.parse_feed((DEMO_FEEDS / f"{stem}.xml").read_bytes(), stem)


def template(text: str) -> re.Pattern:
    """A sentence template of the generator as a pattern: each {slot} matches any words."""
    parts = re.split(r"\{\w+\}", text)
    return re.compile(".+?".join(re.escape(p) for p in parts))


def test_the_recorded_demo_data_is_what_the_generator_writes(tmp_path):
    feedgen.write_demo_feeds(tmp_path)
    feedgen.write_demo_social(tmp_path)
    ours, recorded = files(tmp_path), files(DEMO_FEEDS)
    assert sorted(ours) == sorted(recorded)
    stale = [name for name in ours if ours[name] != recorded[name]]
    assert not stale, f"{stale}: run `python -m bench.feedgen` and commit data/demo/recorded"


@pytest.mark.parametrize("stem", WRITTEN)
def test_articles_and_company_posts_carry_no_customers_details(stem):
    customer = [template(t) for t in feedgen.CUSTOMER.about + feedgen.CUSTOMER.general]
    for m in items(stem):
        said = [p.pattern for p in customer if p.search(m.text)]
        assert not said, f"{stem}: {m.title!r} says {said}"


@pytest.mark.parametrize("stem", NEWS_SITES)
def test_news_articles_are_written_in_the_third_person(stem):
    for m in items(stem):
        text = f"{m.title}. {m.text}"
        assert not re.search(r"\b(I|I'm|I've|me|my)\b", text), f"{stem}: {text}"


def test_knowledge_articles_the_bookkeeping_client_wants_are_about_bookkeeping():
    """Harbor Accounting asks for bookkeeping, jobs reports and small businesses: the news
    articles naming these are about them, not customers' asides."""
    for stem in NEWS_SITES:
        for m in items(stem):
            if re.search(r"bookkeeping|jobs report|small businesses", m.text, re.I):
                assert re.search(r"bookkeeping|jobs report|small businesses", m.title, re.I), (
                    f"{stem}: {m.title!r} names a client's interest only in passing: {m.text}"
                )


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    config = load_config(prepare_demo(workdir, "http://127.0.0.1:9"))
    return build_scorer(config.watch)


@pytest.mark.parametrize("stem", RSS_FEEDS)
def test_no_post_has_more_than_one_near_copy_on_its_own_site(stem, scorer):
    """The near-duplicate grouping counts copies as one story: a site whose posts were
    near-copies of each other would show few stories and a wrong picture."""
    signatures = [s.fingerprint for _, s in scorer.score(items(stem)) if s.fingerprint]
    assert len(signatures) > 0.3 * len(items(stem))  # the posts about watched terms
    for i, a in enumerate(signatures):
        copies = sum(similarity(a, b) >= SIMILAR for j, b in enumerate(signatures) if j != i)
        assert copies <= 1, f"{stem}: post {i} has {copies} near copies"


def test_posts_sharing_the_post_mortem_come_after_it_and_speak_of_it():
    published = feedgen.POST_MORTEM_AT.timestamp()
    root = DEMO_FEEDS
    hn = json.loads((root / "hn/api/v1/search_by_date").read_bytes())["hits"]
    reddit = json.loads((root / "reddit/search.json").read_bytes())["data"]["children"]
    mastodon = json.loads((root / "mastodon/api/v1/timelines/tag/nimbusnotes").read_bytes())
    bluesky = json.loads((root / "bsky/xrpc/app.bsky.feed.searchPosts").read_bytes())["posts"]

    def epoch(iso: str) -> float:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

    shares = (
        [(h["created_at_i"], h["title"]) for h in hn if h.get("url") == feedgen.SHARED_LINK]
        + [(c["data"]["created_utc"], c["data"]["title"]) for c in reddit
           if c["data"].get("url") == feedgen.SHARED_LINK]
        + [(epoch(s["created_at"]), s["content"]) for s in mastodon
           if (s["card"] or {}).get("url") == feedgen.SHARED_LINK]
        + [(epoch(p["record"]["createdAt"]), p["record"]["text"]) for p in bluesky
           if "embed" in p["record"]]
    )  # fmt: skip
    assert len(shares) >= 4
    for when, text in shares:
        assert when > published, text
        assert re.search(r"post-mortem|outage", text), text
