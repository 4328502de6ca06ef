"""The Act side attacked as the real world would: hostile addresses, SMTP servers that refuse
some recipients, ask for a password we get wrong or answer slowly, beside good mail; a real
SMTP server on 127.0.0.1 (aiosmtpd), a real DuckDB file, the real web endpoint. Each attack
stands beside a good mail, which must arrive exactly once."""

import email
import email.policy
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from data import clients, inbox, store, users
from data.clients import Client
from data.errors import ConfigError
from data.records import Mention, Score
from data.text import clean_mention, clean_text
from flows.cli import main
from notify import care, web
from notify.alerts import run_alerts
from notify.digest import Pick
from notify.email import SendReport, message, send_pending
from notify.push import push_digests, render_digest
from tests.conftest import Inbox, make_config, smtp_server
from tests.test_mail_faults import (
    NOW,
    REFUNDS,
    Scripted,
    arrivals,
    enqueue,
    mail,
    smtp_section,
    statuses,
)

MONDAY = NOW.replace(day=23, hour=9, minute=0)  # 09:00 UTC, a Monday
READERS = [
    Client(id="alice", name="Alice", email="alice@example.com", interests=["remote work"]),
    Client(id="bob", name="Bob", email="bob@example.com", interests=["remote work"]),
]


def push_setup(tmp_path, port, readers=READERS, articles=None):
    """A knowledge source's articles and clients due their weekly digest at MONDAY."""
    config = make_config(
        tmp_path,
        [{"id": "blog", "url": "https://blog.example/feed", "knowledge": True}],
        smtp=smtp_section(port),
        push={"base_url": "https://feeds.example.com"},
    )
    articles = articles or [
        Mention("blog", f"a{i}", f"https://blog.example/{i}", f"Remote work, part {i}",
                "remote work tips", "Editor", MONDAY - timedelta(hours=5 + i))
        for i in range(3)
    ]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, articles, MONDAY, knowledge=frozenset({"blog"}))
        for reader in readers:
            clients.save(db, reader, MONDAY - timedelta(days=30))
    return config


def store_negative(db, posts, at) -> None:
    """Store these posts, each read negative about Nimbus Notes, at `at`."""
    store.upsert_mentions(db, posts, at)
    store.upsert_scores(
        db, [Score(m.id, "v", ("Nimbus Notes",), -0.6, "negative") for m in posts], at
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class running:
    """An aiosmtpd server on 127.0.0.1 with options of its own (authentication, no
    SMTPUTF8), as a context manager yielding its handler (with `.port`)."""

    def __init__(self, handler: Inbox, **options):
        self.handler, self.options = handler, options

    def __enter__(self) -> Inbox:
        self.handler.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.handler.port, **self.options
        )
        self.controller.start()
        return self.handler

    def __exit__(self, *exc) -> None:
        self.controller.stop()


# --- the server refuses our password -------------------------------------------------------


