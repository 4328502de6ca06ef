"""The read-only JSON API on the endpoint, through Starlette's test client over a real DuckDB
file in tmp_path: the key from the environment, the dashboard's filters, pages and counts."""

import warnings
from datetime import UTC, datetime, timedelta

import pytest

from data import store
from data.records import Mention, Score
from notify import web
from tests.conftest import make_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KEY = "k3y-for-tests-only"


def mention(i, when, text, source="forum"):
    return Mention(source, f"m{i}", f"https://forum.example/{i}", f"post {i}", text, None, when, i)


@pytest.fixture
def api(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDINGS_API_KEY", KEY)
    config = make_config(tmp_path, [])
    rows = [
        (
            mention(1, NOW - timedelta(days=2), "Nimbus Notes lost my notes"),
            "negative",
            ("Nimbus Notes",),
        ),
        (
            mention(2, NOW - timedelta(days=2, hours=1), "Nimbus Notes is lovely"),
            "positive",
            ("Nimbus Notes",),
        ),
        (
            mention(3, NOW - timedelta(days=1), "Quillpad beats Nimbus Notes"),
            "neutral",
            ("Nimbus Notes", "Quillpad"),
        ),
        (
            mention(4, NOW - timedelta(hours=3), "Quillpad crashed again", "reviews"),
            "negative",
            ("Quillpad",),
        ),
        (
            mention(5, NOW - timedelta(hours=2), "Nimbus Notes refund please"),
            "negative",
            ("Nimbus Notes",),
        ),
    ]
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [m for m, _, _ in rows], NOW)
        store.upsert_scores(
            db,
            [
                Score(m.id, "v", terms, {"negative": -0.6, "positive": 0.6}.get(label, 0.0), label)
                for m, label, terms in rows
            ],
            NOW,
        )
    with TestClient(web.create_app(config)) as http:
        yield http


BEARER = {"Authorization": f"Bearer {KEY}"}


def test_without_the_key_nothing_is_answered(api, monkeypatch):
    for path in ("/api/v1/mentions", "/api/v1/counts"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api.get(path, headers={"X-API-Key": KEY[:-1]}).status_code == 401
    monkeypatch.delenv("TIDINGS_API_KEY")
    answer = api.get("/api/v1/mentions", headers=BEARER)  # no key set: the API answers no one
    assert answer.status_code == 401 and "TIDINGS_API_KEY" in answer.json()["error"]


def test_with_the_key_mentions_come_a_page_at_a_time_newest_first(api):
    first = api.get("/api/v1/mentions?limit=2", headers=BEARER).json()
    assert first["total"] == 5 and first["next_offset"] == 2
    assert [m["url"][-1] for m in first["items"]] == ["5", "4"]
    seen = [m["id"] for m in first["items"]]
    offset = first["next_offset"]
    while offset is not None:
        page = api.get(f"/api/v1/mentions?limit=2&offset={offset}", headers={"X-API-Key": KEY})
        seen += [m["id"] for m in page.json()["items"]]
        offset = page.json()["next_offset"]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 5
    item = first["items"][0]
    assert item["published"] == "2026-11-20T10:00:00Z" and item["reach"] == 5
    assert item["terms"] == ["Nimbus Notes"] and item["sentiment_label"] == "negative"
    assert item["url"] == "https://forum.example/5" and item["text"] == "Nimbus Notes refund please"


def test_the_dashboards_filters_apply(api):
    def ids(query):
        answer = api.get(f"/api/v1/mentions?{query}", headers=BEARER)
        assert answer.status_code == 200, answer.text
        return [int(m["url"].rsplit("/", 1)[1]) for m in answer.json()["items"]]

    assert ids("sentiment=negative") == [5, 4, 1]
    assert ids("term=Quillpad") == [4, 3]
    assert ids("source=reviews") == [4]
    assert ids("q=refund") == [5]
    assert ids("since=2026-11-19&until=2026-11-19") == [3]
    assert ids("sentiment=positive&sentiment=neutral") == [3, 2]


def test_counts_per_day_term_and_feeling(api):
    body = api.get("/api/v1/counts", headers=BEARER).json()
    assert body["totals"] == {"mentions": 5, "negative": 3, "positive": 1}
    rows = {(r["day"], r["term"]): r for r in body["per_day_term"]}
    assert set(rows) == {
        ("2026-11-18", "Nimbus Notes"), ("2026-11-19", "Nimbus Notes"),
        ("2026-11-19", "Quillpad"), ("2026-11-20", "Nimbus Notes"), ("2026-11-20", "Quillpad"),
    }  # fmt: skip
    day = rows[("2026-11-18", "Nimbus Notes")]
    assert (day["mentions"], day["negative"], day["positive"], day["neutral"]) == (2, 1, 1, 0)
    only = api.get("/api/v1/counts?term=Quillpad", headers=BEARER).json()
    assert {r["term"] for r in only["per_day_term"]} >= {"Quillpad"}
    assert only["totals"]["mentions"] == 2


@pytest.mark.parametrize(
    "query, error",
    [
        ("since=last-week", "since: not a date (YYYY-MM-DD): 'last-week'"),
        ("limit=0", "limit: must be from 1 to 500 (got 0)"),
        ("offset=ten", "offset: not a whole number: 'ten'"),
        (
            "sentiment=angry",
            "sentiment: one of negative, neutral, positive, unscored (got 'angry')",
        ),
        ("colour=red", "colour: unknown parameter"),
    ],
)
def test_a_bad_parameter_is_named(api, query, error):
    answer = api.get(f"/api/v1/mentions?{query}", headers=BEARER)
    assert answer.status_code == 400 and answer.json() == {"error": error}


def test_the_openapi_document_describes_what_is_served(api):
    doc = api.get("/api/v1/openapi.json").json()  # no key needed to read how to call
    assert doc["openapi"].startswith("3.1") and set(doc["paths"]) == {
        "/api/v1/mentions", "/api/v1/counts", "/api/v1/openapi.json"
    }  # fmt: skip
    samples = {"since": "2026-11-18", "until": "2026-11-20", "limit": "3", "offset": "1",
               "sentiment": "negative"}  # fmt: skip
    for path, item in doc["paths"].items():
        for p in item["get"].get("parameters", []):
            answer = api.get(path, params={p["name"]: samples.get(p["name"], "x")}, headers=BEARER)
            assert answer.status_code == 200, (path, p["name"], answer.text)
    assert KEY not in api.get("/api/v1/openapi.json").text
