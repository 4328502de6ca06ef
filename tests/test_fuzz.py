"""Generated hostile items through the whole path: parse → score → store → dashboard reads →
client Atom feed, and a pass killed (-9) in the middle of its write, then run again.

Bounded (a few dozen examples, no deadline per example) so that it stays in `make test`."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.rss import read_feed
from data import outbox, store
from data.clients import Client
from data.config import Source
from data.records import Fetched
from data.store import MentionFilter
from flows.pipeline import keep_candidates, store_pass
from nlp import build_scorer
from notify.alerts import run_alerts
from notify.email import message
from notify.web import atom_feed
from tests.conftest import DEMO_FEEDS, make_config

# Any character, surrogates and controls included, and the ones markup and mail care about.
CHARS = st.one_of(
    st.characters(),
    st.characters(categories=["Cs", "Cc"]),
    st.sampled_from(list("<>&\"'\n\r\x00\x1b\u2028\u2029\ufffe\uffff\u202e") + ["\U0001f600"]),
)
TEXTS = st.one_of(
    st.text(CHARS, max_size=120),
    st.builds(lambda s, n: s * n, st.text(CHARS, min_size=1, max_size=8), st.integers(1, 40_000)),
)
HOSTILE_HTML = st.sampled_from(
    [
        "",
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "<a href='javascript:alert(1)'>x</a>",
        "<b>bold</b><br>Bcc: x@example.com",
        "<![CDATA[ ]]><!-- -->",
        "<iframe src=//evil></iframe>",
    ]
)
NOW = datetime.now(UTC).replace(microsecond=0)
MAIL_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                "content-transfer-encoding", "auto-submitted", "x-auto-response-suppress",
                "list-unsubscribe", "list-unsubscribe-post", "precedence"}  # fmt: skip


def as_xml_text(text: str) -> str:
    """`text` the way a hostile feed writes it: anything unusual as a character reference."""
    return "".join(
        c if (32 <= ord(c) < 127 and c not in "<>&") else f"&#x{ord(c):X};" for c in text
    )


def feed(items: list[tuple[str, str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{as_xml_text('Nimbus Notes ' + title)}</title>"
        f"<link>http://127.0.0.1/{i}</link><guid>item-{i}</guid>"
        f"<author>{as_xml_text(author)}</author>"
        f"<description>{as_xml_text(html + ' Nimbus Notes ' + text)}</description></item>"
        for i, (title, text, author, html) in enumerate(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}'
        "</channel></rss>"
    ).encode()


ITEMS = st.lists(st.tuples(TEXTS, TEXTS, TEXTS, HOSTILE_HTML), min_size=1, max_size=4)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=ITEMS)
def test_any_item_goes_through_parse_score_store_reads_and_atom(tmp_path_factory, items):
    # A store of its own per example: hypothesis runs many examples in one test call.
    config = make_config(
        tmp_path_factory.mktemp("fuzz"),
        [{"id": "fuzz", "url": "http://127.0.0.1/f.xml"}],
        alerts=[{"name": "every", "kind": "match", "any_terms": ["Nimbus"],
                 "recipients": ["care@example.com"]}],
        smtp={"host": "127.0.0.1", "sender": "Tidings <tidings@example.com>"},
    )  # fmt: skip
    source = Source.model_validate({"id": "fuzz", "url": "http://127.0.0.1/f.xml"})
    scorer = build_scorer(config.watch, config.models_dir)

    mentions, skipped = read_feed(feed(items), "fuzz", NOW)
    assert len(mentions) + skipped == len(items)
    fetched = keep_candidates(Fetched("fuzz", mentions, skipped=skipped), source, scorer)
    failed: list = []
    scored = scorer.score(fetched.mentions, failed=failed)
    assert not failed, failed
    assert len(scored) == len(fetched.mentions)  # every item names a watched entity

    report = store_pass(config, [source], [fetched], scored, {}, NOW)
    assert report.sources_failed == 0
    with store.connect(config.db_path) as db:
        listed = store.find_mentions(db, MentionFilter(since=(NOW - timedelta(days=1)).date()))
        store.summary(db, MentionFilter())
        store.mentions_per_day(db, MentionFilter())
        store.source_health(db)
        assert len(listed) == store.totals(db)["mentions"]
        rows = db.execute("SELECT id, title, text, author, url, published FROM mentions").fetchall()
    for _, title, text, author, _, _ in rows:
        for value in (title, text, author or ""):
            assert not any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 9 for c in value)
            assert "<script" not in value.lower()

    # An alert mail per mention, its subject naming the author and title: one line each, and
    # no header but the ones the mail sets itself.
    later = datetime.now(UTC) + timedelta(minutes=1)
    run_alerts(config, later, send=False)
    with store.connect(config.db_path) as db:
        mails = outbox.claim_due(db, later + timedelta(minutes=1))
    assert len(mails) == len(rows)
    for mail in mails:
        raw = bytes(message(mail, config.smtp.sender))
        built = email.message_from_bytes(raw, policy=email.policy.default)
        assert not {k.lower() for k in built} - MAIL_HEADERS, built.keys()
        assert built["To"] == "care@example.com" and "\n" not in built["Subject"]

    # What a client's Atom feed would carry: always well-formed XML that feedparser reads.
    client = Client(id="c1", name="Client <One> & Co", email="c1@example.com", interests=["notes"])
    entries = [
        {"id": i, "title": t, "text": x, "author": a, "url": u, "published": p,
         "delivered_at": NOW.replace(tzinfo=None)}
        for i, t, x, a, u, p in rows
    ]  # fmt: skip
    document = atom_feed("http://127.0.0.1:8502/feed/x", client, entries, NOW)
    ET.fromstring(document)
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(rows)


CRASHING_PASS = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from data import outbox, store
    from tests.test_fuzz import pass_over_demo_feeds

    if sys.argv[2] == "kill":
        # Die (SIGKILL: no clean-up, no atexit) in the middle of the pass's write transaction,
        # after the mentions are written and before their scores and the sources' health.
        real = store.upsert_scores
        def upsert_then_die(*args, **kwargs):
            real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        store.upsert_scores = upsert_then_die
    print(pass_over_demo_feeds(Path(sys.argv[1])), flush=True)
    """
)

