"""Whatever clients click, answer or ask for, and whatever the engagement rules change (and
people undo), no client gets more mail in any seven days than their cap, more items in a digest
than their maximum, or an item twice. Simulated days over a real DuckDB file, with the mail
going to the local SMTP server."""

import re
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import clients, engagement, store
from data.clients import Client
from notify.alerts import run_alerts
from notify.care import run_care
from notify.digest import FASTER
from notify.push import push_digests
from notify.returns import learn_from
from tests.conftest import make_config
from tests.test_push import MONDAY, article

CLIENT_MAIL = ("client-digest", "client-checkin", "client-offer", "client-reminder")

people = st.builds(
    dict,
    cadence=st.sampled_from(["instant", "daily", "weekly", "fortnightly"]),
    max_items=st.integers(1, 3),
    max_emails_per_week=st.integers(1, 4),
)
actions = st.lists(
    st.tuples(
        st.sampled_from(["click", "more", "less", "answer", "undo", "accept", "force"]),
        st.integers(0, 1),  # which client
        st.integers(0, 4),  # which item / which answer
    ),
    max_size=6,
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    who=st.tuples(people, people),
    days=st.lists(actions, min_size=4, max_size=8),
    quiet=st.integers(1, 3),
    every=st.integers(1, 4),
)
def test_caps_and_never_twice_hold_whatever_comes_back(smtp, who, days, quiet, every):
    smtp.messages.clear()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(
            Path(tmp),
            [{"id": "industry-blog", "url": "https://blog.example/feed", "knowledge": True}],
            smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none"},
            push={"base_url": "https://feeds.example.com"},
            checkins={"every_days": every},
            alerts=[
                {"name": "engagement", "kind": "engagement", "quiet_digests": quiet,
                 "busy_clicks": 1, "recipients": ["owner@example.com"]},
                {"name": "satisfaction", "kind": "satisfaction",
                 "recipients": ["owner@example.com"]},
            ],
        )  # fmt: skip
        everyone = [
            Client(id=f"c{i}", name=f"C{i}", email=f"c{i}@example.com",
                   interests=["remote work", "security"], owner="owner@example.com", **p)
            for i, p in enumerate(who)
        ]  # fmt: skip
        with store.connect(config.db_path) as db:
            for c in everyone:
                clients.save(db, c, MONDAY - timedelta(days=1))
        for day, todo in enumerate(days):
            now = MONDAY + timedelta(days=day)
            with store.connect(config.db_path) as db:
                fresh = [
                    replace(article(day * 10 + k, f"Remote work and security note {day}-{k}"),
                            published=now - timedelta(hours=1))
                    for k in range(4)
                ]  # fmt: skip
                store.upsert_mentions(db, fresh, now, knowledge=frozenset({"industry-blog"}))
            push_digests(config, now)
            act(config, todo, everyone, now + timedelta(hours=2))
            run_alerts(config, now + timedelta(hours=3))
            run_care(config, now + timedelta(hours=4))
            push_digests(config, now + timedelta(hours=6))
        with store.connect(config.db_path) as db:
            sent = db.execute(
                "SELECT recipients, kind, created_at, text_body FROM outbox "
                "WHERE list_contains(?, kind) ORDER BY created_at",
                [list(CLIENT_MAIL)],
            ).fetchall()
        for c in everyone:
            mine = [(k, at, body) for r, k, at, body in sent if r == [c.email]]
            times = [at for _, at, _ in mine]
            for t in times:
                in_week = [u for u in times if t <= u < t + timedelta(days=7)]
                assert len(in_week) <= c.max_emails_per_week, (c.id, times)
            items: list[str] = []
            for kind, _, body in mine:
                if kind == "client-digest":
                    got = re.findall(r"/r/[^/\s]+/([0-9a-f]+)\.", body)
                    assert 1 <= len(got) <= c.max_items
                    items += got
            assert len(items) == len(set(items)), f"{c.id} got an item twice"
        # What reached the SMTP server is what the outbox holds: nothing sent twice.
        ids = [m["Message-ID"] for m in smtp.messages]
        assert len(ids) == len(set(ids))


def act(config, todo, everyone, now):
    """Apply a day's clicks, feedback, answers, undos, accepted offers and forced pushes."""
    for what, i, k in todo:
        c = everyone[i]
        if what == "force":
            push_digests(config, now, only=[c.id], force=True)
            continue
        with store.connect(config.db_path) as db:
            db.begin()
            current = next(x for x in clients.all_clients(db) if x.id == c.id)
            got = sorted(clients.delivered_ids(db, c.id))
            if what in ("click", "more", "less") and got:
                item = got[k % len(got)]
                digest = engagement.delivered_in(db, c.id, item)
                engagement.record_event(db, c.id, what, item, digest, now)
                learn_from(db, current, item, what, now)
            elif what == "answer":
                asked = engagement.checkins(db, c.id)
                if asked:
                    engagement.answer_checkin(db, asked[-1].id, k + 1, "", now)
            elif what == "undo":
                changes = engagement.cadence_changes(db, c.id)
                if changes:
                    engagement.undo_cadence_change(db, changes[0].id, "someone", now)
            elif what == "accept" and current.cadence in FASTER:
                engagement.change_cadence(db, c.id, FASTER[current.cadence], "offer", None, now)
            db.commit()
