"""Each dashboard page under Streamlit's AppTest, on a real store filled from the demo feeds."""

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors import hackernews, rss
from data import store
from data.records import Fetched
from flows.demo import replay_feeds
from flows.pipeline import store_pass
from nlp import build_scorer
from tests.conftest import ROOT, make_config, recorded

PAGES = ROOT / "dashboard"


@pytest.fixture
def filled(tmp_path, monkeypatch):
    """A config and store holding the demo feeds (dated as if fresh) and one failing source."""
    feeds = tmp_path / "feeds"
    replay_feeds(feeds)
    names = ["app-reviews", "community-forum", "nimbus-blog"]
    sources = [{"id": n, "url": f"http://127.0.0.1:9/{n}.xml"} for n in names]
    sources.append({"id": "old-press", "url": "http://127.0.0.1:9/gone.xml"})
    sources.append({"id": "hn", "kind": "hackernews"})
    config = make_config(tmp_path, sources)
    fetched = [Fetched(n, rss.parse_feed((feeds / f"{n}.xml").read_bytes(), n)) for n in names]
    hits = json.loads(recorded("hackernews/page0.json"))["hits"][:2]
    fetched.append(Fetched("hn", [hackernews.parse_hit(h, "hn") for h in hits], skipped=1))
    fetched.append(Fetched("old-press", error="http://127.0.0.1:9/gone.xml: HTTP 404 Not Found"))
    mentions = [m for f in fetched for m in f.mentions]
    scored = build_scorer(config.watch).score(mentions)
    store_pass(config, list(config.sources), fetched, scored, {}, store.utcnow())
    config_file = tmp_path / "tidings.toml"
    config_file.write_text(
        f'[database]\npath = "{config.db_path}"\n'
        + "".join(f'[[sources]]\nid = "{s["id"]}"\nurl = "{s["url"]}"\n' for s in sources[:-1])
        + '[[sources]]\nid = "hn"\nkind = "hackernews"\n'
    )
    monkeypatch.setenv("TIDINGS_CONFIG", str(config_file))
    st.cache_data.clear()
    return config, scored


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / "views" / f"{name}.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_overview_counts_mentions_and_draws_charts(filled):
    config, scored = filled
    at = page("overview")
    metrics = {m.label: m.value for m in at.metric}
    since = date.today() - timedelta(days=29)
    # A story (a mention and its near copies) counts once, as its first mention reads.
    with store.connect(config.db_path) as db:
        story = dict(db.execute("SELECT id, story_key FROM mentions").fetchall())
    heads = {}
    for m, s in sorted(scored, key=lambda ms: (ms[0].published, ms[0].id)):
        heads.setdefault(story[m.id], (m, s))
    in_period = [s for m, s in heads.values() if m.published.date() >= since]
    assert metrics["Mentions"] == f"{len(in_period):,}"
    negative = sum(s.sentiment_label == "negative" for s in in_period)
    assert metrics["Negative"] == f"{negative / len(in_period):.0%}"
    assert metrics["Negative"].endswith("%") and metrics["Positive"].endswith("%")
    subheaders = [h.value for h in at.subheader]
    assert subheaders == [
        "Mentions per day", "How people feel", "Share of voice", "Share of voice over time",
        "Where people talk", "Top sources",
    ]  # fmt: skip
    top = at.dataframe[0].value
    assert set(top["source"]) == {"app-reviews", "community-forum", "nimbus-blog", "hn"}
    assert set(top["kind"]) == {"rss", "hackernews"}
    at.multiselect[0].select("hackernews").run()
    assert not at.exception
    assert set(at.dataframe[0].value["kind"]) == {"hackernews"}


def test_overview_says_what_to_do_when_empty(tmp_path, monkeypatch):
    (tmp_path / "tidings.toml").write_text(f'[database]\npath = "{tmp_path / "empty.duckdb"}"\n')
    monkeypatch.setenv("TIDINGS_CONFIG", str(tmp_path / "tidings.toml"))
    st.cache_data.clear()
    at = page("overview")
    assert "No mentions in this period yet" in at.info[0].value


