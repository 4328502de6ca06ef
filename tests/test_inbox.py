"""The inbox: work states, history, the queue, and its dashboard page under AppTest."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from data import corrections, inbox, rollups, store
from data.records import Mention, Score
from tests.conftest import ROOT, make_config, open_view

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def filled(tmp_path):
    config = make_config(tmp_path, [])
    ms = [
        Mention(
            "forum",
            "1",
            "https://f.example/1",
            "Love it",
            "Nimbus Notes is great",
            "ana",
            NOW - timedelta(hours=1),
            10,
        ),
        Mention(
            "forum",
            "2",
            "https://f.example/2",
            "Broken",
            "Nimbus Notes lost my data",
            "bob",
            NOW - timedelta(hours=2),
            50,
        ),
        Mention(
            "forum",
            "3",
            "https://f.example/3",
            "How?",
            "How do I export from Nimbus Notes?",
            "cy",
            NOW - timedelta(hours=3),
            5,
        ),
        Mention(
            "forum",
            "4",
            "https://f.example/4",
            "Awful",
            "Nimbus Notes support is awful",
            "dee",
            NOW - timedelta(hours=4),
            5000,
        ),
    ]
    labels = ["positive", "negative", "neutral", "negative"]
    wants = [{}, {"complaint": 0.8}, {"question": 0.9}, {"complaint": 0.9}]
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, ms, NOW)
        store.upsert_scores(
            db,
            [
                Score(m.id, "v", ("Nimbus Notes",), 0.0, lab, intents=w)
                for m, lab, w in zip(ms, labels, wants, strict=True)
            ],
            NOW,
        )
    return config, ms


def test_complaints_and_questions_come_first_by_reach(tmp_path):
    config, ms = filled(tmp_path)
    with store.connect(config.db_path) as db:
        order = inbox.queue(db)["id"].tolist()
    assert order == [ms[3].id, ms[1].id, ms[2].id, ms[0].id]


def test_a_complaint_comes_before_a_louder_question_or_negative_opinion(tmp_path):
    config, ms = filled(tmp_path)
    louder = [
        Mention("forum", "5", "https://f.example/5", "Hmm", "Nimbus Notes is a letdown, meh",
                "eve", NOW - timedelta(hours=1), 90_000),
        Mention("forum", "6", "https://f.example/6", "Sync?", "Does Nimbus Notes sync offline?",
                "fay", NOW - timedelta(hours=1), 80_000),
    ]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, louder, NOW)
        store.upsert_scores(
            db,
            [
                Score(louder[0].id, "v", ("Nimbus Notes",), -0.4, "negative"),
                Score(
                    louder[1].id, "v", ("Nimbus Notes",), 0.0, "neutral", intents={"question": 0.9}
                ),
            ],  # fmt: skip
            NOW,
        )
        order = inbox.queue(db)["id"].tolist()
    assert order == [ms[3].id, ms[1].id, louder[1].id, ms[2].id, louder[0].id, ms[0].id]


# The queue as it was read before it was kept on write: every current reading with its work
# state and what its row shows of the mention, sorted whole.
RECOMPUTED = """
    SELECT r.mention_id, coalesce(i.status, 'new') AS status, coalesce(i.tags, []) AS tags,
           m.title, m.author, m.url, coalesce(m.published_known, true)
    FROM readings r LEFT JOIN inbox i ON i.mention_id = r.mention_id
    JOIN mentions m ON m.id = r.mention_id
    WHERE list_contains(?, coalesce(i.status, 'new')) AND r.published >= ?
      AND (? IS NULL OR lower(i.assignee) = lower(?))
    ORDER BY r.urgent DESC,
             CASE WHEN list_contains(r.intents, 'complaint') THEN 0
                  WHEN list_contains(r.intents, 'churn_risk') THEN 1
                  WHEN list_contains(r.intents, 'question') THEN 2 ELSE 3 END,
             r.reach DESC NULLS LAST, r.published DESC, r.mention_id
