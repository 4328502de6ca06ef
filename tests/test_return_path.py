"""The return path end to end: digests through a real SMTP server on 127.0.0.1, the links in
them followed on the real endpoint (uvicorn on 127.0.0.1), a real DuckDB file in tmp_path."""

import re
import time
from dataclasses import replace
from datetime import date, timedelta

import feedparser
import httpx
import pytest

from data import clients, engagement, store
from data.engagement import ClientDate
from data.records import Mention, Score
from notify import digest, web
from notify.alerts import run_alerts
from notify.care import run_care
from notify.links import Links
from notify.push import push_digests
from tests.conftest import make_config
from tests.test_push import (
    ALICE,
    ARTICLES,
    BOB,
    CARA,
    MONDAY,
    article,
    free_port,
    received,
    titles,
)  # fmt: skip


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
        assert engagement.weights(db, "alice") == {"remote work": 1.1}  # both items matched it
    assert httpx.get(clicks[0]).status_code == 302  # the same link again: kept, not learned
    with store.connect(config.db_path) as db:
        assert engagement.engagement_summary(db)["alice"]["click"] == 2
        assert engagement.weights(db, "alice") == {"remote work": 1.1}


BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}


def test_links_a_machine_opens_redirect_but_are_neither_clicks_nor_learned(served, smtp):
    """Mail scanners and link previews open a digest's links: as the mail arrives, all at once,
    or saying what they are. Each still redirects, but counts as a scan: the engagement rules
    (which offer more mail to a client who clicks a lot) and the interests never see it."""
    config, base = served
    push_digests(config, MONDAY)
    alice = links_in(received(smtp)["alice@example.com"].get_body(("html",)).get_content(),
                     base, "r")  # fmt: skip
    # A scanner opens both links at once: the second shows that the first was a machine's too.
    assert [httpx.get(url, headers=BROWSER).status_code for url in alice] == [302, 302]
    with store.connect(config.db_path) as db:
        assert engagement.engagement_summary(db)["alice"] == {"digests": 1, "scan": 2}
        assert [d.clicks for d in engagement.digest_clicks(db, "alice")] == [0]
        assert engagement.weights(db, "alice") == {"remote work": 1.0}  # learned, taken back
    # Bob's link previewed by a bot that names itself, then clicked by Bob.
    [bob, *_] = links_in(titles(received(smtp)["bob@example.com"]), base, "r")
    preview = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel link check)"}
    assert httpx.get(bob, headers=preview).status_code == 302
    assert httpx.get(bob, headers={"User-Agent": ""}).status_code == 302
    time.sleep(2.1)  # a person, later
    assert httpx.get(bob, headers=BROWSER).status_code == 302
    with store.connect(config.db_path) as db:
        assert engagement.engagement_summary(db)["bob"] == {"digests": 1, "scan": 2, "click": 1}


def test_a_link_opened_as_the_mail_arrives_is_a_scan(tmp_path, smtp):
    config = configure(tmp_path, smtp, ALICE)
    server = start_endpoint(config)
    try:
        push_digests(config, store.utcnow(), ["alice"], force=True)  # a scanner at the gateway
        [url, *_] = links_in(titles(received(smtp)["alice@example.com"]), config.push.public_url,
                             "r")  # fmt: skip
        assert httpx.get(url, headers=BROWSER).status_code == 302
        with store.connect(config.db_path) as db:
            assert engagement.engagement_summary(db)["alice"] == {"digests": 1, "scan": 1}
            assert engagement.weights(db, "alice") == {}
    finally:
        server.should_exit = True


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