def test_mentions_filters_by_text_source_and_sentiment(filled):
    at = page("mentions")
    everything = at.dataframe[0].value
    assert len(everything) == 100 and {"url", "title", "sentiment_label"} <= set(everything.columns)
    shown = int(at.caption[0].value.split()[0].replace(",", ""))
    assert shown > 100 and "mention(s) published in the period" in at.caption[0].value
    at.text_input[0].input("outage").run()
    found = at.dataframe[0].value
    assert 0 < len(found) < len(everything)
    assert all(
        "outage" in (t + x).lower() for t, x in zip(found["title"], found["text"], strict=True)
    )
    at.multiselect[2].select("negative").run()
    negatives = at.dataframe[0].value
    assert set(negatives["sentiment_label"]) == {"negative"}
    source = negatives["source"].iloc[-1]  # one of the sources these come from
    at.multiselect[1].select(source).run()
    narrowed = at.dataframe[0].value
    assert set(narrowed["source"]) == {source} and 0 < len(narrowed) <= len(negatives)
    at.multiselect[1].unselect(source).run()
    at.multiselect[2].unselect("negative").run()
    at.text_input[0].input("").run()
    at.multiselect[3].select("hackernews").run()
    social = at.dataframe[0].value
    assert set(social["kind"]) == {"hackernews"} and len(social) == 2
    story = social.set_index("author").loc["pg_fan"]
    assert story["reach"] == 87 and story["url"] == "https://news.ycombinator.com/item?id=41000001"
    at.text_input[0].input("zzz-nothing-like-this").run()
    assert "No mention matches these filters." in at.info[0].value


def test_sources_page_shows_health_and_last_error(filled):
    at = page("sources")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Sources": "5", "Healthy": "4", "Failing": "1"}
    assert "hn (1)" in at.info[0].value
    assert "old-press" in at.error[0].value
    table = at.dataframe[0].value.set_index("source")
    assert "HTTP 404" in table.loc["old-press", "last_error"]
    assert table.loc["app-reviews", "health"] == "ok" and table.loc["app-reviews", "mentions"] > 0


def test_password_gate_when_a_password_is_set(filled, monkeypatch):
    monkeypatch.setenv("TIDINGS_DASHBOARD_PASSWORD", "s3cret")
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    assert [t.label for t in at.text_input] == ["Password"] and not at.metric
    at.text_input[0].input("wrong").run()
    assert at.error[0].value == "Wrong password." and not at.metric
    at.text_input[0].input("s3cret").run()
    assert not at.exception
    assert any(t.value == "Overview" for t in at.title) and at.metric


