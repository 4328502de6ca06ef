"""The clients CSV and what an import may change: a real DuckDB file in tmp_path."""

from datetime import UTC, datetime, timedelta

import pytest

from data import clients, store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HEADER = "id,name,email,interests\n"
ROWS = "ana,Ana,ana@example.com,design\nbob,Bob,bob@example.com,accounting;invoices\n"


@pytest.fixture
def db(tmp_path):
    with store.connect(tmp_path / "tidings.duckdb") as db:
        yield db


def status_of(db, client_id):
    return next(c.status for c in clients.all_clients(db) if c.id == client_id)


def test_reimport_never_resubscribes_a_client_who_unsubscribed(db):
    assert clients.import_csv(db, HEADER + ROWS, NOW) == (2, [])
    clients.unsubscribe(db, "bob", "client (unsubscribe link)", NOW)

    assert clients.import_csv(db, HEADER + ROWS, NOW + timedelta(days=1)) == (2, [])
    assert status_of(db, "bob") == "unsubscribed"

    saved, report = clients.import_csv(
        db,
        "id,name,email,interests,status\n"
        "ana,Ana,ana@example.com,design,active\n"
        "bob,Bob B.,bob@example.com,accounting,active\n",
        NOW + timedelta(days=2),
    )
    assert saved == 2 and status_of(db, "bob") == "unsubscribed"
    assert report == [
        "row 3 (bob@example.com): status: kept 'unsubscribed': the client unsubscribed; only "
        "their undo link or Resubscribe on the dashboard changes that (other fields updated)"
    ]
    assert next(c.name for c in clients.all_clients(db) if c.id == "bob") == "Bob B."


def test_the_dashboard_form_cannot_resubscribe_only_the_explicit_action_can(db):
    clients.import_csv(db, HEADER + ROWS, NOW)
    clients.unsubscribe(db, "ana", "client (unsubscribe link)", NOW)
    ana = next(c for c in clients.all_clients(db) if c.id == "ana")

    kept = clients.save(db, ana.model_copy(update={"status": "active"}), NOW, "ops@example.com")
    assert kept.status == "unsubscribed" and status_of(db, "ana") == "unsubscribed"

    clients.resubscribe(db, "ana", "ops@example.com (dashboard)", NOW + timedelta(hours=1))
    assert status_of(db, "ana") == "active"
    assert [(s, p, by) for _, s, p, by in clients.status_log(db, "ana")] == [
        ("active", None, "import"),
        ("unsubscribed", "active", "client (unsubscribe link)"),
        ("active", "unsubscribed", "ops@example.com (dashboard)"),
    ]


def test_an_import_without_a_status_keeps_a_paused_client_paused(db):
    clients.import_csv(
        db, "id,name,email,interests,status\nana,Ana,ana@example.com,x,paused\n", NOW
    )
    clients.import_csv(db, HEADER + ROWS, NOW)
    assert status_of(db, "ana") == "paused" and status_of(db, "bob") == "active"
    clients.import_csv(
        db, "id,name,email,interests,status\nana,Ana,ana@example.com,x,active\n", NOW
    )
    assert status_of(db, "ana") == "active"


def test_a_new_id_cannot_bring_back_an_unsubscribed_address(db):
    clients.import_csv(db, HEADER + ROWS, NOW)
    clients.unsubscribe(db, "bob", "client (unsubscribe link)", NOW)
    saved, report = clients.import_csv(db, HEADER + "bobby,Bob,BOB@example.com,x\n", NOW)
    assert saved == 0 and report == [
        "row 2 (BOB@example.com): email: another client (bob) already has this address"
    ]


def test_resubscribe_on_the_dashboard_is_explicit_and_logged_with_who_did_it(tmp_path, monkeypatch):
    from tests.conftest import open_view

    path = tmp_path / "tidings.duckdb"
    with store.connect(path) as db:
        clients.import_csv(db, HEADER + ROWS, NOW)
        clients.unsubscribe(db, "bob", "client (unsubscribe link)", NOW)
    page = open_view(
        monkeypatch, tmp_path / "tidings.toml", f'[database]\npath = "{path}"\n', "clients"
    )
    page.sidebar.text_input(key="actor").input("ops@example.com").run()
    page.selectbox(key="client_choice").select("bob").run()
    assert next(s for s in page.selectbox if s.label == "Status").disabled
    assert page.button(key="resubscribe").disabled  # not before saying the client asked
    page.button(key="FormSubmitter:client-Save client").click().run()
    with store.connect(path) as db:
        assert status_of(db, "bob") == "unsubscribed"  # saving the form changes nothing
    page.checkbox(key="resubscribe_asked").check().run()
    page.button(key="resubscribe").click().run()
    assert not page.exception
    with store.connect(path) as db:
        assert status_of(db, "bob") == "active"
        assert clients.status_log(db, "bob")[-1][1:] == (
            "active", "unsubscribed", "ops@example.com (dashboard)",
        )  # fmt: skip
