from pathlib import Path

import pytest

from data.config import load_config
from data.errors import ConfigError
from flows.cli import main
from tests.conftest import ROOT


def test_committed_example_config_is_valid_and_is_what_init_writes(tmp_path, capsys):
    committed = load_config(ROOT / "tidings.toml")
    assert committed.watch and committed.sources
    target = tmp_path / "new.toml"
    assert main(["--config", str(target), "init"]) == 0
    assert target.read_text() == (ROOT / "tidings.toml").read_text()
    assert load_config(target).db_path == tmp_path / "var" / "tidings.duckdb"


def test_init_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "tidings.toml"
    target.write_text("# mine\n")
    assert main(["--config", str(target), "init"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "# mine\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[database\n", "not valid TOML"),
        (
            '[[sources]]\nid = "a"\nurl = "https://x.example/feed"\nintervl = 5\n',
            "sources[0].intervl: unknown key",
        ),
        ('[[sources]]\nid = "a"\nurl = "ftp://x.example/feed"\n', "sources[0].url"),
        ('[[watch]]\nname = "Acme"\nterms = []\n', "watch[0]: a watch needs terms or a query"),
        (
            '[[watch]]\nname = "Acme"\nquery = \'acme AND "big corp\'\n',
            "watch[0].query: unclosed quote at column 10",
        ),
        (
            '[[watch]]\nname = "Acme"\nquery = "acme AND (x OR"\n',
            "watch[0].query: a term is missing at column 15",
        ),
        ('[[sources]]\nid = "a b"\nurl = "https://x.example/"\n', "sources[0].id"),
        (
            '[[sources]]\nid = "a"\nurl = "https://x.example/1"\n'
            '[[sources]]\nid = "a"\nurl = "https://x.example/2"\n',
            "sources[1]: duplicate id 'a'",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, content, expected, capsys):
    path = tmp_path / "tidings.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message

    assert main(["--config", str(path), "status"]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("tidings: error:") and "Traceback" not in printed
    assert expected in printed


def test_missing_config_tells_how_to_create_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TIDINGS_CONFIG", str(tmp_path / "nope.toml"))
    assert main(["status"]) == 2
    assert "nope.toml: no such file (create one with `tidings init`)" in capsys.readouterr().err