def test_engagement_rule_slows_a_quiet_client_tells_the_owner_and_offers_a_busy_one_more(
    tmp_path, smtp
):
    """Alice (daily) never clicks; Bob (weekly) clicks everything. Over two weeks of digests
    the rule slows Alice twice (daily → weekly → fortnightly), each time telling her account
    owner and asking her a check-in, and offers Bob more, which he takes on the endpoint."""
    alice = ALICE.model_copy(update={"cadence": "daily", "owner": "olivia@agency.example"})
    bob = BOB.model_copy(update={"owner": "olivia@agency.example"})
    rule = {"name": "engagement", "kind": "engagement", "quiet_digests": 2, "busy_clicks": 2}
    config = configure(tmp_path, smtp, alice, bob, articles=[], alerts=[rule])
    server = start_endpoint(config)
    base = config.push.public_url
    try:
        for day in range(15):
            now = MONDAY + timedelta(days=day)
            with store.connect(config.db_path) as db:
                fresh = [
                    replace(article(100 + day, f"Remote work lesson {day}"), published=now),
                    replace(article(200 + day, f"Invoices tip {day}"), published=now),
                ]
                store.upsert_mentions(db, fresh, now, knowledge=frozenset({"industry-blog"}))
            seen = len(smtp.messages)
            push_digests(config, now)
            for msg in smtp.messages[seen:]:
                if msg["X-Envelope-To"] == "bob@example.com":
                    # One link a digest: a person opening two at once would read as a scanner.
                    url = links_in(titles(msg), base, "r")[0]
                    assert httpx.get(url).status_code == 302
            run_alerts(config, now + timedelta(hours=1))
        check_the_fortnight(config, smtp, base)
    finally:
        server.should_exit = True


def check_the_fortnight(config, smtp, base):
    to = [(m["X-Envelope-To"], str(m["Subject"])) for m in smtp.messages]
    owner = [s for who, s in to if who == "olivia@agency.example"]
    assert owner == [
        "Alice reads none of their digests: now weekly",
        "Bob clicks a lot: offered daily digests",
        "Alice reads none of their digests: now fortnightly",
    ]
    alice_got = [s for who, s in to if who == "alice@example.com"]
    # Day 0 and 1 daily, a check-in, Monday 7, a check-in, Monday 14, a check-in.
    assert [s.startswith("For you") for s in alice_got] == [True, True, False, True, True, False]
    assert alice_got[2] == config.checkins.question
    with store.connect(config.db_path) as db:
        changes = engagement.cadence_changes(db, "alice")
    assert [(c.previous, c.cadence) for c in changes] == [("weekly", "fortnightly"),
                                                          ("daily", "weekly")]  # fmt: skip
    assert changes[1].reason == "2 digests in a row without a click: daily → weekly"
    # Bob's offer: a page, and its button takes the faster cadence.
    offer = next(m for m in smtp.messages if str(m["Subject"]) == "Your reading list daily?")
    [url] = re.findall(rf"{re.escape(base)}/offer/\S+", titles(offer))
    assert "<button>Yes, more often</button>" in httpx.get(url).text
    assert client(config, "bob").cadence == "weekly"  # a GET changes nothing
    assert httpx.post(url).status_code == 403  # a form on another site cannot take it
    assert "now comes daily" in httpx.post(url, headers={"Origin": base}).text
    assert client(config, "bob").cadence == "daily"
    # Undo, newest first: an overtaken change is not undone before the later one.
    with store.connect(config.db_path) as db:
        first, latest = changes[1].id, changes[0].id
        assert engagement.undo_cadence_change(db, first, "Olivia", MONDAY).startswith("not undone")
        assert engagement.undo_cadence_change(db, latest, "Olivia", MONDAY) == (
            "cadence back to weekly"
        )
        assert engagement.undo_cadence_change(db, first, "Olivia", MONDAY) == (
            "cadence back to daily"
        )
        undone = engagement.cadence_changes(db, "alice")
    assert client(config, "alice").cadence == "daily"
    assert all(c.undone_by == "Olivia" for c in undone)


