"""The clients CSV and what an import may change: a real DuckDB file in tmp_path."""

import csv
import io
from datetime import UTC, datetime, timedelta
from importlib import resources

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- the file itself: encodings, quotes, columns, formulas ---------------------------------


def test_a_latin1_or_binary_file_is_one_line_naming_the_file():
    latin1 = (HEADER + "jo,José,jose@example.com,design\n").encode("latin-1")
    with pytest.raises(clients.CsvFileError) as e:
        clients.decode_csv(latin1, "people.csv")
    assert str(e.value) == (
        "people.csv: not UTF-8 text (byte 0xe9 on line 2); save it as CSV UTF-8 and import again"
    )
    with pytest.raises(clients.CsvFileError, match=r"^photo\.csv: not a text file \(a NUL byte"):
        clients.decode_csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv")
    with pytest.raises(clients.CsvFileError, match=r"^u16\.csv: UTF-16 text; save it as CSV UTF-8"):
        clients.decode_csv((HEADER + ROWS).encode("utf-16"), "u16.csv")
    assert clients.decode_csv(b"\xef\xbb\xbf" + (HEADER + ROWS).encode(), "x.csv") == HEADER + ROWS


def test_the_cli_reports_a_latin1_file_in_one_line(tmp_path, capsys):
    from flows.cli import main

    config = tmp_path / "tidings.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "t.duckdb"}"\n')
    path = tmp_path / "people.csv"
    path.write_bytes((HEADER + "jo,José,jose@example.com,design\n").encode("latin-1"))
    assert main(["--config", str(config), "clients", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"tidings: error: {path}: not UTF-8 text (byte 0xe9 on line 2); save it as "
        "CSV UTF-8 and import again\n"
    )


def test_an_unclosed_quote_spoils_its_own_row_only(db):
    saved, report = clients.import_csv(
        db,
        HEADER
        + 'ana,"Ana,ana@example.com,design\n'
        + "bob,Bob,bob@example.com,accounting\n"
        + 'cy,"Cy" Young,cy@example.com,x\n'
        + 'dee,"Dee ""D"" Day",dee@example.com,x\n',
        NOW,
    )
    assert report == [
        "row 2 (ana): name: the quote is not closed on this line",
        'row 4 (cy@example.com): name: text after the closing quote (write a quote inside a value as "")',
    ]
    assert saved == 2
    assert sorted((c.id, c.name) for c in clients.all_clients(db)) == [
        ("bob", "Bob"), ("dee", 'Dee "D" Day'),
    ]  # fmt: skip


def test_unknown_columns_stop_the_file_before_anything_is_imported(db):
    saved, report = clients.import_csv(
        db, "id,name,email,interests,cadense\nana,Ana,ana@example.com,x,daily\n", NOW
    )
    assert (saved, clients.all_clients(db)) == (0, [])
    assert report == [
        "header: unknown column 'cadense' (the columns are id, name, email, interests, "
        "liked_sources, disliked_sources, cadence, weekday, hour, timezone, max_items, "
        "max_emails_per_week, status, owner, others_talking); nothing imported"
    ]
    saved, report = clients.import_csv(db, HEADER + "ana,Ana,ana@example.com,x,extra\n", NOW)
    assert (saved, report) == (0, ["row 2 (ana@example.com): 5 cells for 4 columns (a value "
                                   "holding a comma needs quotes)"])  # fmt: skip


def test_every_problem_row_is_one_line_with_its_row_and_column(db):
    saved, report = clients.import_csv(
        db,
        HEADER
        + "ana,Ana,ana@example.com,design\n"
        + "\n"
        + "ana,Ana Again,other@example.com,design\n"
        + "bo,Bo,ANA@example.com,design\n"
        + "esc,Esc\x1b[31m,esc@example.com,design\n",
        NOW,
    )
    assert saved == 1 and report == [
        "row 4 (other@example.com): id: 'ana' appears twice in the file (first on row 2)",
        "row 5 (ANA@example.com): email: appears twice in the file (first on row 2)",
        "row 6 (esc@example.com): name: control character U+001B",
    ]


def test_one_mailbox_spelt_with_its_domain_in_unicode_or_ascii_is_one_client(db):
    """`bücher.example` and `xn--bcher-kva.example` are one domain: two clients at one mailbox
    would each get every digest."""
    saved, report = clients.import_csv(
        db,
        HEADER + "u,U,ana@bücher.example,design\n" + "a,A,Ana@XN--bcher-kva.example,design\n",
        NOW,
    )
    assert saved == 1 and report == [
        "row 3 (Ana@XN--bcher-kva.example): email: appears twice in the file (first on row 2)"
    ]
    saved, report = clients.import_csv(db, HEADER + "a,A,ana@xn--bcher-kva.example,design\n", NOW)
    assert saved == 0 and report == [
        "row 2 (ana@xn--bcher-kva.example): email: another client (u) already has this address"
    ]
    assert [c.email for c in clients.all_clients(db)] == ["ana@bücher.example"]


def test_formulas_are_kept_but_exported_so_that_spreadsheets_show_them_as_text(db):
    rows = (
        'f1,=HYPERLINK("http://evil.example"),f1@example.com,design\n'
        "f2,+1+1,f2@example.com,-crypto;design\n"
        "f3,@SUM(A1),f3@example.com,design\n"
        "f4,'=already quoted,f4@example.com,design\n"
    )
    assert clients.import_csv(db, HEADER + rows, NOW) == (4, [])
    everyone = clients.all_clients(db)
    assert {c.name for c in everyone} == {
        '=HYPERLINK("http://evil.example")', "+1+1", "@SUM(A1)", "=already quoted",
    }  # fmt: skip
    exported = clients.export_csv(everyone)
    for row in csv.reader(io.StringIO(exported)):
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row), row
    assert "'-crypto;design" in exported
    rows, report = clients.parse_csv(exported)
    assert report == [] and sorted(r.client.name for r in rows) == sorted(c.name for c in everyone)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp")), min_size=1, max_size=30
    )
    .map(str.strip)
    .filter(bool),
    interests=st.lists(
        st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp")), min_size=1)
        .map(lambda s: s.replace(";", " ").strip())
        .filter(bool),
        min_size=1,
        max_size=4,
    ),
)
def test_any_exported_client_imports_as_it_was_and_no_cell_is_a_formula(name, interests):
    client = clients.Client(id="c1", name=name, email="c@example.com", interests=interests)
    exported = clients.export_csv([client])
    for row in csv.reader(io.StringIO(exported)):
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row)
    rows, report = clients.parse_csv(exported)
    assert report == [] and rows[0].client == client


