"""The Sources page says what the collectors met on the real web: dates they could not read,
encodings they had to guess, items of a shape nobody expected (with samples to report)."""

from __future__ import annotations

from datetime import UTC, datetime

from data import store
from data.records import Mention, SourceState
from tests.conftest import open_view

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TOML = """
[database]
path = "{db}"
[[sources]]
id = "blog"
url = "https://blog.example/feed.xml"
[[sources]]
id = "hn"
kind = "hackernews"
"""


def sources_page(tmp_path, monkeypatch, states, mentions=()):
    db_path = tmp_path / "tidings.duckdb"
    with store.connect(db_path) as db:
        store.upsert_mentions(db, list(mentions), NOW)
        store.save_source_states(db, states)
    at = open_view(monkeypatch, tmp_path / "tidings.toml", TOML.format(db=db_path), "sources")
    assert not at.exception, at.exception
    return at


def test_mentions_of_unknown_date_are_counted_per_source(tmp_path, monkeypatch):
    undated = [
        Mention("blog", f"n{i}", f"https://blog.example/{i}", "t", "x", None, NOW,
                published_known=False)
        for i in range(3)
    ]  # fmt: skip
    states = [SourceState("blog", last_success_at=NOW), SourceState("hn", last_success_at=NOW)]
    at = sources_page(tmp_path, monkeypatch, states, undated)
    notes = " ".join(i.value for i in at.info)
    assert "Items whose date could not be read: blog (3)" in notes
    table = at.dataframe[0].value.set_index("source")
    assert table.loc["blog", "dates_unknown"] == 3 and table.loc["hn", "dates_unknown"] == 0


def test_a_guessed_encoding_is_said(tmp_path, monkeypatch):
    states = [SourceState("blog", last_success_at=NOW, encoding_guessed="koi8-r"),
              SourceState("hn", last_success_at=NOW)]  # fmt: skip
    at = sources_page(tmp_path, monkeypatch, states)
    assert "Character encoding guessed" in at.info[0].value and "blog (koi8-r)" in at.info[0].value
    table = at.dataframe[0].value.set_index("source")
    assert table.loc["blog", "encoding_guessed"] == "koi8-r"


def test_skipped_items_are_shown_as_received_for_a_bug_report(tmp_path, monkeypatch):
    hit = '{"created_at_i": 1795171000, "title": "<script>alert(1)</script>"}'
    states = [SourceState("blog", last_success_at=NOW),
              SourceState("hn", last_success_at=NOW, skipped_last_fetch=7,
                          unexpected_samples=(hit,))]  # fmt: skip
    at = sources_page(tmp_path, monkeypatch, states)
    assert "hn (7)" in at.info[0].value
    (expander,) = at.expander
    assert expander.label == "hn: the first 1 skipped item(s), as received"
    assert [c.value for c in at.code] == [hit]  # shown as text, never as markup


def test_the_page_links_the_prefect_ui_of_the_configured_server(tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    db_path = tmp_path / "tidings.duckdb"
    toml = TOML.format(db=db_path) + "[prefect]\nport = 9271\n"
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "sources")
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "[the Prefect UI](http://127.0.0.1:9271)" in captions