def test_a_wrong_smtp_password_holds_the_mail_and_the_right_one_sends_it(tmp_path, monkeypatch):
    """A password that expired (or a variable lost in a restart) is the operator's to fix: the
    mail waits, and goes once the password is right, with no one editing the database."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        # handled=False: refused with a 535 reply, as a real server does (else no reply at all)
        return AuthResult(success=auth_data.password == b"right-pw", handled=False)

    with running(Inbox(), authenticator=authenticate, auth_require_tls=False) as server:
        config = make_config(
            tmp_path, [], smtp={**smtp_section(server.port), "username": "tidings"}
        )
        enqueue(config, mail("a"), mail("b"))
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "wrong-pw")

        refused = send_pending(config, NOW)

        assert (refused.sent, refused.retrying, refused.failed) == (0, 2, 0)
        assert "535" in refused.error and "wrong-pw" not in refused.error
        assert {s for s, _ in statuses(config).values()} == {"pending"}
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "right-pw")
        assert send_pending(config, NOW + timedelta(hours=1)).sent == 2
        assert send_pending(config, NOW + timedelta(days=1)).sent == 0
        assert arrivals(server) == {"a": 1, "b": 1}
        stored = " ".join(str(e) for _, e in statuses(config).values())
        assert "pw" not in stored


# --- addresses that are not plain ASCII, or not addresses ----------------------------------


def test_an_internationalised_domain_gets_its_mail_from_a_server_without_smtputf8(tmp_path):
    """Most relays do not offer SMTPUTF8; a domain is sent in its ASCII (IDNA) form, which
    names the same domain, so a client at bücher.example gets their mail, and so does the
    other recipient of the same mail."""
    with running(Inbox(), enable_SMTPUTF8=False) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(
            config,
            mail("good"),
            mail("idn", recipients=("anna@bücher.example", "bob@example.com")),
            mail("sharp-s", recipients=("max@faß.de",)),  # not fass.de: IDNA 2008
        )

        report = send_pending(config, NOW)

        assert (report.sent, report.retrying, report.failed) == (3, 0, 0)
        to = {
            m["Message-ID"].strip("<>").split("@")[0]: m["X-Envelope-To"] for m in server.messages
        }
        assert to == {
            "good": "care@example.com",
            "idn": "anna@xn--bcher-kva.example, bob@example.com",
            "sharp-s": "max@xn--fa-hia.de",
        }
        assert send_pending(config, NOW + timedelta(hours=3)).sent == 0


def test_a_recipient_that_is_no_address_gets_nothing_and_stops_no_one(tmp_path):
    """`a"b(c)d@example.com` passed the address check, and the envelope was read back from the
    To header, where it reads abd@example.com: a stranger got the mail. Now nobody gets what was
    meant for an address that is not one; the others get theirs, and the reason is kept."""
    with smtp_server(Inbox()) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(
            config,
            mail("both", recipients=('a"b(c)d@example.com', "ops@example.com")),
            mail("alone", recipients=('a"b(c)d@example.com',)),
            mail("good"),
        )

        report = send_pending(config, NOW)

        assert (report.sent, report.retrying, report.failed) == (2, 0, 1)
        assert sorted(m["X-Envelope-To"] for m in server.messages) == [
            "care@example.com",
            "ops@example.com",
        ]
        assert "abd@example.com" not in str([m["To"] for m in server.messages])
        state = statuses(config)
        assert state["both"][0] == "sent" and 'a"b(c)d@example.com' in state["both"][1]
        assert state["alone"][0] == "failed" and "not an email address" in state["alone"][1]
        assert send_pending(config, NOW + timedelta(days=1)).sent == 0
        assert arrivals(server) == {"both": 1, "good": 1}


def test_a_non_ascii_mailbox_name_is_refused_in_one_line_when_the_server_cannot_take_it(
    tmp_path,
):
    """josé@example.com needs SMTPUTF8: without it that recipient is refused for good (retrying
    changes nothing), in words; the other recipient and the next mail go."""
    with running(Inbox(), enable_SMTPUTF8=False) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(
            config,
            mail("uni", recipients=("josé@example.com",)),
            mail("mixed", recipients=("josé@example.com", "ops@example.com")),
            mail("good"),
        )

        report = send_pending(config, NOW)

        assert (report.sent, report.retrying, report.failed) == (2, 0, 1)
        state = statuses(config)
        assert state["uni"] == (
            "failed",
            "recipients refused: josé@example.com: the server does not take non-ASCII "
            "addresses (no SMTPUTF8)",
        )
        assert state["mixed"][0] == "sent" and "josé@example.com" in state["mixed"][1]
        assert arrivals(server) == {"mixed": 1, "good": 1}


# --- a server that refuses some recipients of a mail ---------------------------------------


class PerRecipient(Inbox):
    """An SMTP server that answers RCPT for some addresses with a scripted refusal."""

    def __init__(self, refusals: dict[str, str]):
        super().__init__()
        self.refusals = refusals

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_recipient_refused_for_now_gets_the_mail_later_and_the_others_only_once(tmp_path):
    """Of four recipients one mailbox is busy (450) and one does not exist (550): the two others
    get the alert at once and never again; the busy one gets it on a later run, once; the one
    that does not exist is named in the outbox."""
    refusals = {"busy@example.com": "450 4.2.1 mailbox busy", "gone@example.com": "550 5.1.1 no"}
    with smtp_server(PerRecipient(refusals)) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        team = ("ann@example.com", "busy@example.com", "gone@example.com", "bo@example.com")
        enqueue(config, mail("alert", recipients=team), mail("good"))

        first = send_pending(config, NOW)

        assert (first.sent, first.retrying, first.failed) == (2, 0, 0)
        got = [m["X-Envelope-To"] for m in server.messages]
        assert got == ["ann@example.com, bo@example.com", "care@example.com"]
        (error,) = [e for s, e in statuses(config).values() if s == "sent" and e]
        assert "busy@example.com: 450" in error and "gone@example.com: 550" in error
        server.refusals = {"gone@example.com": "550 5.1.1 no"}  # no longer busy
        assert send_pending(config, NOW + timedelta(seconds=30)).sent == 0  # not at once
        later = send_pending(config, NOW + timedelta(hours=1))
        assert later.sent == 1 and server.messages[-1]["X-Envelope-To"] == "busy@example.com"
        for after in (timedelta(hours=2), timedelta(days=1)):
            assert send_pending(config, NOW + after) == SendReport()
        envelopes = [m["X-Envelope-To"] for m in server.messages]
        assert sorted(", ".join(envelopes).split(", ")) == sorted(
            ["ann@example.com", "bo@example.com", "busy@example.com", "care@example.com"]
        )
        assert all(m["Subject"] == "mail alert" for m in server.messages if "care" not in m["To"])


# --- a server so slow that a batch outlives its claim --------------------------------------


def test_a_batch_outliving_its_claim_sends_no_mail_twice(tmp_path):
    """A server that takes longer and longer: the first worker still sends its batch when the
    next worker (the alerts run every 5 minutes, the digests every 15) finds its mails claimed
    15 minutes ago and takes them up. Only the mail in flight may be sent by both; the rest go
    once, and a mail one worker sent is never marked for sending again by the other."""
    server = Scripted(["hang"])
    with smtp_server(server):
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(config, mail("a"), mail("b"), mail("c"))
        first: list[SendReport] = []
        worker = threading.Thread(target=lambda: first.append(send_pending(config, NOW)))
        worker.start()
        try:
            assert server.hanging.wait(60), "the first mail never reached the server"
            second = send_pending(config, NOW + timedelta(minutes=16))
        finally:
            server.release.set()  # the first worker's mail in flight is answered 451
            worker.join(120)
        assert second.sent == 3 and first[0].sent == 0
        assert arrivals(server) == {"a": 1, "b": 1, "c": 1}
        assert {s for s, _ in statuses(config).values()} == {"sent"}
        assert send_pending(config, NOW + timedelta(days=1)) == SendReport()
        assert arrivals(server) == {"a": 1, "b": 1, "c": 1}


# --- a client who unsubscribes while their digest waits in the outbox -----------------------


def test_a_digest_waiting_for_the_server_is_not_sent_after_the_client_unsubscribes(tmp_path):
    """The server refused the digest for now (451); before the retry the client clicks the
    unsubscribe link of an earlier digest (one-click POST). Nothing more goes to them; the
    digest of the client beside them still goes, once."""
    server = Scripted(["451 4.3.0 Try again later", "451 4.3.0 Try again later"])
    with smtp_server(server):
        config = push_setup(tmp_path, server.port)
        assert push_digests(config, MONDAY).mail.retrying == 2
        with store.connect(config.db_path) as db:
            token = next(c.token for c in clients.all_clients(db) if c.id == "alice")
        endpoint = TestClient(web.create_app(config))
        assert endpoint.post(f"/unsubscribe/{token}").status_code == 200

        later = send_pending(config, MONDAY + timedelta(hours=1))

        assert [m["X-Envelope-To"] for m in server.messages] == ["bob@example.com"]
        assert (later.sent, later.failed) == (1, 1)
        with store.connect(config.db_path) as db:
            (why,) = db.execute(
                "SELECT last_error FROM outbox WHERE list_contains(recipients, ?)",
                ["alice@example.com"],
            ).fetchone()
        assert why == "not sent: the client is unsubscribed"
        assert send_pending(config, MONDAY + timedelta(days=1)) == SendReport()
        assert len(server.messages) == 1


# --- a complaint assigned to someone who has left --------------------------------------------


def test_a_complaint_assigned_to_someone_removed_from_the_team_reminds_the_leads(tmp_path):
    """Sam was removed from the team with a complaint still assigned to them: the reminder
    goes to the team's admins when it is due (Sam's mailbox may be gone, and no one else was
    told), once, and never to Sam; a complaint assigned to a current agent reminds them."""
    with smtp_server(Inbox()) as server:
        config = make_config(
            tmp_path,
            [],
            smtp=smtp_section(server.port),
            alerts=[{"name": "open", "kind": "reminder", "sla_hours": 24}],
        )
        posts = [
            Mention("forum", f"m{i}", f"https://forum.example/{i}", f"complaint {i}",
                    "Nimbus Notes lost my notes", None, NOW - timedelta(hours=30))
            for i in (1, 2)
        ]  # fmt: skip
        with store.connect(config.db_path) as db:
            store_negative(db, posts, NOW - timedelta(hours=29))
            users.add(db, "lead@example.com", "admin", None, NOW - timedelta(days=9))
            users.add(db, "sam@example.com", "agent", None, NOW - timedelta(days=9))
            users.add(db, "kim@example.com", "agent", None, NOW - timedelta(days=9))
            assigned = NOW - timedelta(hours=25)
            inbox.update(
                db, [posts[0].id], "lead@example.com", assigned, assignee="sam@example.com"
            )
            inbox.update(
                db, [posts[1].id], "lead@example.com", assigned, assignee="kim@example.com"
            )
            users.remove(db, "sam@example.com")

        run_alerts(config, NOW)
        run_alerts(config, NOW + timedelta(hours=30))  # past twice the SLA: nothing new for Sam's

        got = sorted((m["X-Envelope-To"], m["Subject"]) for m in server.messages)
        assert got == [
            ("kim@example.com", "Reminder: “complaint 2”, assigned to you 25 hours ago, is still open"),
            ("lead@example.com",
             "Unattended: “complaint 1”, assigned to sam@example.com, who is no longer on the team, "
             "is still open after 25 hours"),
            ("lead@example.com, kim@example.com",
             "Escalation: “complaint 2”, assigned to kim@example.com, is still open after 55 hours"),
        ]  # fmt: skip


# --- links that are not web links ---------------------------------------------------------


def test_a_stored_link_that_is_no_web_link_is_never_a_link_in_mail_nor_a_digest_item(tmp_path):
    """Collectors keep only http(s) links, but a store restored from a backup (`tidings
    import`) keeps what the files hold: a javascript: or data: link is not made a link in an
    alert mail (a click would run it), and such an article is not put in a digest, whose
    redirect would refuse it; the good mention and article beside them go as before."""
    bad = {"js": "javascript:alert(document.cookie)", "data": "data:text/html,<script>x</script>"}
    with smtp_server(Inbox()) as server:
        articles = [
            Mention("blog", k, url, f"Remote work, {k}", "remote work tips", "Ed",
                    MONDAY - timedelta(hours=5))
            for k, url in [*bad.items(), ("good", "https://blog.example/good")]
        ]  # fmt: skip
        config = push_setup(tmp_path, server.port, readers=READERS[:1], articles=articles)
        config = config.model_copy(
            update={"alerts": make_config(tmp_path, [], alerts=[REFUNDS]).alerts}
        )
        posts = [
            Mention("forum", k, url, f"post {k}", "Nimbus Notes: I want a refund", "@ann",
                    MONDAY - timedelta(minutes=9))
            for k, url in [*bad.items(), ("ok", "https://forum.example/ok")]
        ]  # fmt: skip
        with store.connect(config.db_path) as db:
            store_negative(db, posts, MONDAY - timedelta(minutes=5))

        assert run_alerts(config, MONDAY).sent.sent == 3
        digest = push_digests(config, MONDAY)

        assert digest.sent_to == ["alice"]
        (mailed,) = [m for m in server.messages if m["To"] == "alice@example.com"]
        text = mailed.get_body(("plain",)).get_content()
        assert "Remote work, good" in text and "Remote work, js" not in text
        assert "Remote work, data" not in text
        for m in server.messages:
            for part in ("plain", "html"):
                body = m.get_body((part,)).get_content()
                assert "javascript:" not in body and "data:text" not in body
        alerts = [m for m in server.messages if m["To"] == "care@example.com"]
        htmls = [m.get_body(("html",)).get_content() for m in alerts]
        assert sum('href="https://forum.example/ok"' in h for h in htmls) == 1


# --- a stored client this version cannot read ----------------------------------------------


def test_a_stored_client_that_cannot_be_read_stops_no_other_clients_digest(tmp_path):
    """A client stored with a timezone this machine's tz database does not know (a store moved
    from a machine with a newer one, or a zone since retired, such as US/Pacific-New) once
    stopped every client's digest with a traceback. Now that client is skipped and named with
    the reason, and the others get theirs; check-ins go on too."""
    with smtp_server(Inbox()) as server:
        config = push_setup(tmp_path, server.port)
        with store.connect(config.db_path) as db:
            db.execute("UPDATE clients SET timezone = 'US/Pacific-New' WHERE id = 'alice'")

        report = push_digests(config, MONDAY)

        assert report.sent_to == ["bob"]
        assert report.skipped == {
            "alice": "cannot be read: timezone: unknown timezone 'US/Pacific-New' "
            "(e.g. Europe/Paris) (got 'US/Pacific-New')"
        }
        assert [m["X-Envelope-To"] for m in server.messages] == ["bob@example.com"]
        care.run_care(config, MONDAY + timedelta(days=40))
        with store.connect(config.db_path) as db:
            assert db.execute("SELECT timezone FROM clients WHERE id = 'alice'").fetchone() == (
                "US/Pacific-New",
            )  # kept as stored, for a person to correct


def test_push_dry_run_names_a_client_that_cannot_be_read_and_shows_the_others(tmp_path, capsys):
    with smtp_server(Inbox()) as server:
        config = push_setup(tmp_path, server.port)
        with store.connect(config.db_path) as db:
            db.execute("UPDATE clients SET timezone = 'US/Pacific-New' WHERE id = 'alice'")
        path = tmp_path / "tidings.toml"
        path.write_text(
            f'[database]\npath = "{config.db_path}"\n'
            '[[sources]]\nid = "blog"\nurl = "https://blog.example/feed"\nknowledge = true\n'
        )
        assert main(["--config", str(path), "push", "--dry-run", "--client", "alice"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("alice: not now (cannot be read: timezone: unknown timezone")
        assert main(["--config", str(path), "push", "--dry-run"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith("alice: not now (cannot be read: timezone")
        assert out[1].startswith("bob: ")


# --- the store is held by another process just as the server accepts a mail -----------------

HOLD = """
import sys, time, duckdb
db = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
db.close()
"""


class LockOnAccept(Inbox):
    """Accepts each mail, but first has another process open the DuckDB file (as a long
    `tidings rescore` or export does) and hold it for `seconds`."""

    def __init__(self, db_path, seconds: float):
        super().__init__()
        self.db_path, self.seconds = db_path, seconds
        self.holders: list[subprocess.Popen] = []

    async def handle_DATA(self, server, session, envelope):
        if not self.holders:
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLD, str(self.db_path), str(self.seconds)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            self.holders.append(holder)
            assert holder.stdout.readline().strip() == "holding"
        return await super().handle_DATA(server, session, envelope)


def test_a_mail_accepted_while_the_store_is_held_is_recorded_when_it_frees_and_not_resent(
    tmp_path,
):
    """The server accepted the mail; the store was held by another process for longer than
    the lock timeout (5 s here). The run gave up with the mail still marked 'sending', and 15
    minutes later it went again. Now the accepted mail is recorded once the store frees, and
    goes once; the mail after it goes too."""
    server = LockOnAccept(tmp_path / "tidings.duckdb", seconds=8)
    with smtp_server(server):
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(config, mail("a"), mail("b"))
        try:
            report = send_pending(config, NOW)
        finally:
            for holder in server.holders:
                holder.wait(60)
        assert report.sent == 2
        assert send_pending(config, NOW + timedelta(minutes=16)) == SendReport()
        assert arrivals(server) == {"a": 1, "b": 1}


def test_a_client_that_cannot_be_read_can_still_unsubscribe_and_read_their_feed(tmp_path):
    """Their unsubscribe link must work whatever else is wrong with their stored row (it
    answered 500, a traceback in the service's log, and they stayed subscribed)."""
    with smtp_server(Inbox()) as server:
        config = push_setup(tmp_path, server.port)
        assert push_digests(config, MONDAY).sent_to == ["alice", "bob"]
        with store.connect(config.db_path) as db:
            db.execute("UPDATE clients SET timezone = 'US/Pacific-New' WHERE id = 'alice'")
            (token,) = db.execute("SELECT token FROM clients WHERE id = 'alice'").fetchone()
        endpoint = TestClient(web.create_app(config), raise_server_exceptions=False)

        feed = endpoint.get(f"/feed/{token}")
        assert feed.status_code == 200
        assert len(ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")) == 2
        assert endpoint.get(f"/unsubscribe/{token}").status_code == 200
        assert endpoint.post(f"/unsubscribe/{token}").status_code == 200

        with store.connect(config.db_path) as db:
            assert db.execute("SELECT status FROM clients WHERE id = 'alice'").fetchone() == (
                "unsubscribed",
            )


class KeepsSender(Inbox):
    async def handle_DATA(self, server, session, envelope):
        self.mail_from = envelope.mail_from
        return await super().handle_DATA(server, session, envelope)


def test_a_sender_at_an_internationalised_domain_sends_through_a_server_without_smtputf8(
    tmp_path,
):
    """`sender = "Tidings <news@bücher.example>"` passed the config check, and then no mail
    ever left through a server without SMTPUTF8 (each retried until it failed for good)."""
    with running(KeepsSender(), enable_SMTPUTF8=False) as server:
        sender = "Tidings <news@bücher.example>"
        config = make_config(tmp_path, [], smtp={**smtp_section(server.port), "sender": sender})
        enqueue(config, mail("a"))

        assert send_pending(config, NOW).sent == 1

        (got,) = server.messages
        assert got["From"] == "Tidings <news@xn--bcher-kva.example>"
        assert server.mail_from == "news@xn--bcher-kva.example"


class RefusesSender(Inbox):
    """Refuses the envelope sender while `refusing` (an account not allowed to send as it)."""

    refusing = True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refusing:
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def test_a_sender_the_server_refuses_holds_the_mail_until_the_config_is_fixed(tmp_path):
    """553 to MAIL FROM says the account may not send as this sender: the operator's to fix
    (as a wrong password), not the mails'. They wait, and go once the server takes the sender;
    before, every mail of the run was failed for good."""
    with smtp_server(RefusesSender()) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        enqueue(config, mail("a"), mail("b"))

        refused = send_pending(config, NOW)

        assert (refused.sent, refused.retrying, refused.failed) == (0, 2, 0)
        assert "553" in refused.error and str(server.port) in refused.error
        server.refusing = False
        assert send_pending(config, NOW + timedelta(hours=1)).sent == 2
        assert arrivals(server) == {"a": 1, "b": 1}


# --- the web endpoint: forged, replayed and redirected links (these held) ------------------


def test_the_endpoint_redirects_only_to_a_web_link_it_sent_whatever_the_request(tmp_path):
    with smtp_server(Inbox()) as server:
        config = push_setup(tmp_path, server.port)
        push_digests(config, MONDAY)
        text = {m["To"]: m.get_body(("plain",)).get_content() for m in server.messages}
        alice_link = next(w for w in text["alice@example.com"].split() if "/r/" in w)
        bob_link = next(w for w in text["bob@example.com"].split() if "/r/" in w)
    endpoint = TestClient(web.create_app(config), follow_redirects=False)
    path = alice_link.removeprefix("https://feeds.example.com")
    alice_token, signed = path.split("/")[2:4]
    bob_signed = bob_link.rsplit("/", 1)[1]
    browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}

    ok = endpoint.get(path, headers={**browser, "Host": "evil.example"})
    assert ok.status_code == 302 and ok.headers["location"].startswith("https://blog.example/")
    for forged in (
        f"/r/{alice_token}/{bob_signed}",  # Bob's signed item under Alice's token
        f"/r/{alice_token}/{signed[:-1]}A",  # a signature changed
        f"/r/{alice_token}/{signed.split('.')[0]}",  # no signature
        f"/r/{alice_token}/..%2F..%2Funsubscribe%2F{alice_token}",
        f"/r/{alice_token}/{signed}?next=https://evil.example",
    ):
        answer = endpoint.get(forged, headers=browser)
        location = answer.headers.get("location", "")
        assert answer.status_code in (302, 404) and "evil" not in location
    assert endpoint.get(path + "x" * 20_000, headers=browser).status_code == 404
    assert endpoint.post(path).status_code == 405
    with store.connect(config.db_path) as db:  # the article's link became a script (a restore)
        db.execute("UPDATE mentions SET url = 'javascript:alert(1)'")
    refused = endpoint.get(path, headers=browser)
    assert refused.status_code == 404 and "location" not in refused.headers


# --- any stored article in a digest --------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>", "x\r\nBcc: evil@example.com", "\x00\x1b[31m\x7f\x85",
    "\ud800 lone", "\u202egnp.exe", "🎉👩‍👩‍👧" * 50, "\ufffe\uffff", "a" * 5000,
    "=?utf-8?q?Bcc=3A_x?=", "]]></summary><x>", "\u2028\u2029",
]  # fmt: skip
ANY = st.text(st.characters(exclude_categories=()), max_size=300) | st.sampled_from(HOSTILE)