def test_a_check_in_is_answered_on_the_endpoint_and_a_low_answer_tells_the_owner(tmp_path, smtp):
    alice = ALICE.model_copy(update={"owner": "olivia@agency.example"})
    rule = {"name": "satisfaction", "kind": "satisfaction", "recipients": ["cs@agency.example"]}
    config = configure(tmp_path, smtp, alice, BOB, alerts=[rule], checkins={"every_days": 14})
    server = start_endpoint(config)
    base = config.push.public_url
    try:
        push_digests(config, MONDAY)
        assert run_care(config, MONDAY + timedelta(days=13)).checkins == []  # not yet due
        report = run_care(config, MONDAY + timedelta(days=14))
        assert sorted(report.checkins) == ["alice", "bob"]
        ask = next(m for m in smtp.messages if m["X-Envelope-To"] == "alice@example.com"
                   and str(m["Subject"]) == config.checkins.question)  # fmt: skip
        answers = re.findall(rf"{re.escape(base)}/checkin/[^\"'\s]+", titles(ask))
        assert [a.rsplit("=", 1)[1] for a in answers] == ["1", "2", "3", "4", "5"]
        two = answers[1]
        page = httpx.get(two)  # a mail scanner opens it: nothing is recorded
        assert page.status_code == 200 and "value='2' checked" in page.text
        assert httpx.head(two).status_code == 200
        with store.connect(config.db_path) as db:
            assert [c.answer for c in engagement.checkins(db, "alice")] == [None]
        assert httpx.post(two, data={"answer": "9"}).status_code == 400
        forged = two.replace("/checkin/", "/checkin/x")
        assert httpx.get(forged).status_code == 404
        comment = "<script>alert(1)</script> too much crypto"
        answer = httpx.post(two, data={"answer": "2", "comment": comment})
        assert answer.status_code == 200 and "Thank you" in answer.text
        with store.connect(config.db_path) as db:
            [got] = engagement.checkins(db, "alice")
        assert (got.answer, got.comment) == (2, comment)
        run_alerts(config, MONDAY + timedelta(days=14, hours=2))
        told = [m for m in smtp.messages if m["X-Envelope-To"] ==
                "olivia@agency.example, cs@agency.example"]  # fmt: skip
        assert [str(m["Subject"]) for m in told] == [
            "Alice is less satisfied: answered 2 of 5 (at or below 2)"
        ]
        html = told[0].get_body(("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html
        run_alerts(config, MONDAY + timedelta(days=14, hours=3))
        assert len([m for m in smtp.messages if "less satisfied" in str(m["Subject"])]) == 1
    finally:
        server.should_exit = True


def test_a_drop_between_answers_fires_and_thumbs_check_ins_compare(tmp_path, smtp):
    alice = ALICE.model_copy(update={"owner": "olivia@agency.example"})
    rule = {"name": "satisfaction", "kind": "satisfaction"}
    config = configure(tmp_path, smtp, alice, alerts=[rule],
                       checkins={"every_days": 7, "scale": "thumbs"})  # fmt: skip
    server = start_endpoint(config)
    base = config.push.public_url
    try:
        push_digests(config, MONDAY)
        for week, choice in ((1, "👍"), (2, "👎")):
            seen = len(smtp.messages)
            run_care(config, MONDAY + timedelta(days=7 * week))
            [ask] = smtp.messages[seen:]
            links = dict(re.findall(rf"  (\S+): ({re.escape(base)}/checkin/\S+)", titles(ask)))
            assert set(links) == {"👍", "👎"}
            value = links[choice].rsplit("=", 1)[1]
            assert httpx.post(links[choice], data={"answer": value}).status_code == 200
            run_alerts(config, MONDAY + timedelta(days=7 * week, hours=1))
    finally:
        server.should_exit = True
    told = [str(m["Subject"]) for m in smtp.messages if "olivia" in m["X-Envelope-To"]]
    assert told == ["Alice is less satisfied: answered 1 of 5 (at or below 2)"]


def test_a_digest_says_how_often_others_talk_about_each_interest_when_the_client_wants_it(
    tmp_path, smtp
):
    talkative = CARA.model_copy(update={"others_talking": True})
    config = configure(tmp_path, smtp, talkative, ALICE)
    said = [  # four people on security this week (three positive), one last month
        (f"p{i}", f"Person {i}", "Security <b>matters</b>", label, MONDAY - timedelta(days=i))
        for i, label in enumerate(["positive", "positive", "negative", "positive"], start=1)
    ] + [("old", "Old Timer", "security then", "positive", MONDAY - timedelta(days=30))]
    talk = [Mention("forum", n, f"https://forum.example/{n}", t, t, who, when, None)
            for n, who, t, _, when in said]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, talk, MONDAY)
        store.upsert_scores(
            db,
            [Score(m.id, "test", (), 0.5 if label == "positive" else -0.5, label)
             for m, (_, _, _, label, _) in zip(talk, said, strict=True)],
            MONDAY,
        )  # fmt: skip
    push_digests(config, MONDAY)
    got = received(smtp)
    cara = titles(got["cara@example.com"])
    # "Editor" wrote "Security basics for remote work" (not scored) and the remote-work items.
    assert "* This week 5 people talked about security, 75 % of them positively." in cara
    assert "* This week 1 person talked about remote work." in cara
    assert "talked about" in got["cara@example.com"].get_body(("html",)).get_content()
    assert "talked about" not in titles(got["alice@example.com"])  # off by default


def test_client_dates_remind_the_owner_ahead_and_the_client_if_chosen(tmp_path, smtp):
    alice = ALICE.model_copy(update={"owner": "olivia@agency.example"})
    config = configure(tmp_path, smtp, alice, BOB)
    today = MONDAY.date()
    with store.connect(config.db_path) as db:
        for d in (
            ClientDate("r1", "alice", "renewal", today + timedelta(days=10), "Contract <v2>", 7,
                       tell_client=True),
            ClientDate("a1", "alice", "anniversary", date(2019, 11, 25), "", 3, yearly=True),
            ClientDate("f1", "bob", "follow-up", today + timedelta(days=1)),  # Bob has no owner
        ):  # fmt: skip
            engagement.add_date(db, d)
    for day in range(12):
        run_care(config, MONDAY + timedelta(days=day))
    got = [(m["X-Envelope-To"], str(m["Subject"])) for m in smtp.messages]
    assert got == [
        ("olivia@agency.example", "Alice: anniversary in 2 days (Wed 25 Nov)"),
        ("olivia@agency.example", "Alice: renewal in 7 days (Thu 03 Dec): Contract <v2>"),
        ("alice@example.com", "A reminder: your renewal in 7 days (Thu 03 Dec)"),
    ]
    html = smtp.messages[1].get_body(("html",)).get_content()
    assert "Contract &lt;v2&gt;" in html
    with store.connect(config.db_path) as db:
        anniversary = next(d for d in engagement.dates(db, "alice") if d.id == "a1")
    assert anniversary.reminded_for == date(2026, 11, 25)  # and again next year
    assert digest.reminder_due(date(2019, 11, 25), True, 3, date(2026, 11, 25),
                               date(2027, 11, 22)) == date(2027, 11, 25)  # fmt: skip


def test_the_clients_page_shows_what_came_back_and_undoes_a_cadence_change(
    tmp_path, smtp, monkeypatch
):
    from tests.conftest import open_view

    alice = ALICE.model_copy(update={"cadence": "daily", "owner": "olivia@agency.example"})
    config = configure(tmp_path, smtp, alice, BOB)
    push_digests(config, MONDAY)
    with store.connect(config.db_path) as db:
        item = sorted(clients.delivered_ids(db, "alice"))[0]
        engagement.record_event(db, "alice", "click", item, "d", MONDAY)
        engagement.record_event(db, "alice", "less", item, "d", MONDAY)
        engagement.set_weights(db, "alice", {"remote work": 0.8}, "learned", MONDAY)
        engagement.change_cadence(
            db, "alice", "weekly", "3 digests in a row without a click: daily → weekly",
            "engagement", MONDAY,
        )  # fmt: skip
        for week, answer in ((1, 4), (2, 2)):
            ask = engagement.Checkin(f"c{week}", "alice", "Useful?", "1-5",
                                     MONDAY + timedelta(days=7 * week))  # fmt: skip
            engagement.add_checkin(db, ask)
            engagement.answer_checkin(db, ask.id, answer, "<b>meh</b>",
                                      ask.sent_at + timedelta(hours=1))  # fmt: skip
        engagement.add_date(db, ClientDate("r1", "alice", "renewal", date(2027, 1, 5), "v2"))
    toml = f'[database]\npath = "{config.db_path}"\n'
    page = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "clients")
    assert not page.exception
    page.selectbox(key="who").select("alice").run()
    assert not page.exception
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["Digests received"] == "1" and metrics["Clicks"] == "1"
    assert metrics["More / less like this"] == "0 / 1" and metrics["Last check-in"] == "2 of 5"
    weights = next(df.value for df in page.dataframe if "interest" in df.value.columns)
    assert weights.to_dict("records") == [
        {"interest": "remote work", "weight": 0.8, "changed by": "learned"}
    ]
    shown = " ".join(m.value for m in page.markdown)
    assert "daily → **weekly**" in shown and "without a click" in shown
    page.button(key=next(b.key for b in page.button if b.key.startswith("undo_"))).click().run()
    assert not page.exception
    assert client(config, "alice").cadence == "daily"
    assert "undone by" in " ".join(m.value for m in page.markdown)
    answers = next(df.value for df in page.dataframe if "answer" in df.value.columns)
    assert answers["answer"].tolist() == [2, 4] and answers["comment"][0] == "<b>meh</b>"


