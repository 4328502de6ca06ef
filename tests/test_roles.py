"""Roles on the dashboard (AppTest on the whole app): people sign in, see only what their role
may do, and are refused what it may not, even when a forged request asks for it."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import signin
from data import clients, inbox, store, users
from data.clients import Client
from tests.test_dashboard import PAGES, filled  # noqa: F401 (a fixture)

PASSWORD = "a long password"


@pytest.fixture
def team(filled):  # noqa: F811
    config, _ = filled
    now = store.utcnow()
    with store.connect(config.db_path) as db:
        for email, role in [("vi@example.com", "viewer"), ("ag@example.com", "agent"),
                            ("ad@example.com", "admin")]:  # fmt: skip
            users.add(db, email, role, PASSWORD, now)
        for cid in ("acme", "globex"):
            clients.save(db, Client(id=cid, name=cid.title(), email=f"news@{cid}.example",
                                    interests=["notes"]), now)  # fmt: skip
        users.set_clients(db, "ag@example.com", ["acme"])
    st.cache_data.clear()
    signin._team.clear()
    return config


def signed_in(email: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Email", "Password"] and not at.metric
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any(t.value == "Overview" for t in at.title), [e.value for e in at.error]
    return at


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_sign_in_with_a_wrong_password_is_refused(team):
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    at.text_input[0].input("ad@example.com")
    at.text_input[1].input("not the password")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong email or password." and not at.metric


def test_too_many_wrong_passwords_pause_that_email(team):
    signin._failures().clear()
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    for _ in range(users.FAILURES_ALLOWED):
        at.text_input[0].input("ad@example.com")
        at.text_input[1].input("not the password")
        at.button[0].click().run()
        assert at.error[0].value == "Wrong email or password."
    at.text_input[0].input("ad@example.com")
    at.text_input[1].input(PASSWORD)  # right, but too late
    at.button[0].click().run()
    assert at.error[0].value.startswith("Too many wrong passwords") and not at.metric
    signed_in("vi@example.com")  # another email is not paused
    signin._failures().clear()


def test_a_viewer_reads_but_changes_nothing(team):
    at = go(signed_in("vi@example.com"), "inbox")
    assert "Signed in as vi@example.com (viewer)" in [t.value for t in at.sidebar.text]
    assert not [b for b in at.button if b.label.startswith("Apply to")]
    assert "Save" not in [b.label for b in at.button]
    assert not at.get("expandable") or all("Correct" not in e.label for e in at.expander)
    at = go(at, "mentions")
    at = go(at, "alerts")
    assert "Save rule" not in [b.label for b in at.button]
    assert "Backtest" in " ".join(b.label for b in at.button)  # reading a rule's effect is fine
    at = go(at, "curation")
    assert not [b for b in at.button if b.label in ("Send now", "Pin", "Remove")]
    assert "People" not in [p for p in at.get("navigation")] if at.get("navigation") else True


def queue(config) -> dict[str, tuple[str, str | None]]:
    with store.connect(config.db_path) as db:
        q = inbox.queue(db, inbox.STATUSES, limit=1000)
    return dict(zip(q["id"], zip(q["status"], q["assignee"], strict=True), strict=True))


def history(config) -> list[tuple[str, str]]:
    with store.connect(config.db_path) as db:
        return db.execute("SELECT actor, change FROM inbox_history ORDER BY changed_at").fetchall()


def audit(config) -> list[tuple[str, str, str]]:
    with store.connect(config.db_path) as db:
        return [(a[1], a[2], a[3]) for a in users.audit(db)]


def forge(monkeypatch) -> None:
    """What a tampered browser could send: every form shown, whatever the role."""
    from dashboard import auth

    monkeypatch.setattr(auth, "allowed", lambda action, client_id=None: True)


def test_a_viewer_is_refused_inbox_changes_even_when_forged(team, monkeypatch):
    at = go(signed_in("vi@example.com"), "inbox")
    before, said = queue(team), history(team)
    forge(monkeypatch)
    at = go(at, "inbox")
    at.selectbox[0].select("Mark done")
    next(b for b in at.button if b.label.startswith("Apply to")).click().run()
    assert any("Not allowed" in e.value and "vi@example.com" in e.value for e in at.error)
    at = go(at, "inbox")
    next(b for b in at.button if b.label == "Save").click().run()
    assert any("may not change the inbox" in e.value for e in at.error)
    assert queue(team) == before and history(team) == said


def test_a_viewer_or_agent_is_refused_rule_edits_and_client_imports(team, monkeypatch):
    for email in ("vi@example.com", "ag@example.com"):
        at = signed_in(email)
        forging = monkeypatch.context()
        forge(forging.__enter__())
        at = go(at, "alerts")
        at.text_input[0].input("forged-rule")
        next(b for b in at.button if b.label == "Save rule").click().run()
        assert any("may not edit alert rules" in e.value for e in at.error), email
        at = go(at, "clients")
        # The client editor is in the page, hidden from the browser: a forged click is refused.
        next(b for b in at.button if b.label == "Save client").click().run()
        assert any("may not add, edit or import clients" in e.value for e in at.error), email
        forging.__exit__(None, None, None)
    with store.connect(team.db_path) as db:
        assert not db.execute("SELECT * FROM alert_rules").fetchall()
        assert len(clients.all_clients(db)) == 2


def test_an_agent_works_the_inbox_as_themselves_and_sees_my_inbox(team):
    at = go(signed_in("ag@example.com"), "inbox")
    assignee = next(s for s in at.selectbox if s.label == "Assigned to")
    assert assignee.options == ["—", "ad@example.com", "ag@example.com"]  # no viewer
    assignee.select("ag@example.com")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    assert ("ag@example.com", "assignee: — → ag@example.com") in history(team)
    mine = [mid for mid, (_, who) in queue(team).items() if who == "ag@example.com"]
    assert len(mine) == 1
    at.toggle[0].set_value(True).run()
    assert "1 mention(s) marked" in at.caption[0].value
    assert list(at.dataframe[0].value["assignee"]) == ["ag@example.com"]


def test_an_agent_curates_only_the_clients_assigned_to_them(team, monkeypatch):
    at = go(signed_in("ag@example.com"), "curation")
    pick = next(s for s in at.selectbox if s.label == "Client")
    pick.select("acme").run()
    assert not any("Only admins" in c.value for c in at.caption)
    with store.connect(team.db_path) as db:
        clients.set_note(db, "acme", "", store.utcnow())
    note = next(t for t in at.text_area if "Personal note" in t.label)
    note.input("Hello from your agent")
    next(b for b in at.button if b.label == "Save note").click().run()
    assert not at.exception
    assert ("ag@example.com", "digest.note", "acme") in audit(team)
    pick = next(s for s in at.selectbox if s.label == "Client")
    pick.select("globex").run()
    assert any("Only admins" in c.value for c in at.caption)
    assert "Save note" not in [b.label for b in at.button]
    forge(monkeypatch)
    at = go(at, "curation")
    next(t for t in at.text_area if "Personal note" in t.label).input("forged")
    next(b for b in at.button if b.label == "Save note").click().run()
    assert any("not assigned to them" in e.value for e in at.error)
    with store.connect(team.db_path) as db:
        assert clients.note(db, "globex") == ""


def test_an_admin_edits_rules_and_it_is_recorded_as_them(team):
    at = go(signed_in("ad@example.com"), "alerts")
    at.text_input[0].input("outage-watch")
    next(t for t in at.text_input if t.label.startswith("Recipients")).input("ops@example.com")
    next(b for b in at.button if b.label == "Save rule").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    with store.connect(team.db_path) as db:
        assert db.execute("SELECT updated_by FROM alert_rules").fetchall() == [("ad@example.com",)]
    assert ("ad@example.com", "rule.save", "outage-watch") in audit(team)
    at = go(at, "people")
    assert "vi@example.com" in list(at.dataframe[0].value["email"])


def test_the_people_page_is_not_there_for_an_agent(team):
    at = signed_in("ag@example.com")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        go(at, "people")


def test_signing_out_asks_again(team):
    at = signed_in("vi@example.com")
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert [t.label for t in at.text_input] == ["Email", "Password"] and not at.metric


def test_a_single_user_install_keeps_the_shared_password_and_says_so(filled, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TIDINGS_DASHBOARD_PASSWORD", "s3cret")
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    assert [t.label for t in at.text_input] == ["Password"]
    assert any("Single-user install" in c.value for c in at.caption)
