"""The starter `tidings init` writes: valid as it is, and every section it shows commented out
(mail, client feeds, a knowledge source, alert rules) valid once uncommented."""

import re
import tomllib
from importlib import resources

from data.config import parse_config

STARTER = resources.files("data").joinpath("starter.toml").read_text("utf-8")


def commented_sections(text: str) -> list[str]:
    """Each commented-out block that starts with a table header (`# [smtp]`), uncommented."""
    blocks, current = [], None
    for line in text.splitlines():
        if re.match(r"^# \[", line):
            current = [line[2:]]
            blocks.append(current)
        elif current is not None and re.match(r"^# (\w+ = |\[)|^#$", line):
            current.append(line[2:])
        else:
            current = None
    return ["\n".join(b) for b in blocks]


def test_the_starter_is_valid_as_written():
    config = parse_config(tomllib.loads(STARTER))
    assert config.watch and config.sources


def test_each_commented_section_is_valid_once_uncommented():
    sections = commented_sections(STARTER)
    headers = {s.splitlines()[0] for s in sections}
    assert {"[smtp]", "[push]", "[[alerts]]"} <= headers
    for section in sections:
        config = parse_config(tomllib.loads(STARTER + "\n" + section + "\n"))
        assert config  # each parses and validates with the rest of the starter
    everything = parse_config(tomllib.loads(STARTER + "\n" + "\n".join(sections) + "\n"))
    assert everything.smtp.host == "smtp.example.com"
    assert everything.push.base_url == "https://feeds.example.com"
    assert [s.id for s in everything.sources if s.knowledge] == ["industry-news"]
    assert {a.kind for a in everything.alerts} == {
        "spike", "match", "reminder", "engagement", "satisfaction",
    }  # fmt: skip
    assert not everything.push.track_opens and everything.checkins.every_days == 30


def test_the_dashboard_address_for_mail_links_is_shown():
    line = next(x for x in STARTER.splitlines() if x.startswith("# base_url"))
    text = STARTER.replace(line, line[2:], 1)
    assert parse_config(tomllib.loads(text)).dashboard.base_url == "https://tidings.example.com"


RULE = '[[alerts]]\nname = "angry"\nkind = "match"\nany_terms = ["refund"]\nrecipients = ["a@example.com"]\n'


def test_alerts_without_smtp_say_where_mail_would_go(tmp_path, capsys):
    from flows.cli import main

    config = tmp_path / "tidings.toml"
    config.write_text(f'[database]\npath = "{tmp_path / "t.duckdb"}"\n' + RULE)
    assert main(["--config", str(config), "alerts", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"tidings: note: {config.resolve()}: no [smtp] section")
    assert "localhost:587" in err and "add [smtp]" in err

    config.write_text(config.read_text() + '[smtp]\nhost = "mail.example.com"\n')
    assert main(["--config", str(config), "alerts", "--dry-run"]) == 0
    assert "note" not in capsys.readouterr().err