DEMO = ("app-reviews", "community-forum", "nimbus-blog")
FIXED_NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def pass_over_demo_feeds(db_path: Path) -> int:
    """Parse, score and store the demo feeds as a pass does (no network, no Prefect)."""
    config = make_config(db_path.parent, [{"id": n, "url": f"http://127.0.0.1/{n}.xml"}
                                          for n in DEMO])  # fmt: skip
    scorer = build_scorer(config.watch, config.models_dir)
    fetched, scored = [], []
    for source in config.sources:
        mentions, skipped = read_feed((DEMO_FEEDS / f"{source.id}.xml").read_bytes(), source.id)
        f = keep_candidates(Fetched(source.id, mentions, skipped=skipped), source, scorer)
        fetched.append(f)
        scored += scorer.score(f.mentions)
    return store_pass(config, list(config.sources), fetched, scored, {}, FIXED_NOW).new_mentions


def snapshot(db_path: Path) -> dict[str, list]:
    with store.connect(db_path) as db:
        return {
            "mentions": db.execute(
                "SELECT id, source, title, text, story_key FROM mentions ORDER BY id"
            ).fetchall(),
            "scores": db.execute(
                "SELECT mention_id, model_version, sentiment, terms FROM scores ORDER BY 1, 2"
            ).fetchall(),
            "sources": db.execute(
                "SELECT id, last_error, items_last_fetch FROM sources ORDER BY 1"
            ).fetchall(),
        }


def run_pass_process(db_path: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CRASHING_PASS, str(db_path), mode],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_a_pass_killed_during_its_write_loses_and_doubles_nothing_when_run_again(tmp_path):
    killed, clean = tmp_path / "killed" / "tidings.duckdb", tmp_path / "clean" / "tidings.duckdb"
    killed.parent.mkdir()
    clean.parent.mkdir()

    crashed = run_pass_process(killed, "kill")
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert snapshot(killed)["mentions"] == []  # the transaction never committed: all or nothing

    rerun = run_pass_process(killed, "run")
    never_killed = run_pass_process(clean, "run")
    assert rerun.returncode == 0 and never_killed.returncode == 0, rerun.stderr[-2000:]
    assert int(rerun.stdout) == int(never_killed.stdout) > 0
    assert snapshot(killed) == snapshot(clean)
