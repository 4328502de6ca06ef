"""The clients' endpoint (unsubscribe, resubscribe, Atom feed) through Starlette's test client,
over a real DuckDB file in tmp_path."""

import re
import warnings
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from data import clients, store
from data.clients import Client
from data.records import Mention
from notify import web
from notify.digest import Pick
from notify.email import message
from notify.push import render_digest
from tests.conftest import make_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette prefers httpx2 for its test client
    from starlette.testclient import TestClient

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BASE = "https://feeds.example.com"
ALICE = Client(id="alice", name="Alice", email="alice@example.com", interests=["remote work"])


@pytest.fixture
def endpoint(tmp_path):
    config = make_config(tmp_path, [], push={"base_url": BASE})
    with store.connect(config.db_path) as db:
        alice = clients.save(db, ALICE, NOW - timedelta(days=30))
    with TestClient(web.create_app(config), base_url=BASE) as http:
        yield config, http, alice.token


def status(config):
    with store.connect(config.db_path) as db:
        return next(c.status for c in clients.all_clients(db) if c.id == "alice")


def forms(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<form method='post' action='([^']*)'>.*?<button>([^<]*)</button>", page)


def test_get_and_head_show_one_button_and_change_nothing(endpoint):
    config, http, token = endpoint
    for method in ("GET", "HEAD"):
        answer = http.request(method, f"/unsubscribe/{token}")
        assert answer.status_code == 200 and status(config) == "active"
    page = http.get(f"/unsubscribe/{token}").text
    assert forms(page) == [("", "Unsubscribe")]  # one button, POSTing to this same URL
    assert "a***@example.com" in page and "alice@example.com" not in page
    assert http.get("/unsubscribe/not-a-token").status_code == 404


def test_the_one_click_post_from_the_mails_header_unsubscribes(endpoint):
    config, http, token = endpoint
    with store.connect(config.db_path) as db:
        alice = next(c for c in clients.all_clients(db) if c.id == "alice")
    article = {
        "id": "m1", "title": "Remote work", "text": "", "url": "https://blog.example/1",
        "author": None, "source": "blog", "published": NOW,
    }  # fmt: skip
    digest = render_digest(config, alice, [Pick(article, 1.0, "")], "", NOW, secret=b"k")
    mail = message(digest, "n@example.com")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].strip().strip("<>")
    assert url == f"{BASE}/unsubscribe/{token}"
    # What a mail provider sends (RFC 8058): a POST from its own servers, no Origin, no cookie.
    answer = http.post(url, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and status(config) == "unsubscribed"
    assert "a***@example.com" in answer.text and "alice@example.com" not in answer.text
    assert forms(answer.text) == [(f"../resubscribe/{token}", "Subscribe me again")]
    with store.connect(config.db_path) as db:
        assert clients.status_log(db, "alice")[-1][1:] == (
            "unsubscribed", "active", "client (unsubscribe link)",
        )  # fmt: skip
    page = http.get(url).text  # an unsubscribed client's link offers the way back
    assert forms(page) == [(f"../resubscribe/{token}", "Subscribe me again")]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://evil.feeds.example.com"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/feeds.example.com/"},
        {},
    ],
)
def test_resubscribe_refuses_a_post_from_another_site(endpoint, headers):
    config, http, token = endpoint
    http.post(f"/unsubscribe/{token}")
    answer = http.post(f"/resubscribe/{token}", headers=headers)
    assert answer.status_code == 403 and status(config) == "unsubscribed"
    assert "button on the page of your unsubscribe link" in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": BASE},
        {"Origin": BASE},
        {"Origin": "https://FEEDS.example.com:443"},
        {"Referer": f"{BASE}/unsubscribe/x"},
    ],
)
def test_resubscribe_from_the_endpoints_own_page_subscribes_again(endpoint, headers):
    config, http, token = endpoint
    http.post(f"/unsubscribe/{token}")
    answer = http.post(f"/resubscribe/{token}", headers=headers)
    assert answer.status_code == 200 and status(config) == "active"
    with store.connect(config.db_path) as db:
        assert clients.status_log(db, "alice")[-1][1:] == (
            "active", "unsubscribed", "client (undo link)",
        )  # fmt: skip


def test_resubscribe_never_unpauses_a_client_the_operator_paused(endpoint):
    config, http, token = endpoint
    with store.connect(config.db_path) as db:
        clients.save(db, ALICE.model_copy(update={"status": "paused"}), NOW)
    answer = http.post(f"/resubscribe/{token}", headers={"Origin": BASE})
    assert answer.status_code == 200 and status(config) == "paused"


# --- the client's Atom feed ----------------------------------------------------------------


def deliver(config, *mentions):
    """Store mentions and record them as pushed to alice's feed."""
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, list(mentions), NOW, knowledge=frozenset({"blog"}))
        clients.record_delivery(db, "alice", [m.id for m in mentions], ["feed"], "d1", NOW)


def article(i, title, author=None, text="", url=None):
    return Mention(
        "blog", f"a{i}", url or f"https://blog.example/{i}", title, text or title, author,
        NOW - timedelta(hours=i),
    )  # fmt: skip


def valid_atom(body: bytes):
    ET.fromstring(body)  # well-formed XML, or this raises
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    return feed


def test_an_item_without_author_is_valid_atom_never_nan(endpoint):
    config, http, token = endpoint
    deliver(config, article(1, "No author here"), article(2, "Signed", author="Editor"))
    answer = http.get(f"/feed/{token}")
    assert answer.status_code == 200
    feed = valid_atom(answer.content)
    assert [e.get("author") for e in feed.entries] == [None, "Editor"]
    assert b"nan" not in answer.content.lower()


def test_control_characters_in_stored_text_still_give_valid_atom(endpoint):
    config, http, token = endpoint
    deliver(config, article(1, "placeholder"))
    with store.connect(config.db_path) as db:  # as older passes may have stored them
        db.execute(
            "UPDATE mentions SET title = ?, text = ?, author = ?",
            ["Red \x1b[31malert\x07", "bell \x07 and \x0c form feed\x00", "ed\x1bitor"],
        )
    feed = valid_atom(http.get(f"/feed/{token}").content)
    entry = feed.entries[0]
    assert entry.title == "Red [31malert" and entry.author == "editor"
    assert entry.summary == "bell  and  form feed"


def test_lone_surrogates_and_controls_anywhere_give_valid_atom():
    client = ALICE.model_copy(update={"name": "Al\ud800ice\x1b", "token": "t"})
    items = [
        {
            "id": "m\udfff1", "title": "T\ud83d", "text": "\x1b" * 3 + "x", "url": "https://b.example/\x01",
            "author": float("nan"), "published": NOW.replace(tzinfo=None),
            "delivered_at": NOW.replace(tzinfo=None),
        }
    ]  # fmt: skip
    feed = valid_atom(web.atom_feed(f"{BASE}/feed/t", client, items, NOW))
    assert feed.feed.title == "Reading for Alice" and "author" not in feed.entries[0]


def test_the_self_link_comes_from_the_config_never_the_host_header(endpoint):
    config, http, token = endpoint
    answer = http.get(f"/feed/{token}", headers={"Host": "evil.example"})
    feed = valid_atom(answer.content)
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [f"{BASE}/feed/{token}"]
    assert b"evil.example" not in answer.content
