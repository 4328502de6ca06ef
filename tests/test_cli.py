"""The `tidings` command line: one pass, status and score, as a user runs them."""

import io
import json
import subprocess
import sys
from pathlib import Path

from flows.cli import main, score_lines
from nlp import build_scorer
from tests.conftest import WATCH, make_config


def test_score_reads_json_lines_and_reports_bad_lines(tmp_path):
    config = make_config(tmp_path, [])
    lines = io.StringIO(
        '{"id": "a", "text": "Nimbus Notes is wonderful"}\n'
        "not json\n"
        '{"id": "c"}\n'
        '{"id": "d", "text": "nothing to see"}\n'
    )
    out, err = io.StringIO(), io.StringIO()
    assert score_lines(build_scorer(config.watch), lines, out, err) == 1
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in results] == ["a", "d"]
    assert results[0]["sentiment_label"] == "positive" and results[0]["terms"] == ["Nimbus Notes"]
    assert results[0]["lang"] == "en" and results[0]["intents"]["compliment"] >= 0.5
    assert len(results[0]["intents"]) == 8
    assert results[1]["terms"] == [] and -1 <= results[1]["sentiment"] <= 1
    errors = [json.loads(line) for line in err.getvalue().splitlines()]
    assert [e["line"] for e in errors] == [2, 3]


def test_status_before_any_run(tmp_path, capsys):
    config = make_config(tmp_path, [{"id": "blog", "url": "https://x.example/feed"}])
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{config.db_path}"\n[[sources]]\nid = "blog"\nurl = "https://x.example/feed"\n'
    )
    assert main(["--config", str(path), "status"]) == 0
    out = capsys.readouterr().out
    assert "Mentions: 0" in out and "Last run: never" in out and "never fetched" in out


def test_a_store_written_by_a_newer_duckdb_is_one_line_saying_what_to_do(tmp_path, capsys):
    # The first block of a file DuckDB 2.0 wrote (Tidings before the 1.4 LTS line).
    db = tmp_path / "tidings.duckdb"
    db.write_bytes((Path(__file__).parent / "fixtures" / "duckdb2-header.bin").read_bytes())
    path = tmp_path / "tidings.toml"
    path.write_text(f'[database]\npath = "{db}"\n')
    assert main(["--config", str(path), "status"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "newer DuckDB" in err and "docs/scale.md" in err
    assert db.stat().st_size == 4096  # left as it was


def test_score_command_needs_no_prefect_server(tmp_path):
    path = tmp_path / "tidings.toml"
    path.write_text(
        "".join(
            f'[[watch]]\nname = "{w["name"]}"\nterms = {json.dumps(w["terms"])}\n' for w in WATCH
        )
    )
    code = (
        "import sys, flows.cli as c; rc = c.main(sys.argv[1:]); "
        "assert 'prefect' not in sys.modules; sys.exit(rc)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "--config", str(path), "score"],
        input='{"id": 1, "text": "Quillpad crashed again, awful"}\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sentiment_label"] == "negative"


def test_clients_import_reports_rejected_rows_and_exits_1(tmp_path, capsys):
    path = tmp_path / "tidings.toml"
    path.write_text(f'[database]\npath = "{tmp_path / "t.duckdb"}"\n')
    csv = tmp_path / "clients.csv"
    csv.write_text("id,name,email,interests\nana,Ana,ana@example.com,design;type\nbo,Bo,nope,x\n")
    assert main(["--config", str(path), "clients", str(csv)]) == 1
    out = capsys.readouterr().out
    assert f"{csv}: 1 client(s) imported, 1 problem(s)" in out
    assert "row 3 (nope): email: not an email address" in out
    assert main(["--config", str(path), "clients", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: cannot read" in capsys.readouterr().err
