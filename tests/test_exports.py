"""Exports: a filtered table as CSV, Parquet or Excel; the whole store as Parquet files that
`tidings import` restores (same rows, same ids), on real DuckDB files in tmp_path."""

import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pandas as pd
import pytest

from data import clients, corrections, inbox, store
from data.clients import Client
from data.exports import MANIFEST, export_store, table_bytes
from data.records import Mention, Score
from flows.cli import main
from tests.conftest import make_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def write_config(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'[database]\npath = "{tmp_path / name}.duckdb"\n')
    return path


def fill(config):
    mentions = [
        Mention("forum", f"m{i}", f"https://forum.example/{i}", f"=HYPERLINK(\"x\") {i}",
                f"Nimbus Notes text {i} ünïcode ✓", "ana" if i % 2 else None,
                NOW - timedelta(hours=i), i * 10 if i % 3 else None)
        for i in range(40)
    ]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, mentions, NOW)
        store.upsert_scores(
            db,
            [Score(m.id, "v1", ("Nimbus Notes",), -0.4, "negative", intents={"complaint": 0.9})
             for m in mentions],
            NOW,
        )  # fmt: skip
        inbox.update(db, [mentions[0].id], "ana@example.com", NOW, assignee="sam@example.com")
        corrections.correct(db, mentions[1].id, "ana", NOW, sentiment="positive")
        clients.save(db, Client(id="c1", name="Cleo", email="c@example.com", interests=["x"]), NOW)
    return mentions


def every_table(path):
    with store.connect(path) as db:
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_name <> 'schema_migrations' ORDER BY 1").fetchall()]  # fmt: skip
        return {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}


def test_export_then_import_restores_the_same_rows_and_ids(tmp_path, capsys):
    source = write_config(tmp_path, "old")
    config = make_config(tmp_path, [], database={"path": str(tmp_path / "old.duckdb")})
    fill(config)
    before = every_table(config.db_path)
    assert len(before["mentions"]) == 40 and before["clients"] and before["inbox"]
    assert main(["--config", str(source), "export", str(tmp_path / "backup")]) == 0
    assert "to " + str(tmp_path / "backup") in capsys.readouterr().out
    target = write_config(tmp_path, "new")
    assert main(["--config", str(target), "import", str(tmp_path / "backup")]) == 0
    after = every_table(tmp_path / "new.duckdb")
    assert after == before
    # The restored store works as the old one did: the same page of mentions, same ids.
    f = store.MentionFilter(limit=10)
    with store.connect(config.db_path) as old, store.connect(tmp_path / "new.duckdb") as new:
        assert (
            store.find_mentions(old, f)["id"].tolist() == store.find_mentions(new, f)["id"].tolist()
        )
        assert store.summary(old, f) == store.summary(new, f)


def test_import_refuses_a_store_that_holds_mentions_and_export_an_used_folder(tmp_path, capsys):
    source = write_config(tmp_path, "old")
    config = make_config(tmp_path, [], database={"path": str(tmp_path / "old.duckdb")})
    fill(config)
    backup = str(tmp_path / "backup")
    assert main(["--config", str(source), "export", backup]) == 0
    assert main(["--config", str(source), "export", backup]) == 2
    assert "already holds an export; choose an empty folder" in capsys.readouterr().err
    assert main(["--config", str(source), "import", backup]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "tidings: error: the store already holds mentions: import into a new database, "
        "or use --replace"
    )
    assert main(["--config", str(source), "import", str(tmp_path)]) == 2
    assert "no tidings-export.json (not a folder `tidings export` wrote)" in capsys.readouterr().err
    with store.connect(config.db_path) as db:  # nothing lost on the way
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 40
    assert main(["--config", str(source), "import", backup, "--replace"]) == 0


