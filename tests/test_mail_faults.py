"""Mail under hostile input and faulty servers: a real SMTP server on 127.0.0.1 (aiosmtpd) that
accepts, refuses (4xx, 5xx), drops the connection in the middle of a DATA transaction, or
hangs while the sender is killed; a real DuckDB file. Every accepted mail arrives exactly once."""

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data import clients, outbox, store
from data.clients import Client
from data.config import AlertRule
from data.outbox import Mail
from data.records import Mention, Score
from notify.alerts import run_alerts
from notify.digest import is_due, slot_start
from notify.email import SendReport, header_value, message, send_pending
from notify.push import push_digests
from notify.rules import hold_until
from tests.conftest import ROOT, Inbox, make_config, smtp_server

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
SENDER = "Tidings <t@example.com>"
REFUNDS = {
    "name": "refunds",
    "kind": "match",
    "any_terms": ["refund"],
    "recipients": ["care@example.com"],
}


class Scripted(Inbox):
    """An SMTP server whose answer to each DATA is scripted: "accept" (the default when the
    script runs out), a reply such as "451 4.3.0 Later", "drop" (the connection is closed
    before the final reply, so the sender cannot know whether the mail arrived: it did not),
    or "hang" (no reply until released; what arrives meanwhile is not kept)."""

    def __init__(self, script=()):
        super().__init__()
        self.script = list(script)
        self.hanging = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        action = self.script.pop(0) if self.script else "accept"
        if action == "drop":
            server.transport.close()
            return "421 4.3.0 closing"  # never reaches the sender
        if action == "hang":
            self.hanging.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 too late"
        if action != "accept":
            return action
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def server():
    with smtp_server(Scripted()) as handler:
        yield handler
        handler.release.set()  # a hanging DATA lets go, so that the server can stop


def smtp_section(port):
    return {"host": "127.0.0.1", "port": port, "security": "none", "sender": SENDER}


def config_for(tmp_path, port, *rules):
    return make_config(tmp_path, [], smtp=smtp_section(port), alerts=list(rules))


def add(config, mentions, when=NOW - timedelta(minutes=10)):
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, mentions, when)
        store.upsert_scores(
            db, [Score(m.id, "v", ("Nimbus Notes",), -0.6, "negative") for m in mentions], when
        )


def mention(i, author, text="Nimbus Notes: I want a refund", reach=None):
    return Mention("forum", f"m{i}", f"https://forum.example/{i}", f"post {i}", text, author,
                   NOW - timedelta(minutes=i), reach)  # fmt: skip


def mail(ident, **changes):
    fields = {
        "id": ident,
        "kind": "alert",
        "rule": "refunds",
        "recipients": ("care@example.com",),
        "subject": f"mail {ident}",
        "text_body": f"body of {ident}",
        "html_body": f"<p>body of {ident}</p>",
        "not_before": NOW,
    }
    return Mail(**{**fields, **changes})


def enqueue(config, *mails):
    with store.connect(config.db_path) as db:
        outbox.enqueue(db, mails, NOW)


def statuses(config):
    with store.connect(config.db_path) as db:
        rows = db.execute("SELECT id, status, last_error FROM outbox").fetchall()
    return {i: (status, error) for i, status, error in rows}


def arrivals(inbox):
    """How many times each mail reached the server, by its Message-ID."""
    return Counter(m["Message-ID"].strip("<>").split("@")[0] for m in inbox.messages)


# --- headers -------------------------------------------------------------------------------


def test_a_header_value_is_one_line_without_control_characters():
    assert header_value("mallory\r\nBcc: x@example.com") == "mallory Bcc: x@example.com"
    assert header_value("a\x00b\x1b[31mc\u2028d\u202ee\ud800f\x85g") == "ab[31mc def g"
    assert header_value("  spaced \t out  ") == "spaced out"


ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=300)  # DuckDB refuses Cs


@settings(max_examples=200, deadline=None)
@given(subject=ANY_TEXT, header=ANY_TEXT, body=ANY_TEXT)
def test_any_text_in_a_subject_or_header_builds_a_mail_with_only_its_own_headers(
    subject, header, body
):
    msg = message(
        mail("x", subject=subject, text_body=body, headers={"List-Unsubscribe": header}), SENDER
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert sorted(parsed.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "List-Unsubscribe",
        "Content-Type", "MIME-Version",
    ])  # fmt: skip
    assert parsed["Subject"] == header_value(subject)
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]


def test_an_author_with_a_line_break_adds_no_header_and_every_mail_goes_once(tmp_path, server):
    """The HTML-to-text of `mallory<br>Bcc: x@example.com` lands in a match alert's subject."""
    config = config_for(tmp_path, server.port, REFUNDS)
    authors = ["@ann", "@bo", "mallory\nBcc: x@example.com", "@cy", "@di"]
    add(config, [mention(i, a) for i, a in enumerate(authors, 1)])

    report = run_alerts(config, NOW)

    assert report.sent.sent == 5 and report.sent.failed == 0
    assert all(m["X-Envelope-To"] == "care@example.com" for m in server.messages)
    assert all(m["Bcc"] is None for m in server.messages)
    subjects = sorted(m["Subject"] for m in server.messages)
    assert "“refund” mention of Nimbus Notes by mallory Bcc: x@example.com" in subjects
    for later in (timedelta(minutes=20), timedelta(hours=1), timedelta(hours=6)):
        assert send_pending(config, NOW + later).sent == 0
    assert sorted(arrivals(server).values()) == [1] * 5
    assert {s for s, _ in statuses(config).values()} == {"sent"}


