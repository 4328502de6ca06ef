"""Knowledge-feed pushes end to end: clients in a real DuckDB file, mail through a real SMTP
server on 127.0.0.1, the feed and unsubscribe endpoint served by uvicorn on 127.0.0.1."""

import socket
import time
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import pytest

from data import clients, store
from data.clients import Client
from data.records import Mention
from notify import web
from notify.push import next_digests, push_digests
from tests.conftest import make_config

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def article(i, title, text="", source="industry-blog", hours_old=5, url=None):
    return Mention(
        source,
        f"a{i}",
        url or f"https://blog.example/{i}",
        title,
        text or title,
        "Editor",
        MONDAY - timedelta(hours=hours_old),
    )


ARTICLES = [
    article(1, "Remote work policies that actually work in 2026"),
    article(2, "Crypto payroll for remote work teams"),
    article(3, "Invoices made simple for small accounting teams"),
    article(4, "Security basics for remote work", source="security-weekly"),
    article(5, "The best pasta recipes of the year"),
]


def setup(tmp_path, smtp, *people, articles=ARTICLES):
    port = free_port()
    config = make_config(
        tmp_path,
        [{"id": "industry-blog", "url": "https://blog.example/feed", "knowledge": True}],
        smtp={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "sender": "News <n@example.com>",
        },
        push={"port": port, "base_url": "https://feeds.example.com"},
    )
    with store.connect(config.db_path) as db:
        store.upsert_mentions(
            db, articles, MONDAY, knowledge=frozenset({"industry-blog", "security-weekly"})
        )
        for person in people:
            clients.save(db, person, MONDAY - timedelta(days=30))
    return config


ALICE = Client(
    id="alice",
    name="Alice",
    email="alice@example.com",
    interests=["remote work", "-crypto"],
    hour=8,
)
BOB = Client(
    id="bob", name="Bob", email="bob@example.com", interests=["accounting", "invoices"], hour=8
)
CARA = Client(
    id="cara", name="Cara", email="cara@example.com", interests=["remote work", "security"], hour=8
)


def received(smtp):
    return {m["X-Envelope-To"]: m for m in smtp.messages}


def titles(msg):
    return msg.get_body(("plain",)).get_content()


def test_three_clients_get_only_their_items_and_a_second_run_sends_nothing(tmp_path, smtp):
    config = setup(tmp_path, smtp, ALICE, BOB, CARA)
    report = push_digests(config, MONDAY)
    assert sorted(report.sent_to) == ["alice", "bob", "cara"] and report.mail.sent == 3
    got = received(smtp)
    alice, bob, cara = (titles(got[f"{n}@example.com"]) for n in ("alice", "bob", "cara"))
    assert "Remote work policies" in alice and "Security basics" in alice
    assert "Crypto" not in alice and "Invoices" not in alice and "pasta" not in alice
    assert "Invoices made simple" in bob and "Remote work" not in bob
    assert "Crypto payroll" in cara and "Security basics" in cara and "Invoices" not in cara
    headers = got["alice@example.com"]
    token = _token(config, "alice")
    assert headers["List-Unsubscribe"].strip() == f"<https://feeds.example.com/unsubscribe/{token}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"https://feeds.example.com/feed/{token}" in titles(headers)

    again = push_digests(config, MONDAY + timedelta(minutes=30))
    assert again.sent_to == [] and len(smtp.messages) == 3
    forced = push_digests(config, MONDAY + timedelta(hours=1), only=["alice"], force=True)
    assert forced.skipped == {"alice": "nothing relevant and new"}  # never the same item twice


def _token(config, client_id):
    with store.connect(config.db_path) as db:
        return next(c.token for c in clients.all_clients(db) if c.id == client_id)


def test_nothing_goes_to_paused_clients_nor_when_nothing_is_relevant(tmp_path, smtp):
    paused = ALICE.model_copy(update={"status": "paused"})
    gardener = Client(
        id="gina", name="Gina", email="gina@example.com", interests=["gardening"], hour=8
    )
    config = setup(tmp_path, smtp, paused, gardener)
    report = push_digests(config, MONDAY)
    assert report.sent_to == [] and smtp.messages == []
    assert report.skipped == {"alice": "the client is paused", "gina": "nothing relevant and new"}