def test_the_clients_table_downloads_no_formula(tmp_path, monkeypatch):
    from tests.conftest import open_view

    path = tmp_path / "tidings.duckdb"
    with store.connect(path) as db:
        clients.import_csv(db, HEADER + "f1,=1+2,f1@example.com,-crypto;design\n", NOW)
    page = open_view(
        monkeypatch, tmp_path / "tidings.toml", f'[database]\npath = "{path}"\n', "clients"
    )
    assert not page.exception
    table = page.dataframe[0].value
    assert table["name"].tolist() == ["'=1+2"] and table["interests"].tolist() == [
        "'-crypto; design"
    ]


def test_a_row_with_a_cell_or_key_too_long_is_rejected_and_the_others_imported(db):
    """A cell over the csv module's limit raised from it; an id or email over 120 KB failed
    the store's key: each once ended the import with a traceback."""
    huge, long_id = "x" * 200_000, "c" * 125_000
    text = (
        HEADER
        + f"big,Big,big@example.com,{huge}\n"
        + f"{long_id},Long,long@example.com,design\n"
        + ROWS
    )
    saved, report = clients.import_csv(db, text, NOW)
    assert saved == 2 and {c.id for c in clients.all_clients(db)} == {"ana", "bob"}
    assert report[0] == "row 2 (?): a cell longer than 131,072 characters"
    assert report[1].startswith("row 3 (long@example.com): id: ")
    assert len(report) == 2 and all("\n" not in line for line in report)
