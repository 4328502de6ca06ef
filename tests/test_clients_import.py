"""The clients CSV and what an import may change: a real DuckDB file in tmp_path."""

from datetime import UTC, datetime, timedelta
from importlib import resources

import duckdb
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


def tokens(db):
    return {c.id: c.token for c in clients.all_clients(db)}


def test_a_token_column_is_never_imported_and_says_so(db):
    clients.import_csv(db, HEADER + ROWS, NOW)
    before = tokens(db)
    saved, report = clients.import_csv(
        db,
        "id,name,email,interests,token\n"
        f"ana,Ana,ana@example.com,design,{before['bob']}\n"
        "cy,Cy,cy@example.com,design,chosen-by-the-file\n",
        NOW,
    )
    assert saved == 2 and report == [
        "header: column 'token' ignored: tokens are made by Tidings, never imported"
    ]
    after = tokens(db)
    assert after["ana"] == before["ana"] and after["bob"] == before["bob"]
    assert after["cy"] != "chosen-by-the-file" and len(set(after.values())) == 3
    clients.unsubscribe(db, clients.by_token(db, before["bob"]).id, "client (link)", NOW)
    assert status_of(db, "ana") == "active"  # bob's link acts for bob alone


def test_a_token_given_in_code_is_ignored_too(db):
    given = clients.Client(
        id="ana", name="Ana", email="ana@example.com", interests=["x"], token="guessable"
    )
    assert clients.save(db, given, NOW).token != "guessable"
    assert clients.by_token(db, "guessable") is None


def database_before_011(path):
    """A store file as the releases before migration 011 left it."""
    db = duckdb.connect(str(path))
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    for f in sorted(resources.files("data.migrations").iterdir(), key=lambda f: f.name):
        if f.name.endswith(".sql") and int(f.name[:3]) < 11:
            db.execute(f.read_text(encoding="utf-8"))
            db.execute("INSERT INTO schema_migrations VALUES (?, now())", [int(f.name[:3])])
    return db


def test_tokens_are_unique_and_the_migration_parts_clients_sharing_one(tmp_path):
    path = tmp_path / "tidings.duckdb"
    with database_before_011(path) as db:
        # What an import of a token column could leave: three clients, one token.
        for i, (cid, created) in enumerate([("late", 3), ("first", 1), ("later", 5)]):
            db.execute(
                "INSERT INTO clients (id, name, email, interests, cadence, status, token, "
                "created_at, updated_at) VALUES (?, ?, ?, ['x'], 'weekly', 'paused', 'same', ?, ?)",
                [cid, cid, f"{i}@example.com", datetime(2026, 1, created), datetime(2026, 1, 9)],
            )
    with store.connect(path) as db:
        after = tokens(db)
        assert after["first"] == "same"
        assert len(set(after.values())) == 3 and len(after["late"]) == len(after["later"]) == 64
        assert {c.status for c in clients.all_clients(db)} == {"paused"}  # nothing else moved
        with pytest.raises(duckdb.ConstraintException):
            db.execute("UPDATE clients SET token = 'same' WHERE id = 'late'")
        clients.save(db, clients.all_clients(db)[0].model_copy(update={"name": "Renamed"}), NOW)


def test_the_clients_export_never_holds_a_token(db):
    clients.import_csv(db, HEADER + ROWS, NOW)
    everyone = clients.all_clients(db)
    exported = clients.export_csv(everyone)
    assert "token" not in exported.splitlines()[0]
    assert not any(c.token in exported for c in everyone)
    rows, report = clients.parse_csv(exported)
    assert report == [] and [r.line for r in rows] == [2, 3]
    assert [r.client.model_dump(exclude={"token"}) for r in rows] == [
        c.model_dump(exclude={"token"}) for c in everyone
    ]  # what is exported imports as it was