"""


def test_the_queue_kept_on_write_is_the_queue_recomputed(tmp_path, monkeypatch):
    # Rewritten in order after every few appended rows, so that both its paths are taken.
    monkeypatch.setattr(rollups, "RESORT_ROWS", 7)
    rng = random.Random(13)
    config = make_config(tmp_path, [])
    people = ["sam@example.com", "Ana@Example.com"]
    made: list[Mention] = []
    with store.connect(config.db_path) as db:
        for n in range(12):
            batch = [
                Mention("forum", f"{n}-{i}", f"https://f.example/{n}/{i}", f"t{n}-{i}", "x",
                        rng.choice([None, "ana", "bo"]), NOW - timedelta(hours=rng.uniform(0, 500)),
                        rng.choice([None, 0, 5, 5, 80, 10**12, -3]),
                        published_known=rng.random() < 0.8)
                for i in range(6)
            ]  # fmt: skip
            again = rng.sample(made, min(3, len(made)))  # rescored by a newer model
            db.begin()
            store.upsert_mentions(db, batch, NOW)
            store.upsert_scores(
                db,
                [Score(m.id, f"v{n}", ("Nimbus Notes",), 0.0,
                       rng.choice(["negative", "neutral", "positive"]),
                       intents={i: 0.9 for i in rng.sample(
                           ["complaint", "churn_risk", "question", "compliment"],
                           rng.randint(0, 2))})
                 for m in batch + again],
                NOW + timedelta(minutes=n),
            )  # fmt: skip
            db.commit()
            made += batch
            picked = [m.id for m in rng.sample(made, 4)]
            inbox.update(db, picked[:2], "lead", NOW, assignee=rng.choice(people))
            inbox.update(db, picked[1:2], "lead", NOW, add_tags=[f"tag{n % 3}"])
            inbox.update(db, picked[2:3], "lead", NOW, status=rng.choice(inbox.STATUSES))
            inbox.update(db, picked[3:], "lead", NOW, assignee="")
            m = rng.choice(made).id
            match n % 4:
                case 0:
                    corrections.correct(db, m, "ana", NOW, intents=["complaint"])
                case 1:
                    corrections.correct(db, m, "ana", NOW, sentiment="negative")
                case 2:
                    corrections.correct(db, m, "ana", NOW, not_about=True)
                case 3:
                    corrections.undo(db, m, "intents", "ana", NOW)
        assert db.execute("SELECT appended FROM inbox_queue_order").fetchone()[0] < 7
        cases = [
            (inbox.OPEN, None, None), (inbox.STATUSES, None, None), (("done",), None, None),
            (inbox.OPEN, None, "ana@example.com"), (inbox.STATUSES, NOW - timedelta(days=5), None),
        ]  # fmt: skip
        sizes = []
        for statuses, since, assignee in cases:
            expected = db.execute(
                RECOMPUTED,
                [list(statuses), since or datetime(1970, 1, 1), assignee, assignee],
            ).fetchall()
            expected = [(i, status, list(tags), *shown) for i, status, tags, *shown in expected]
            pages = [
                inbox.queue(db, statuses, since, limit=5, offset=k, assignee=assignee)
                for k in range(0, len(expected) + 5, 5)
            ]
            got = [
                (
                    r.id,
                    r.status,
                    list(r.tags),
                    r.title,
                    r.author if r.author == r.author else None,
                    r.url,
                    r.published_known,
                )  # a missing author may come back as NaN
                for page in pages
                for r in page.itertuples()
            ]
            assert got == expected
            assert inbox.queue_size(db, statuses, since, assignee) == len(expected)
            sizes.append(len(expected))
        kept = db.execute("SELECT * FROM inbox_queue ORDER BY mention_id").fetchall()
        counts = db.execute("SELECT * FROM inbox_counts ORDER BY ALL").fetchall()
        rollups.rebuild(db)
        assert db.execute("SELECT * FROM inbox_queue ORDER BY mention_id").fetchall() == kept
        assert db.execute("SELECT * FROM inbox_counts ORDER BY ALL").fetchall() == counts
    assert sizes[1] > 50 and all(sizes)  # every case has rows to order
    assert any(tags for _, _, tags, *_ in expected)
    assert {known for *_, known in expected} == {True, False}  # dates known and not


def test_changes_are_kept_with_who_and_when(tmp_path):
    config, ms = filled(tmp_path)
    m = ms[1].id
    with store.connect(config.db_path) as db:
        assert inbox.update(db, [m], "ana@example.com", NOW, assignee="sam@example.com") == 1
        assert (
            inbox.update(
                db,
                [m],
                "sam@example.com",
                NOW + timedelta(hours=1),
                add_tags=["sync"],
                note="Called them",
            )
            == 1
        )
        assert (
            inbox.update(db, [m], "sam@example.com", NOW + timedelta(hours=2), status="done") == 1
        )
        assert (
            inbox.update(db, [m], "sam@example.com", NOW + timedelta(hours=3), status="done") == 0
        )
        item = inbox.mention(db, m)
        changes = inbox.history(db, m)
        open_ids = inbox.queue(db)["id"].tolist()
    assert (
        item["status"] == "done"
        and item["assignee"] == "sam@example.com"
        and list(item["tags"]) == ["sync"]
    )
    assert changes["change"].tolist() == [
        "status: assigned → done", "note: Called them", "tag: +sync",
        "assignee: — → sam@example.com", "status: new → assigned",
    ]  # fmt: skip
    assert changes["actor"].tolist()[-1] == "ana@example.com"
    assert m not in open_ids


def test_bulk_actions(tmp_path):
    config, ms = filled(tmp_path)
    ids = [ms[1].id, ms[3].id]
    with store.connect(config.db_path) as db:
        assert inbox.apply(db, ids, "Assign to…", " sam@example.com ", "lead@example.com", NOW) == 2
        assert inbox.apply(db, ids, "Add tag…", "billing", "lead@example.com", NOW) == 2
        assert inbox.apply(db, [ms[1].id], "Mark done", "", "sam@example.com", NOW) == 1
        for bad, value, message in [([], "", "Select at least one"), (ids, "", "Say whom")]:
            with pytest.raises(ValueError, match=message):
                inbox.apply(db, bad, "Assign to…", value, "x", NOW)
        rows = dict(db.execute("SELECT mention_id, status FROM inbox").fetchall())
    assert rows == {ms[1].id: "done", ms[3].id: "assigned"}


def test_inbox_page_lists_what_needs_action(tmp_path, monkeypatch):
    config, ms = filled(tmp_path)
    with store.connect(config.db_path) as db:
        inbox.update(db, [ms[0].id], "x", NOW, status="done")
    toml = f'[database]\npath = "{config.db_path}"\n'
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "inbox")
    assert not at.exception
    table = at.dataframe[0].value
    assert table["title"].tolist() == ["Awful", "Broken", "How?"]
    assert table["flag"].tolist() == ["complaint?", "complaint?", "question?"]
    assert at.caption[0].value.startswith("3 mention(s) marked new or assigned, whenever published")
    at.button[0].click().run()  # apply with nothing selected
    assert "Select at least one mention first." in at.warning[0].value
    assert [t.value for t in at.text][:1] == ["Awful"]  # the first one is open below


def test_a_mention_link_from_an_email_opens_it(tmp_path, monkeypatch):
    config, ms = filled(tmp_path)
    toml = f'[database]\npath = "{config.db_path}"\n'
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "mentions", id=ms[1].id)
    assert not at.exception
    assert [t.value for t in at.text][:2] == ["Broken", "Nimbus Notes lost my data"]
    at.selectbox[0].select("responded")
    at.text_area[0].input("Refunded.")
    at.button[0].click().run()
    with store.connect(config.db_path) as db:
        assert inbox.mention(db, ms[1].id)["status"] == "responded"
        assert "note: Refunded." in inbox.history(db, ms[1].id)["change"].tolist()


def test_no_streamlit_pages_folder_can_bypass_the_password_gate():
    # Streamlit serves a folder named pages/ beside the entry script on its own, without
    # running app.py (and so without its password gate). Our pages live in views/.
    assert not (ROOT / "dashboard" / "pages").exists()