def test_a_mail_that_cannot_be_built_is_failed_with_its_reason_and_blocks_nothing(tmp_path, server):
    config = config_for(tmp_path, server.port)
    enqueue(
        config,
        mail("good1"),
        mail("bad", headers={"X-Note\nBcc": "x@example.com"}),
        mail("good2"),
    )

    report = send_pending(config, NOW)

    assert (report.sent, report.retrying, report.failed) == (2, 0, 1)
    state = statuses(config)
    assert state["bad"][0] == "failed"
    assert state["bad"][1] == "cannot build this mail: 'X-Note\\nBcc' is not a header name"
    assert send_pending(config, NOW + timedelta(hours=1)) == SendReport()
    assert arrivals(server) == {"good1": 1, "good2": 1}


# --- servers that refuse and drop ----------------------------------------------------------


def test_each_mail_arrives_once_through_refusals_and_a_dropped_connection(tmp_path, server):
    config = config_for(tmp_path, server.port)
    server.script = ["accept", "451 4.3.0 Try again later", "drop", "550 5.1.1 No such user"]
    enqueue(config, *(mail(i) for i in ("a", "b", "c", "d", "e")))

    first = send_pending(config, NOW)

    # The dropped connection is opened again for the mails after it.
    assert (first.sent, first.retrying, first.failed) == (2, 2, 1)
    assert arrivals(server) == {"a": 1, "e": 1}
    state = statuses(config)
    assert state["d"] == ("failed", "SMTP 550 5.1.1 No such user")
    assert state["b"][0] == state["c"][0] == "pending"
    assert send_pending(config, NOW + timedelta(seconds=30)).sent == 0  # not due yet
    assert send_pending(config, NOW + timedelta(minutes=5)).sent == 2
    for later in (timedelta(minutes=20), timedelta(hours=5), timedelta(days=2)):
        assert send_pending(config, NOW + later).sent == 0
    assert arrivals(server) == {"a": 1, "b": 1, "c": 1, "e": 1}


def test_a_sender_killed_in_mid_batch_never_sends_an_accepted_mail_again(tmp_path, server):
    """kill -9 of the sending process while the server holds the second mail's DATA: the first
    mail was accepted and must not go again when the stuck batch is taken up."""
    db_path = tmp_path / "tidings.duckdb"
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{db_path}"\nlock_timeout_seconds = 5\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        f'sender = "{SENDER}"\n'
    )
    config = make_config(tmp_path, [], smtp=smtp_section(server.port))
    enqueue(config, mail("first"), mail("second"), mail("third"))
    server.script = ["accept", "hang"]
    code = (
        "import sys; from datetime import datetime; from data.config import load_config; "
        "from notify.email import send_pending; "
        "send_pending(load_config(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))"
    )
    sender = subprocess.Popen(
        [sys.executable, "-c", code, str(path), NOW.isoformat()], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert server.hanging.wait(60), "the second mail never reached the server"
    finally:
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
    server.release.set()
    assert arrivals(server) == {"first": 1}

    # The third mail was never claimed (mails are claimed one at a time): it goes at once;
    # the second, in flight when the sender died, may still be sending until its claim runs out.
    assert send_pending(config, NOW + timedelta(minutes=5)).sent == 1
    assert arrivals(server) == {"first": 1, "third": 1}
    assert send_pending(config, NOW + timedelta(minutes=16)).sent == 1
    assert arrivals(server) == {"first": 1, "second": 1, "third": 1}


# --- client digests ------------------------------------------------------------------------

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALICE = Client(id="alice", name="Alice", email="alice@example.com", interests=["remote work"],
               hour=8)  # fmt: skip


def digest_setup(tmp_path, port):
    config = make_config(
        tmp_path,
        [{"id": "blog", "url": "https://blog.example/feed", "knowledge": True}],
        smtp=smtp_section(port),
        push={"base_url": "https://feeds.example.com"},
    )
    title = "Remote work\nBcc: x@example.com"
    article = Mention("blog", "a1", "https://blog.example/1", title, "remote work tips", None,
                      MONDAY - timedelta(hours=5))  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [article], MONDAY, knowledge=frozenset({"blog"}))
        clients.save(db, ALICE, MONDAY - timedelta(days=30))
    return config


def channels(config):
    with store.connect(config.db_path) as db:
        return [list(c) for c in clients.history(db, "alice")["channels"]]