def test_learned_weights_reorder_the_digest_and_stay_within_bounds():
    from nlp.interests import Match
    from notify.digest import learn, pick

    cara = CARA.model_copy(update={"max_items": 1})
    articles = {a.id: {"id": a.id, "title": a.title, "text": a.text, "url": a.url,
                       "source": a.source, "published": a.published} for a in ARTICLES}  # fmt: skip
    remote, security = ARTICLES[0].id, ARTICLES[3].id
    matches = [
        Match(remote, ("remote work",), True, 0.0),
        Match(security, ("security",), True, 0.0),
    ]
    assert pick(cara, matches, articles, set(), {}, MONDAY)[0].article["id"] == remote
    weights: dict[str, float] = {}
    for _ in range(3):  # "less like this" on remote work, three times
        weights |= learn(weights, ["Remote Work"], "less")
    assert weights == {"remote work": 0.1}
    [top] = pick(cara, matches, articles, set(), {}, MONDAY, weights)
    assert top.article["id"] == security
    for _ in range(20):
        weights |= learn(weights, ["remote work"], "more")
    assert weights["remote work"] == 3.0


def test_the_demo_shows_a_slowed_cadence_and_an_answered_check_in(tmp_path, smtp):
    from importlib import resources

    from flows.demo import seed_return_path

    config = configure(tmp_path, smtp)
    text = resources.files("data").joinpath("demo/clients.csv").read_text("utf-8")
    with store.connect(config.db_path) as db:
        clients.import_csv(db, text, MONDAY)
    said = seed_return_path(config, MONDAY + timedelta(days=1))
    assert said == (
        "Northwind clicked none of three digests: now fortnightly, and answered their check-in "
        "3 of 5."
    )
    subjects = {(m["X-Envelope-To"], str(m["Subject"])) for m in smtp.messages}
    assert ("sam@nimbusnotes.example",
            "Northwind Remote reads none of their digests: now fortnightly") in subjects  # fmt: skip
    assert ("ops@northwind.example", config.checkins.question) in subjects


def test_a_cadence_change_undone_and_made_again_at_once_is_a_second_change(tmp_path, smtp):
    config = configure(tmp_path, smtp, ALICE)
    with store.connect(config.db_path) as db:
        first = engagement.change_cadence(db, "alice", "daily", "offer", None, MONDAY)
        engagement.undo_cadence_change(db, first.id, "Olivia", MONDAY)
        again = engagement.change_cadence(db, "alice", "daily", "offer", None, MONDAY)
        assert again is not None and again.id != first.id
        assert len(engagement.cadence_changes(db, "alice")) == 2