@settings(max_examples=150, deadline=None)
@given(title=ANY, text=ANY, author=ANY, name=ANY, note=ANY)
def test_any_stored_article_and_client_name_make_a_digest_with_its_own_headers_only(
    title, text, author, name, note
):
    """Whatever a feed sent (as the pipeline stores it) and whatever name an operator typed:
    the digest builds, its subject is one line, it has only its own headers, and its HTML part
    holds no tag of theirs."""
    m = clean_mention(
        Mention("blog", "a1", "https://blog.example/1", title, text, author or None, MONDAY)
    )
    article = {"id": m.id, "title": m.title, "text": m.text, "url": m.url,
               "author": m.author, "source": "blog", "published": MONDAY}  # fmt: skip
    name = clean_text(name).strip() or "x"  # as an import or the form takes it
    client = READERS[0].model_copy(update={"name": name, "token": "t0k"})
    config = make_config(Path("/nonexistent"), [], push={"base_url": "https://feeds.example.com"})
    note = clean_text(note)  # a browser sends UTF-8: no lone surrogate reaches the store
    digest = render_digest(config, client, [Pick(article, 1.0, "")], note, MONDAY, secret=b"k")

    raw = message(digest, "News <n@example.com>").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert sorted(parsed.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "List-Unsubscribe",
        "List-Unsubscribe-Post", "Content-Type", "MIME-Version",
    ])  # fmt: skip
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["List-Unsubscribe"] == "<https://feeds.example.com/unsubscribe/t0k>"
    html = parsed.get_body(("html",)).get_content()
    assert "<script" not in html and "<x>" not in html


