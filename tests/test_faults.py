"""One bad item, one bad source or one busy store stays inside the smallest unit it touches:
the other items, sources, passes and pages go on (issue 10)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import textwrap

import pytest
from prefect.testing.utilities import prefect_test_harness
from werkzeug import Response

from collectors import COLLECTORS
from collectors.rss import parse_feed
from data import store
from data.text import MAX_TEXT
from flows import cli
from flows.pipeline import pass_lock, pass_once
from nlp import build_scorer
from tests.conftest import ROOT, WATCH, make_config


@pytest.fixture(scope="module")
def prefect():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(n: int, title: str, text: str = "Nimbus Notes is fine.") -> str:
    return (
        f"<item><title>{title}</title><link>http://127.0.0.1/{n}</link>"
        f"<guid>i{n}</guid><description>{text}</description></item>"
    )


@pytest.mark.parametrize("ref", ["&#xD800;", "&#55296;", "&#x110000;", "&#99999999999;", "&#1;"])
def test_a_title_with_an_impossible_character_reference_keeps_the_feed_readable(ref):
    body = rss(item(1, f"Nimbus Notes {ref} broke"), item(2, "Nimbus Notes works"))
    mentions = parse_feed(body, "s")
    assert [m.native_id for m in mentions] == ["i1", "i2"]
    assert mentions[0].title.startswith("Nimbus Notes") and "\ud800" not in mentions[0].title
    assert all(ord(c) >= 32 for m in mentions for c in m.title)


def serve(httpserver, path: str, body: bytes) -> str:
    httpserver.expect_request(path).respond_with_handler(
        lambda request: Response(body, headers={"Content-Type": "application/rss+xml"})
    )
    return httpserver.url_for(path)


def test_a_pass_survives_a_hostile_item_a_huge_item_and_a_broken_collector(
    httpserver, tmp_path, prefect, monkeypatch
):
    huge = "Nimbus Notes " + "word " * 300_000  # 1.5 M characters: beyond spaCy's limit
    sources = [
        {
            "id": "hostile",
            "url": serve(httpserver, "/h.xml", rss(item(1, "Nimbus Notes &#xD800;"), item(2, "ok"))),
        },
        {"id": "huge", "url": serve(httpserver, "/big.xml", rss(item(3, "Nimbus Notes", huge)))},
        {"id": "buggy", "kind": "webpage", "url": httpserver.url_for("/page"),
         "selectors": {"item": "div"}},
    ]  # fmt: skip
    config = make_config(tmp_path, sources)

    async def crash(*args: object) -> None:
        raise RuntimeError("something nobody expected\nsecond line")

    monkeypatch.setitem(COLLECTORS, "webpage", crash)
    report = asyncio.run(pass_once(config))
    assert report.sources_fetched == 3 and report.sources_failed == 1
    assert report.errors["buggy"] == "unexpected error: RuntimeError: something nobody expected"
    with store.connect(config.db_path) as db:
        rows = dict(db.execute("SELECT source, length(text) FROM mentions").fetchall())
        states = store.source_states(db)
    assert set(rows) == {"hostile", "huge"}
    assert rows["huge"] <= MAX_TEXT + 4  # stored capped, with a mark
    assert states["buggy"].last_error.startswith("unexpected error") and "\n" not in (
        states["buggy"].last_error
    )
    assert states["hostile"].last_error is None and states["huge"].last_error is None


def test_a_second_pass_over_unchanged_items_scores_nothing_again(httpserver, tmp_path, prefect):
    body = rss(*(item(n, f"Nimbus Notes deal {n}", "Nimbus Notes deal of the day " * 5)
                 for n in range(30)))  # fmt: skip
    config = make_config(tmp_path, [{"id": "shop", "url": serve(httpserver, "/s.xml", body)}])
    first = asyncio.run(pass_once(config))
    again = asyncio.run(pass_once(config, force=True))  # no ETag: the whole feed again
    assert first.new_mentions == 30
    assert again.matched == 0 and again.new_mentions == 0 and again.already_stored == 30


def test_a_second_run_says_a_pass_is_running_and_exits_75(tmp_path, capsys):
    config = make_config(tmp_path, [])
    (tmp_path / "tidings.toml").write_text(
        f'[database]\npath = "{config.db_path}"\n[[watch]]\nname = "X"\nterms = ["x"]\n'
    )
    with pass_lock(config.db_path):
        code = cli.main(["--config", str(tmp_path / "tidings.toml"), "run"])
    err = capsys.readouterr().err
    assert code == 75
    assert err.startswith("tidings: error: ") and "a pass is already running (pid" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_pass_lock_is_released_when_its_holder_dies(tmp_path):
    lock_holder = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from flows.pipeline import pass_lock
        with pass_lock(Path({str(tmp_path / "db.duckdb")!r})):
            print("held", flush=True)
            os._exit(9)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", lock_holder], capture_output=True, text=True, timeout=120
    )
    assert "held" in done.stdout
    with pass_lock(tmp_path / "db.duckdb"):
        pass  # acquired at once


def score(lines: bytes) -> tuple[list[dict], list[dict], int]:
    scorer = build_scorer(make_config_watch(), None)
    out, err = io.StringIO(), io.StringIO()
    text = io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8", errors="replace")
    code = cli.score_lines(scorer, text, out, err)
    parse = lambda s: [json.loads(x) for x in s.getvalue().splitlines()]  # noqa: E731
    return parse(out), parse(err), code


def make_config_watch():
    from data.config import Watch

    return [Watch.model_validate(w) for w in WATCH]


def test_score_reports_bad_lines_and_scores_every_other_one():
    huge = json.dumps({"id": "huge", "text": "Nimbus Notes is great. " * 100_000})
    lines = b"\n".join(
        [
            json.dumps({"id": "a", "text": "Nimbus Notes is great"}).encode(),
            b'{"id": "s", "text": "Nimbus Notes \\ud800 broke"}',
            huge.encode(),
            b"\x89PNG\x1a\x00\x00binary\xff\xfe",
            json.dumps({"id": "z", "text": "Quillpad crashed again"}).encode(),
        ]
    )
    out, err, code = score(lines)
    assert [o["id"] for o in out] == ["a", "s", "huge", "z"]
    assert [e["line"] for e in err] == [4]
    assert code == 1


def test_a_busy_store_shows_a_note_not_a_traceback(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    config = make_config(tmp_path, [])
    with store.connect(config.db_path):
        pass
    toml = tmp_path / "tidings.toml"
    toml.write_text(
        f'[database]\npath = "{config.db_path}"\nlock_timeout_seconds = 1\n'
        '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
    )
    monkeypatch.setenv("TIDINGS_CONFIG", str(toml))
    # Another process holds the file (as a pass does while it writes), for a few seconds.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; db = duckdb.connect({str(config.db_path)!r}); "
         "print('locked', flush=True); time.sleep(6)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
        at.run()
        assert not at.exception
    finally:
        holder.kill()
        holder.wait()


def test_a_dashboard_rule_saved_under_looser_checks_is_ignored_not_fatal(tmp_path, caplog):
    from data import alert_rules

    rule = {
        "name": "complaints",
        "kind": "match",
        "sentiment": "negative",
        "recipients": ["a@b.co"],
    }
    config = make_config(tmp_path, [], alerts=[rule])
    old = {**rule, "quiet_hours": "07:00-07:00"}  # accepted once, refused since
    with store.connect(config.db_path) as db:
        db.execute(
            "INSERT INTO alert_rules VALUES (?, ?, now(), 'someone')",
            ["complaints", json.dumps(old)],
        )
        rules = alert_rules.in_effect(config, db)
    assert [r.name for r in rules] == ["complaints"] and rules[0].quiet_hours is None
    assert "'complaints' edited on the dashboard is ignored" in caplog.text


def test_the_alerts_page_warns_when_mail_has_nowhere_to_go(tmp_path, monkeypatch):
    from tests.conftest import open_view

    base = f'[database]\npath = "{tmp_path / "t.duckdb"}"\n'
    base += '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
    bare = open_view(monkeypatch, tmp_path / "tidings.toml", base, "alerts")
    assert not bare.exception
    assert any("no [smtp] section" in w.value for w in bare.warning)
    smtp = base + '[smtp]\nhost = "127.0.0.1"\nsender = "t@example.com"\n'
    configured = open_view(monkeypatch, tmp_path / "tidings.toml", smtp, "alerts")
    assert not any("no [smtp] section" in w.value for w in configured.warning)