def test_weekly_cadence_waits_for_the_clients_own_hour_and_day(tmp_path, smtp):
    tokyo = ALICE.model_copy(
        update={"timezone": "Asia/Tokyo", "weekday": 1, "hour": 9}
    )  # Tue 09:00
    config = setup(tmp_path, smtp, tokyo)
    assert push_digests(config, MONDAY).sent_to == []  # Monday 18:00 in Tokyo
    assert push_digests(config, datetime(2026, 11, 24, 0, 5, tzinfo=UTC)).sent_to == ["alice"]


@pytest.fixture
def endpoint(tmp_path, smtp):
    config = setup(tmp_path, smtp, ALICE, BOB, CARA)
    server = web.start(config)
    base = f"http://127.0.0.1:{config.push.port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield config, base
    server.should_exit = True


def test_one_click_unsubscribe_stops_the_next_digest(endpoint, smtp):
    config, base = endpoint
    push_digests(config, MONDAY)
    token = _token(config, "bob")
    answer = httpx.post(f"{base}/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    with store.connect(config.db_path) as db:
        store.upsert_mentions(
            db,
            [article(9, "Accounting rules change next year")],
            MONDAY + timedelta(days=6),
            knowledge=frozenset({"industry-blog"}),
        )
    next_week = push_digests(config, MONDAY + timedelta(days=7))
    assert (
        "bob" not in next_week.sent_to and next_week.skipped["bob"] == "the client is unsubscribed"
    )
    assert [m["X-Envelope-To"] for m in smtp.messages].count("bob@example.com") == 1
    page = httpx.get(f"{base}/unsubscribe/{_token(config, 'alice')}")
    assert "<button>Unsubscribe</button>" in page.text and "a***@example.com" in page.text
    with store.connect(config.db_path) as db:  # a GET (a link scanner's) changes nothing
        assert {c.id: c.status for c in clients.all_clients(db)}["alice"] == "active"
    assert httpx.get(f"{base}/unsubscribe/not-a-token").status_code == 404


def test_personal_feed_is_valid_atom_with_what_was_pushed(endpoint, smtp):
    config, base = endpoint
    push_digests(config, MONDAY)
    answer = httpx.get(f"{base}/feed/{_token(config, 'cara')}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/atom+xml"
    )
    feed = feedparser.parse(answer.content)
    assert not feed.bozo and feed.version == "atom10"
    assert feed.feed.title == "Reading for Cara" and feed.feed.id and feed.feed.updated
    assert {e.title for e in feed.entries} == {
        "Remote work policies that actually work in 2026", "Crypto payroll for remote work teams",
        "Security basics for remote work",
    }  # fmt: skip
    for e in feed.entries:
        assert e.id.startswith("urn:tidings:item:") and e.link.startswith("https://") and e.updated
    assert httpx.get(f"{base}/feed/guess").status_code == 404


def test_caps_hold_over_a_simulated_week(tmp_path, smtp):
    eager = ALICE.model_copy(
        update={"cadence": "instant", "max_emails_per_week": 2, "max_items": 1}
    )
    config = setup(tmp_path, smtp, eager, articles=[])
    for day in range(7):
        now = MONDAY + timedelta(days=day)
        with store.connect(config.db_path) as db:
            fresh = Mention(
                "industry-blog",
                f"d{day}",
                f"https://blog.example/d{day}",
                f"Remote work day {day}",
                "remote work",
                None,
                now - timedelta(hours=1),
            )
            store.upsert_mentions(db, [fresh], now, knowledge=frozenset({"industry-blog"}))
        push_digests(config, now)
        push_digests(config, now + timedelta(hours=6))
    assert len(smtp.messages) == 2
    # One item each: one link through the endpoint's redirect.
    assert len(titles(smtp.messages[0]).split("https://feeds.example.com/r/")) == 2


def test_curation_pins_removes_and_adds_a_note(tmp_path, smtp):
    config = setup(tmp_path, smtp, ALICE)
    with store.connect(config.db_path) as db:
        clients.curate(db, "alice", ARTICLES[0].id, "remove", MONDAY)
        clients.curate(db, "alice", ARTICLES[4].id, "pin", MONDAY)
        clients.set_note(db, "alice", "Thought you'd like these, Alice.", MONDAY)
        preview = next_digests(config, db, MONDAY)["alice"]
    assert [p.article["id"] for p in preview] == [ARTICLES[4].id, ARTICLES[3].id]
    assert preview[0].why == "pinned by you" and "remote work" in preview[1].why
    push_digests(config, MONDAY, only=["alice"], force=True)
    body = titles(smtp.messages[0])
    assert "pasta" in body and "Thought you'd like these, Alice." in body and "policies" not in body
    with store.connect(config.db_path) as db:
        assert clients.curation(db, "alice") == {} and clients.note(db, "alice") == ""
        assert len(clients.history(db, "alice")) == 2


def test_csv_import_reports_rejected_rows():
    text = (
        "id,name,email,interests,cadence,timezone\n"
        "ana,Ana,ana@example.com,remote work;security,weekly,Europe/Lisbon\n"
        "bad-mail,Bad,not-an-email,remote work,weekly,UTC\n"
        "noint,No Interests,n@example.com,,daily,UTC\n"
        "tz,Wrong Zone,tz@example.com,tax,daily,Mars/Base\n"
        "dup,Dup,ANA@example.com,tax,daily,UTC\n"
    )
    good, rejected = clients.parse_csv(text)
    assert [r.client.id for r in good] == ["ana"]
    assert good[0].client.interests == ["remote work", "security"]
    assert rejected == [
        "row 3 (not-an-email): email: not an email address (got 'not-an-email')",
        "row 4 (n@example.com): interests: Field required",
        "row 5 (tz@example.com): timezone: unknown timezone 'Mars/Base' (e.g. Europe/Paris) (got 'Mars/Base')",
        "row 6 (ANA@example.com): email: appears twice in the file (first on row 2)",
    ]
    assert clients.parse_csv("name,email\nx,y@z.example\n") == (
        [],
        ["header: missing column(s) id, interests"],
    )


def test_syndicated_copies_of_one_story_count_once(tmp_path, smtp):
    copies = [
        article(1, "Remote work is here to stay, survey says", source="industry-blog"),
        article(
            2,
            "Remote work is here to stay, survey says",
            source="security-weekly",
            url="https://other.example/x",
        ),
        article(3, "Remote work tools compared", source="industry-blog"),
    ]
    config = setup(tmp_path, smtp, ALICE, articles=copies)
    with store.connect(config.db_path) as db:
        picks = next_digests(config, db, MONDAY)["alice"]
    assert sorted(p.article["title"] for p in picks) == [
        "Remote work is here to stay, survey says",
        "Remote work tools compared",
    ]


def test_clients_and_curation_pages(tmp_path, smtp, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    config = setup(tmp_path, smtp, ALICE, BOB)
    push_digests(config, MONDAY, only=["bob"], force=True)
    (tmp_path / "tidings.toml").write_text(f'[database]\npath = "{config.db_path}"\n')
    monkeypatch.setenv("TIDINGS_CONFIG", str(tmp_path / "tidings.toml"))
    st.cache_data.clear()
    views = ROOT / "dashboard" / "views"

    page = AppTest.from_file(str(views / "clients.py"), default_timeout=60)
    page.run()
    assert not page.exception
    assert page.dataframe[0].value["name"].tolist() == ["Alice", "Bob"]
    page.selectbox(key="who").select("bob").run()
    assert page.dataframe[1].value["title"].tolist() == [
        "Invoices made simple for small accounting teams"
    ]
    fields = {t.label: t for t in page.text_input}
    page.selectbox(key="client_choice").select("New client…").run()
    fields = {t.label: t for t in page.text_input}
    fields["Id"].input("dan")
    fields["Name"].input("Dan")
    fields["Email"].input("bob@example.com")  # taken
    fields["Interests (comma-separated; -word excludes)"].input("security")
    page.button[0].click().run()
    assert page.error[0].value == "Not saved: email: another client (bob) already has this address"

    curation = AppTest.from_file(str(views / "curation.py"), default_timeout=60)
    curation.run()
    assert not curation.exception
    shown = {t.value for t in curation.text}
    assert {
        "Security basics for remote work",
        "Remote work policies that actually work in 2026",
    } <= shown
    assert "Invoices made simple for small accounting teams" not in shown
    curation.button(key=f"rm-{ARTICLES[0].id}").click().run()
    assert "Remote work policies that actually work in 2026" not in {t.value for t in curation.text}
    with store.connect(config.db_path) as db:
        assert clients.curation(db, "alice") == {ARTICLES[0].id: "remove"}