# --- rules whose hours no clock holds ------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [("cooldown_hours", float("inf")), ("cooldown_hours", 1e12), ("sla_hours", float("inf"))],
)
def test_a_rule_with_hours_no_clock_holds_is_a_config_error_not_a_crash_of_every_rule(
    tmp_path, key, value
):
    """`cooldown_hours = inf` (never again) passed the config, then every evaluation of every
    rule stopped with an OverflowError traceback: no alert went out at all."""
    rule = {"name": "r", "kind": "reminder", "recipients": ["a@example.com"], key: value}
    with pytest.raises(ConfigError) as refused:
        make_config(tmp_path, [], alerts=[rule])
    message_ = str(refused.value)
    assert f"alerts[0].{key}" in message_ and "\n" not in message_


# --- chat outlets ----------------------------------------------------------------------------


def test_a_chat_webhook_out_of_reach_is_retried_with_its_reason_in_words(tmp_path):
    """The reason shown on the Alerts page is Apprise's warning itself, not a log line with its
    timestamp and level; the mail beside it goes."""
    with smtp_server(Inbox()) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        closed = free_port()  # nothing listens there
        enqueue(config, mail("hook", recipients=(), target=f"json://127.0.0.1:{closed}/hook"))
        enqueue(config, mail("good"))

        report = send_pending(config, NOW)

        assert (report.sent, report.retrying) == (1, 1)
        assert statuses(config)["hook"] == (
            "pending",
            "json://127.0.0.1/…: A Connection error occurred sending JSON notification to "
            "127.0.0.1.",
        )


