"""The return path end to end: digests through a real SMTP server on 127.0.0.1, the links in
them followed on the real endpoint (uvicorn on 127.0.0.1), a real DuckDB file in tmp_path."""

import re
import time
from datetime import timedelta

import feedparser
import httpx
import pytest

from data import clients, engagement, store
from notify import web
from notify.links import Links
from notify.push import push_digests
from tests.conftest import make_config
from tests.test_push import ALICE, ARTICLES, BOB, CARA, MONDAY, free_port, received, titles


def start_endpoint(config):
    server = web.start(config)
    base = config.push.public_url
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return server


def configure(tmp_path, smtp, *people, articles=ARTICLES, **sections):
    port = free_port()
    config = make_config(
        tmp_path,
        [{"id": "industry-blog", "url": "https://blog.example/feed", "knowledge": True}],
        smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none",
              "sender": "News <n@example.com>"},
        push={"address": "127.0.0.1", "port": port, **sections.pop("push", {})},
        **sections,
    )  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(
            db, articles, MONDAY, knowledge=frozenset({"industry-blog", "security-weekly"})
        )
        for person in people:
            clients.save(db, person, MONDAY - timedelta(days=30))
    return config


@pytest.fixture
def served(tmp_path, smtp):
    config = configure(tmp_path, smtp, ALICE, BOB, CARA)
    server = start_endpoint(config)
    yield config, config.push.public_url
    server.should_exit = True


def client(config, cid):
    with store.connect(config.db_path) as db:
        return next(c for c in clients.all_clients(db) if c.id == cid)


def links_in(text, base, kind):
    return re.findall(rf"{re.escape(base)}/{kind}/[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+", text)


def test_a_click_in_the_mail_redirects_to_the_article_and_is_kept(served, smtp):
    config, base = served
    push_digests(config, MONDAY)
    mail = received(smtp)["alice@example.com"]
    html = mail.get_body(("html",)).get_content()
    clicks = links_in(html, base, "r")
    assert len(clicks) == 2 and "https://blog.example/" not in html  # every link tracked
    assert set(links_in(titles(mail), base, "r")) == set(clicks)  # the text part's too
    answer = httpx.get(clicks[0])
    assert answer.status_code == 302 and answer.headers["location"].startswith(
        "https://blog.example/"
    )
    assert httpx.head(clicks[1]).status_code == 302  # a scanner's HEAD counts for nothing
    with store.connect(config.db_path) as db:
        assert engagement.engagement_summary(db)["alice"] == {"digests": 1, "click": 1}
        [digest] = engagement.digest_clicks(db, "alice")
        assert digest.clicks == 1
        learned = engagement.weights(db, "alice")
    assert learned == {"remote work": 1.1}  # both items matched "remote work"


def test_forged_unknown_or_foreign_links_are_a_404_page_never_a_redirect(served, smtp):
    config, base = served
    push_digests(config, MONDAY)
    [first, _] = links_in(received(smtp)["alice@example.com"].get_body(("html",)).get_content(),
                          base, "r")  # fmt: skip
    token, segment = first.rsplit("/", 2)[-2:]
    item, sig = segment.split(".")
    bob = client(config, "bob")
    with store.connect(config.db_path) as db:
        secret = engagement.link_secret(db)
        bobs_item = next(iter(clients.delivered_ids(db, "bob")))
    forged = [
        f"{base}/r/{token}/{item}.{sig[:-2]}AA",  # signature changed
        f"{base}/r/{token}/{item}",  # no signature
        f"{base}/r/{bob.token}/{segment}",  # Alice's signed item under Bob's token
        f"{base}/r/not-a-token/{segment}",
        # Signed correctly, but Alice never received Bob's item: still no redirect.
        Links(base, secret, client(config, "alice")).click(bobs_item),
        f"{base}/r/{token}/{item}.{sig}?url=https://evil.example",  # no URL from the link
    ]
    for url in forged[:-1]:
        answer = httpx.get(url)
        assert answer.status_code == 404 and "location" not in answer.headers, url
        assert "This link is not valid" in answer.text
    assert httpx.get(forged[-1]).headers["location"].startswith("https://blog.example/")
    with store.connect(config.db_path) as db:
        assert engagement.engagement_summary(db)["alice"].get("click") == 1


def test_the_feed_links_go_through_the_redirect_too(served, smtp):
    config, base = served
    push_digests(config, MONDAY)
    cara = client(config, "cara")
    feed = feedparser.parse(httpx.get(f"{base}/feed/{cara.token}").content)
    assert feed.entries and all(e.link.startswith(f"{base}/r/{cara.token}/") for e in feed.entries)
    answer = httpx.get(feed.entries[0].link)
    assert answer.status_code == 302 and answer.headers["location"].startswith("https://")


def test_more_and_less_like_this_open_a_page_whose_button_moves_the_weights(served, smtp):
    config, base = served
    push_digests(config, MONDAY)
    text = titles(received(smtp)["cara@example.com"])
    more = links_in(text, base, "more")
    less = links_in(text, base, "less")
    assert len(more) == len(less) == 3
    for url in more[:1] + less[:1]:  # what a mail scanner does: nothing recorded
        assert httpx.get(url).status_code == 200 and httpx.head(url).status_code == 200
    with store.connect(config.db_path) as db:
        assert engagement.weights(db, "cara") == {}
    page = httpx.get(more[0]).text
    assert "<button>More like this, please</button>" in page
    # The three items: "Remote work policies…", "Crypto payroll for remote work…",
    # "Security basics for remote work". Which is which in the mail's order:
    order = re.findall(r"^\d+\. (.+?)\r?$", text, re.M)
    security = order.index("Security basics for remote work")
    assert httpx.post(more[security]).status_code == 200
    crypto = order.index("Crypto payroll for remote work teams")
    assert "fewer items like" in httpx.post(less[crypto]).text
    with store.connect(config.db_path) as db:
        assert engagement.weights(db, "cara") == {"remote work": 1.0, "security": 1.3}
        kinds = engagement.events(db, "cara")["kind"].tolist()
    assert sorted(kinds) == ["less", "more"]


def test_opens_are_not_tracked_unless_enabled(tmp_path, smtp):
    config = configure(tmp_path, smtp, ALICE)
    push_digests(config, MONDAY)
    assert "/o/" not in received(smtp)["alice@example.com"].get_body(("html",)).get_content()
    assert not config.push.track_opens


def test_opens_are_tracked_when_enabled(tmp_path, smtp):
    config = configure(tmp_path, smtp, ALICE, push={"track_opens": True})
    server = start_endpoint(config)
    try:
        push_digests(config, MONDAY)
        html = received(smtp)["alice@example.com"].get_body(("html",)).get_content()
        [pixel] = links_in(html, config.push.public_url, "o")
        answer = httpx.get(pixel)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
        with store.connect(config.db_path) as db:
            assert engagement.engagement_summary(db)["alice"]["open"] == 1
    finally:
        server.should_exit = True