def test_a_damaged_export_imports_nothing(tmp_path, capsys):
    source = write_config(tmp_path, "old")
    config = make_config(tmp_path, [], database={"path": str(tmp_path / "old.duckdb")})
    fill(config)
    backup = tmp_path / "backup"
    assert main(["--config", str(source), "export", str(backup)]) == 0
    (backup / "scores.parquet").write_bytes(b"not parquet")
    target = write_config(tmp_path, "new")
    assert main(["--config", str(target), "import", str(backup)]) == 2
    assert "cannot import" in capsys.readouterr().err
    with store.connect(tmp_path / "new.duckdb") as db:  # all or nothing
        assert db.execute("SELECT count(*) FROM mentions").fetchone()[0] == 0


TABLE = pd.DataFrame({
    "title": ["=cmd|' /C calc'!A0", "plain", "@handle"],
    "terms": [["Nimbus Notes", "Quillpad"], [], ["Quillpad"]],
    "reach": [10, None, 3],
    "published": pd.to_datetime(["2026-11-20 10:00", "2026-11-19 09:00", "2026-11-18 08:00"]),
})  # fmt: skip


def test_a_table_as_csv_runs_no_formula_in_a_spreadsheet():
    text = table_bytes(TABLE, "csv").decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text))
    assert back["title"].tolist() == ["'=cmd|' /C calc'!A0", "plain", "'@handle"]
    assert back["terms"].tolist()[0] == "Nimbus Notes; Quillpad"


def test_a_table_as_excel_opens_with_the_same_rows():
    book = openpyxl.load_workbook(io.BytesIO(table_bytes(TABLE, "xlsx")))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("title", "terms", "reach", "published")
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][1] == "Nimbus Notes; Quillpad"
    assert rows[2][3] == datetime(2026, 11, 19, 9, 0) and len(rows) == 4


def test_a_table_as_parquet_keeps_types_and_lists():
    back = pd.read_parquet(io.BytesIO(table_bytes(TABLE, "parquet")))
    assert back["terms"].map(list).tolist() == TABLE["terms"].tolist()
    assert back["title"].tolist() == TABLE["title"].tolist()  # data, not for a spreadsheet


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        table_bytes(TABLE, "pdf")


def test_an_export_of_an_older_schema_imports_with_its_derived_tables_filled(tmp_path):
    """An export written before migration 021 has no story_bands and rollups without exact
    sentiment sums: the import fills them as the migration would have."""
    import duckdb

    from data.exports import import_store

    config = make_config(tmp_path, [], database={"path": str(tmp_path / "old.duckdb")})
    fill(config)
    with store.connect(config.db_path) as db:  # a story head, with band keys
        db.execute("UPDATE mentions SET bands = [1, 2], fingerprint = 'x' WHERE id = ?",
                   [db.execute("SELECT min(id) FROM mentions").fetchone()[0]])  # fmt: skip
        store.rebuild_story_bands(db)
    before = every_table(config.db_path)
    assert len(before["story_bands"]) == 2
    backup = tmp_path / "backup"
    with store.connect(config.db_path) as db:
        export_store(db, backup, NOW)
    manifest = json.loads((backup / MANIFEST).read_text())
    manifest["schema_version"] = 20
    del manifest["rows"]["story_bands"]
    (backup / "story_bands.parquet").unlink()
    (backup / MANIFEST).write_text(json.dumps(manifest))
    old = duckdb.connect()
    for table in ("daily_terms", "daily_sources"):
        path = str(backup / f"{table}.parquet")
        old.execute(f"CREATE TABLE t AS SELECT * EXCLUDE (sentiment_units) FROM '{path}'")
        old.execute(f"COPY t TO '{path}' (FORMAT parquet)")
        old.execute("DROP TABLE t")
    with store.connect(tmp_path / "new.duckdb") as db:
        import_store(db, backup)
    after = every_table(tmp_path / "new.duckdb")
    # How many rows were added to the queue since it was last written in order: refilling the
    # derived tables writes it in order again.
    assert after.pop("inbox_queue_order") == ["(0,)"]
    before.pop("inbox_queue_order")
    assert after == before