# --- TLS asked for, not offered ------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "said"),
    [
        ("starttls", 'the server does not offer STARTTLS (smtp.security = "starttls")'),
        ("tls", 'the server does not speak TLS on this port (smtp.security = "tls")'),
    ],
)
def test_tls_asked_for_but_not_offered_holds_the_mail_and_says_which_setting(
    tmp_path, security, said
):
    """Nothing goes in clear when TLS was asked for; the mail waits, and the line says what
    to change, not an OpenSSL code."""
    with smtp_server(Inbox()) as server:
        config = make_config(tmp_path, [], smtp={**smtp_section(server.port), "security": security})
        enqueue(config, mail("a"))

        report = send_pending(config, NOW)

        assert (report.sent, report.retrying) == (0, 1) and server.messages == []
        assert report.error == f"127.0.0.1:{server.port}: {said}"
        assert statuses(config)["a"] == ("pending", report.error)


def test_a_client_address_that_mail_would_read_as_another_is_refused_at_import(tmp_path):
    """`a"b(c)d@example.com` passed the address check, and a mail header reads it as
    abd@example.com. The row is refused, naming the column; the good rows are imported."""
    csv = (
        "id,name,email,interests\n"
        "ann,Ann,ann@example.com,remote work\n"
        'odd,Odd,"a""b(c)d@example.com",remote work\n'
        "idn,Idn,idn@bücher.example,remote work\n"
    )
    with store.connect(tmp_path / "t.duckdb") as db:
        saved, rejected = clients.import_csv(db, csv, MONDAY)
    assert saved == 2
    assert rejected == [
        'row 3 (a"b(c)d@example.com): email: not an email address as written (a mail would '
        "read another) (got 'a\"b(c)d@example.com')"
    ]