def test_a_digest_counts_as_emailed_only_once_its_mail_is_accepted(tmp_path, server):
    config = digest_setup(tmp_path, server.port)
    server.script = ["451 4.3.0 Try again later"]

    report = push_digests(config, MONDAY)

    assert report.sent_to == ["alice"] and report.mail.retrying == 1
    assert channels(config) == [["feed"]]  # in the feed at once, not yet by mail
    assert send_pending(config, MONDAY + timedelta(minutes=5)).sent == 1
    assert channels(config) == [["feed", "email"]]
    (msg,) = server.messages
    assert msg["Subject"] == "For you: Remote work Bcc: x@example.com" and msg["Bcc"] is None


def test_a_digest_whose_mail_is_refused_stays_a_feed_only_delivery(tmp_path, server):
    config = digest_setup(tmp_path, server.port)
    server.script = ["550 5.1.1 No such user"]
    assert push_digests(config, MONDAY).mail.failed == 1
    assert channels(config) == [["feed"]]
    assert server.messages == []


def test_a_mention_without_author_or_reach_says_someone_not_nan(tmp_path, server):
    config = config_for(tmp_path, server.port, {**REFUNDS, "sentiment": "negative"})
    add(config, [mention(1, None), mention(2, "@bo", reach=50)])

    report = run_alerts(config, NOW)

    assert sorted(c.subject for c in report.fired) == [
        "“refund” negative mention of Nimbus Notes by @bo (reach 50)",
        "“refund” negative mention of Nimbus Notes by someone",
    ]
    bodies = [m.get_body(("plain",)).get_content() for m in server.messages]
    bodies += [m.get_body(("html",)).get_content() for m in server.messages]
    assert len(bodies) == 4 and not any("nan" in b for b in bodies)


# --- quiet hours and delivery slots across summer time -------------------------------------
# Europe/London, 2026: clocks go forward 29 March at 01:00 GMT (01:00-02:00 never shows) and
# back 25 October at 02:00 BST (01:00-02:00 shows twice: BST, then GMT).


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def quiet_rule(hours):
    return AlertRule.model_validate({**REFUNDS, "quiet_hours": hours, "timezone": "Europe/London"})


@pytest.mark.parametrize(
    ("hours", "now", "release"),
    [
        # the repeated hour, second time round (GMT): held until 01:50 GMT, not 01:50 BST
        ("22:00-01:50", utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 50)),
        # the repeated hour, first time round (BST)
        ("22:00-01:50", utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 0, 50)),
        ("01:30-03:00", utc(2026, 10, 25, 1, 40), utc(2026, 10, 25, 3, 0)),
        ("22:00-07:00", utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 7, 0)),  # 07:00 GMT
        # 01:30 never shows on 29 March: quiet ends when the clocks jump to 02:00 BST
        ("22:00-01:30", utc(2026, 3, 29, 0, 45), utc(2026, 3, 29, 1, 0)),
        ("22:00-07:00", utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 6, 0)),  # 07:00 BST
        ("22:00-07:00", utc(2026, 3, 29, 12, 0), utc(2026, 3, 29, 12, 0)),  # not quiet
    ],
)
def test_quiet_hours_end_at_the_local_time_across_summer_time_changes(hours, now, release):
    assert hold_until(quiet_rule(hours), now) == release


def test_a_mail_held_in_the_repeated_hour_waits_for_the_second_end_of_quiet_hours(tmp_path, server):
    rule = {**REFUNDS, "quiet_hours": "22:00-01:50", "timezone": "Europe/London"}
    config = config_for(tmp_path, server.port, rule)
    now = utc(2026, 10, 25, 1, 10)  # 01:10 GMT, after 01:10 BST an hour earlier
    late = Mention("forum", "m1", "https://forum.example/1", "post", "I want a refund", "@ann",
                   now - timedelta(minutes=5))  # fmt: skip
    add(config, [late], now - timedelta(minutes=1))

    report = run_alerts(config, now)
    assert report.queued == 1 and report.sent.sent == 0
    assert send_pending(config, utc(2026, 10, 25, 1, 49)).sent == 0
    assert send_pending(config, utc(2026, 10, 25, 1, 50)).sent == 1


def daily(hour):
    return Client(id="dana", name="Dana", email="dana@example.com", interests=["x"], hour=hour,
                  cadence="daily", timezone="Europe/London")  # fmt: skip


def test_a_daily_digest_at_an_hour_shown_twice_goes_once():
    client = daily(1)
    first = utc(2026, 10, 25, 0, 5)  # 01:05 BST
    assert is_due(client, [], first)[0]
    again = utc(2026, 10, 25, 1, 5)  # 01:05 GMT, the same hour on the clock
    assert is_due(client, [first], again) == (False, "this slot's digest already went")
    assert slot_start(client, again) == utc(2026, 10, 25, 0, 0)
    assert is_due(client, [first], utc(2026, 10, 26, 1, 5))[0]  # next day, 01:05 GMT


def test_a_daily_digest_at_an_hour_that_never_shows_goes_when_the_clocks_jump():
    client = daily(1)
    assert slot_start(client, utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 28, 1, 0)
    assert slot_start(client, utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 1, 0)  # 02:00 BST
    assert slot_start(client, utc(2026, 3, 30, 0, 30)) == utc(2026, 3, 30, 0, 0)  # 01:00 BST