def test_no_password_asked_on_loopback(filled):
    at = AppTest.from_file(str(PAGES / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception and not at.text_input
    assert any(t.value == "Overview" for t in at.title)


def test_dashboard_refuses_a_public_address_without_password(tmp_path, capsys):
    path = Path(tmp_path / "tidings.toml")
    path.write_text('[dashboard]\naddress = "0.0.0.0"\n')
    from flows.cli import main

    assert main(["--config", str(path), "dashboard"]) == 2
    assert "set TIDINGS_DASHBOARD_PASSWORD" in capsys.readouterr().err


def test_sources_page_says_which_source_needs_credentials(tmp_path, monkeypatch):
    config = make_config(tmp_path, [{"id": "reddit", "kind": "reddit"}])
    refused = Fetched(
        "reddit",
        error="https://www.reddit.com/search.json: HTTP 403 Forbidden — needs credentials: set REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET",
        needs_credentials=True,
    )
    store_pass(config, list(config.sources), [refused], [], {}, store.utcnow())
    (tmp_path / "tidings.toml").write_text(
        f'[database]\npath = "{config.db_path}"\n[[sources]]\nid = "reddit"\nkind = "reddit"\n'
    )
    monkeypatch.setenv("TIDINGS_CONFIG", str(tmp_path / "tidings.toml"))
    st.cache_data.clear()
    at = page("sources")
    assert at.warning[0].value.startswith("Needs credentials: reddit.")
    table = at.dataframe[0].value.set_index("source")
    assert table.loc["reddit", "health"] == "needs credentials"
    assert "REDDIT_CLIENT_ID" in table.loc["reddit", "last_error"]


def offline_store(
    tmp_path,
    monkeypatch,
    reason="connection failed: [Errno -3] Temporary failure in name resolution (after 3 attempts)",
):
    """A pass where no source could be reached, as `make run` without internet."""
    sources = [
        {"id": "blog", "url": "https://blog.example/feed"},
        {"id": "hn", "kind": "hackernews"},
    ]
    config = make_config(tmp_path, sources)
    failed = [
        Fetched("blog", error=f"https://blog.example/feed: {reason}"),
        Fetched("hn", error=f"https://hn.algolia.com/api/v1/search_by_date: {reason}"),
    ]
    store_pass(config, list(config.sources), failed, [], {}, store.utcnow())
    (tmp_path / "tidings.toml").write_text(
        f'[database]\npath = "{config.db_path}"\n'
        '[[sources]]\nid = "blog"\nurl = "https://blog.example/feed"\n'
        '[[sources]]\nid = "hn"\nkind = "hackernews"\n'
    )
    monkeypatch.setenv("TIDINGS_CONFIG", str(tmp_path / "tidings.toml"))
    st.cache_data.clear()


def test_overview_and_inbox_say_plainly_that_no_source_could_be_reached(tmp_path, monkeypatch):
    offline_store(tmp_path, monkeypatch)
    for name in ("overview", "inbox"):
        at = page(name)
        assert at.error[0].value.startswith("No source could be reached on the last pass (2 tried)")
        assert "no internet connection" in at.error[0].value
        assert any("Temporary failure in name resolution" in t.value for t in at.text)
        assert not at.success  # never "every mention has been handled"
    assert at.info[0].value == "No mention has been collected yet, so there is nothing to act on."


def test_a_source_that_answers_badly_is_not_called_offline(tmp_path, monkeypatch):
    offline_store(tmp_path, monkeypatch, reason="HTTP 404 Not Found")
    at = page("overview")
    assert "each one failed" in at.error[0].value and "internet" not in at.error[0].value


def test_no_alarm_when_one_source_answers(filled):
    at = page("overview")
    assert not at.error


def test_overview_charts_keep_term_colours_apart_from_feelings_and_show_numbers(filled):
    at = page("overview")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    per_day, feelings, share = specs[0], specs[1], specs[2]
    term_colours = per_day["encoding"]["color"]["scale"]["range"]
    feeling_colours = feelings["encoding"]["color"]["scale"]["range"]
    assert not set(term_colours) & set(feeling_colours)
    assert not {"#d62728", "#2ca02c", "#ff0000"} & set(term_colours)  # no red or green term
    arc, text = share["layer"]
    assert arc["encoding"]["color"]["scale"] == per_day["encoding"]["color"]["scale"]
    assert text["mark"]["type"] == "text" and text["encoding"]["text"]["field"] == "label"
    assert any("Each watched term a mention names counts it once" in c.value for c in at.caption)
    # Top sources fits half a page: fixed widths, no column cut off at the right edge.
    columns = json.loads(at.dataframe[0].proto.columns)
    shown = {k: v for k, v in columns.items() if not v.get("hidden")}
    assert set(shown) == {"source", "mentions", "sentiment"}
    assert sum(v["width"] for v in shown.values()) <= 450


def test_session_cookies_are_signed_with_the_password_and_expire():
    from dashboard.auth import session_token, valid_session

    token = session_token("s3cret", 2_000)
    assert valid_session(token, "s3cret", 1_999)
    assert not valid_session(token, "s3cret", 2_000)  # expired
    assert not valid_session(token, "changed", 1_999)  # the password changed: sessions end
    forged = session_token("s3cret", 9_999).split(".")[1]
    assert not valid_session(f"9999999.{forged}", "s3cret", 1_999)  # expiry moved by hand
    for junk in (None, "", "abc", "2000.", ".abc", "2000.zz", "２０００.x", 42):
        assert not valid_session(junk, "s3cret", 1_999)


def test_a_mention_says_how_sure_the_model_is_and_what_that_means(filled):
    config, scored = filled
    _, s = max(scored, key=lambda ms: ms[1].intents.get("complaint", 0.0))
    thresholds = json.loads((ROOT / "nlp/models/linear-base/meta.json").read_text())["thresholds"]
    at = AppTest.from_file(str(PAGES / "views" / "mentions.py"), default_timeout=60)
    at.query_params["id"] = s.mention_id
    at.run()
    assert not at.exception
    (said,) = [c.value for c in at.caption if c.value.startswith("How sure the model is:")]
    complaint = (
        f"complaint {s.intents['complaint']:.0%} (counts from {thresholds['complaint']:.0%})"
    )
    assert complaint in said and "of the mentions read 80 % sure, about 8 in 10 are" in said


def test_a_mention_page_reads_the_models_thresholds_again_only_when_they_change(tmp_path):
    from dashboard.mention_detail import model_thresholds

    st.cache_data.clear()
    models = tmp_path / "models"
    first = models / "linear-1" / "meta.json"
    first.parent.mkdir(parents=True)
    first.write_text(json.dumps({"thresholds": {"complaint": 0.4}}))
    assert model_thresholds(models) == {"complaint": 0.4}
    # Rewritten with its time kept: a rerun does not read the file again.
    was = first.stat()
    first.write_text(json.dumps({"thresholds": {"complaint": 0.9}}))
    os.utime(first, ns=(was.st_atime_ns, was.st_mtime_ns))
    assert model_thresholds(models) == {"complaint": 0.4}
    # Written anew (a new time), or a newer model trained: read at once.
    os.utime(first, ns=(was.st_atime_ns, was.st_mtime_ns + 1_000_000_000))
    assert model_thresholds(models) == {"complaint": 0.9}
    newer = models / "linear-2" / "meta.json"
    newer.parent.mkdir()
    newer.write_text(json.dumps({"thresholds": {"complaint": 0.6}}))
    assert model_thresholds(models) == {"complaint": 0.6}