# --- tidings alerts backtest on a hostile CSV -------------------------------------------------

DAY_ROWS = "".join(f"2026-11-01T{h:02d}:00:00,3\n" for h in range(3))


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        ("2026-11-01T04:00:00,nan\n", "bt.csv:5: 'nan' is not a count of mentions"),
        ("2026-11-01T04:00:00,inf\n", "bt.csv:5: 'inf' is not a count of mentions"),
        ("2026-11-01T04:00:00,1e21\n", "bt.csv:5: '1e21' is not a count of mentions"),
        ("9999-12-31T23:59:00,1\n", "bt.csv: rows span 2912138 days; a backtest reads at most"),
        ("0001-01-01T00:00:00,1\n", "bt.csv: rows span 739920 days; a backtest reads at most"),
    ],
)
def test_a_backtest_csv_with_counts_or_times_no_store_holds_is_one_line(
    tmp_path, capsys, rows, said
):
    """NaN, inf or 10^21 mentions, or a row dated in year 1 or 9999 (two million days of
    five-minute steps: gigabytes), once ended in a traceback or a machine out of memory."""
    path = tmp_path / "bt.csv"
    path.write_text("timestamp,count\n" + DAY_ROWS + rows)
    assert main(["alerts", "backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tidings: error: {tmp_path / said}") and err.count("\n") == 1


def test_a_backtest_csv_at_the_end_of_the_calendar_is_one_line(tmp_path, capsys):
    path = tmp_path / "bt.csv"
    path.write_text("timestamp,count\n9999-12-31T23:50:00,1\n9999-12-31T23:55:00,1\n")
    assert main(["alerts", "backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"tidings: error: {path}: timestamps reach the end of the calendar\n"


def test_a_backtest_since_no_clock_holds_is_one_line(tmp_path, capsys):
    path = tmp_path / "bt.csv"
    path.write_text("timestamp,count\n" + DAY_ROWS)
    assert main(["alerts", "backtest", str(path), "--since", "99999999999d"]) == 2
    err = capsys.readouterr().err
    assert err == "tidings: error: --since: '99999999999d' is longer than 100 years\n"


# --- the same alert again, another day ---------------------------------------------------------


def test_a_spike_that_comes_back_another_day_in_the_same_words_is_mailed_again(tmp_path):
    """A usually silent term bursts twice, two days apart, with the same count: both alerts
    read "12 negative mentions of Nimbus Notes in the last hour, usually fewer than one". The
    mail's id was a digest of its words alone, so the second firing found 'its' mail already
    queued and nothing was sent: the alert was lost."""
    rule = {"name": "negative-spike", "kind": "spike", "negative_only": True,
            "recipients": ["ops@example.com"]}  # fmt: skip
    with smtp_server(Inbox()) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port), alerts=[rule])

        def negative(name, when):
            post = Mention("forum", name, f"https://forum.example/{name}", name,
                           "Nimbus Notes lost my notes", None, when)  # fmt: skip
            with store.connect(config.db_path) as db:
                store_negative(db, [post], when)

        for day in range(1, 15):
            negative(f"quiet{day}", NOW - timedelta(days=day, hours=7))
        for burst, at in (("first", NOW - timedelta(days=2)), ("again", NOW)):
            for i in range(12):
                negative(f"{burst}{i}", at - timedelta(minutes=3 + i))

        first = run_alerts(config, NOW - timedelta(days=2))
        assert run_alerts(config, NOW - timedelta(days=1)).fired == []  # over: cleared
        again = run_alerts(config, NOW)

        assert (
            [c.subject for c in first.fired]
            == [c.subject for c in again.fired]
            == ["12 negative mentions of Nimbus Notes in the last hour, usually fewer than one"]
        )
        assert again.queued == 1 and again.sent.sent == 1
        assert len(server.messages) == 2
        assert len({m["Message-ID"] for m in server.messages}) == 2


def test_unsubscribe_links_forged_replayed_scanned_or_sent_with_a_stranger_host(tmp_path):
    """These held: a forged or cut token changes no one; GET and HEAD (scanners) change
    nothing; the POST unsubscribes once, and a replay changes nothing more; a request naming
    another Host gets links built from the configured address only."""
    with smtp_server(Inbox()) as server:
        config = push_setup(tmp_path, server.port)
        push_digests(config, MONDAY)
    with store.connect(config.db_path) as db:
        token = next(c.token for c in clients.all_clients(db) if c.id == "alice")
    endpoint = TestClient(web.create_app(config))
    stranger = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}

    for forged in (token[:-1], token + "A", token.upper(), "%00", "..%2F" + token, "x" * 5000):
        assert endpoint.post(f"/unsubscribe/{forged}").status_code == 404
    assert endpoint.head(f"/unsubscribe/{token}").status_code == 200
    page = endpoint.get(f"/unsubscribe/{token}", headers=stranger)
    assert page.status_code == 200 and "evil" not in page.text and "a***@example.com" in page.text
    feed = endpoint.get(f"/feed/{token}", headers=stranger)
    assert "evil" not in feed.text and "https://feeds.example.com/" in feed.text
    with store.connect(config.db_path) as db:
        assert {c.id: c.status for c in clients.all_clients(db)} == {
            "alice": "active", "bob": "active"
        }  # fmt: skip
    for _ in range(3):  # a mail client's one-click POST, then replays of it
        assert endpoint.post(f"/unsubscribe/{token}", headers=stranger).status_code == 200
    with store.connect(config.db_path) as db:
        assert {c.id: c.status for c in clients.all_clients(db)} == {
            "alice": "unsubscribed", "bob": "active"
        }  # fmt: skip
        assert [s for _, s, _, _ in clients.status_log(db, "alice")] == ["active", "unsubscribed"]


# --- a mail server down for a weekend ----------------------------------------------------------


def test_mail_waits_out_a_weekend_without_a_mail_server_and_goes_once_it_is_back(tmp_path):
    """Each run that finds no server counted as an attempt of every mail, and after 8 (about
    8 hours) the mails, client digests too, were failed for good. A server that cannot be
    reached never tried them: they wait, and go once it answers."""
    port = free_port()  # nothing listens there all weekend
    config = make_config(tmp_path, [], smtp={**smtp_section(port), "timeout_seconds": 2})
    enqueue(config, mail("a"), mail("b"))
    for hours in range(0, 60, 4):
        down = send_pending(config, NOW + timedelta(hours=hours))
        assert down.sent == down.failed == 0
    assert {s for s, _ in statuses(config).values()} == {"pending"}
    with running(Inbox()) as server:
        config = make_config(tmp_path, [], smtp=smtp_section(server.port))
        assert send_pending(config, NOW + timedelta(hours=61)).sent == 2
        assert send_pending(config, NOW + timedelta(hours=70)) == SendReport()
        assert arrivals(server) == {"a": 1, "b": 1}
