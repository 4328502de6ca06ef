"""Dates as the real web writes them: other languages are read; a date nobody can read is
marked unknown (shown so, and out of every spike count), never silently the fetch time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import Response

from collectors import rss, webpage
from collectors.dates import MONTH_INDEX, read_date
from collectors.http import Http
from data import store, term_counts
from data.config import Http as HttpSettings
from data.config import Selectors, Source
from data.records import Mention, Score, SourceState
from tests.conftest import FIXTURES

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FEEDS = FIXTURES / "feeds"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Seg, 24 Set 2018 19:42:40 -0300", at(2018, 9, 24, 22, 42, 40)),  # Portuguese
        ("mer, 16 nov 2022 00:38:15 +0100", at(2022, 11, 15, 23, 38, 15)),  # Italian
        ("mar, 15 nov 2022 10:00:00 +0100", at(2022, 11, 15, 9)),  # "mar" is Tuesday here
        ("sáb, 01 dic 2018 08:00:00 GMT", at(2018, 12, 1, 8)),  # Spanish
        ("jeu., 16 févr. 2023 10:00:00 +0100", at(2023, 2, 16, 9)),  # French
        ("Mi, 16 Okt 2022 00:38:15 +0200", at(2022, 10, 15, 22, 38, 15)),  # German
        ("24. März 2023 10:00 MEZ", at(2023, 3, 24, 9)),
        ("di, 7 mrt 2023 14:30:00 +0100", at(2023, 3, 7, 13, 30)),  # Dutch
        ("śr., 8 lis 2023 12:00:00 +0100", at(2023, 11, 8, 11)),  # Polish
        ("24 de setembro de 2018", at(2018, 9, 24)),
        ("Paz, 16 Eki 2022 10:00:00 +0300", at(2022, 10, 16, 7)),  # Turkish
        ("16 листопада 2022 10:00", at(2022, 11, 16, 10)),  # Ukrainian
        ("ср, 16 нояб 2022 10:00:00 +0300", at(2022, 11, 16, 7)),  # Russian
        ("Mon, 24 Sep 2018 19:42:40 -0300", at(2018, 9, 24, 22, 42, 40)),  # still English
        ("2022-11-16T00:38:15+01:00", at(2022, 11, 15, 23, 38, 15)),
    ],
)
def test_dates_in_european_languages_are_read(text, when):
    assert read_date(text) == when


@pytest.mark.parametrize("text", ["la settimana scorsa", "", "12 mar", "yesterday", "99 Set 2018"])
def test_what_is_not_a_date_is_none(text):
    assert read_date(text) is None


def test_no_month_name_means_two_months():
    # Prefixes two months share (Czech červen/červenec, French juin/juillet) read as neither.
    assert "jui" not in MONTH_INDEX and "cer" not in MONTH_INDEX
    assert MONTH_INDEX["juil"] == 7 and MONTH_INDEX["cerven"] == 6 and MONTH_INDEX["mar"] == 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_date_or_none(text):
    when = read_date(text)
    assert when is None or when.tzinfo is not None


def test_a_latin1_portuguese_feed_keeps_its_dates():
    first, second = rss.parse_feed((FEEDS / "portuguese-latin1.xml").read_bytes(), "br", NOW)
    assert first.title == "Nimbus Notes chega ao Brasil com preço em reais"
    assert first.author == "João Almeida"
    assert first.published == at(2018, 9, 24, 22, 42, 40) and first.published_known
    assert second.published == at(2018, 10, 6, 11, 5) and second.published_known


def test_a_date_nobody_can_read_is_marked_unknown_not_made_now():
    items = rss.parse_feed((FEEDS / "italian.xml").read_bytes(), "it", NOW)
    assert [m.published_known for m in items] == [True, True, False, False]
    assert items[0].published == at(2022, 11, 15, 23, 38, 15)
    assert items[1].published == at(2022, 11, 8, 17, 2, 44)
    # Unreadable ("la settimana scorsa") or missing: kept, at the fetch time, and marked.
    assert items[2].published == NOW and items[3].published == NOW


def test_a_feed_served_over_http_keeps_its_foreign_dates(httpserver):
    body = (FEEDS / "italian.xml").read_bytes()
    httpserver.expect_request("/feed").respond_with_handler(
        lambda r: Response(body, headers={"Content-Type": "application/rss+xml; charset=UTF-8"})
    )
    source = Source(id="it", url=httpserver.url_for("/feed"))

    async def go():
        async with Http(HttpSettings(timeout_seconds=2, max_attempts=1)) as http:
            return await rss.collect(http, source, SourceState(source="it"))

    fetched = asyncio.run(go())
    assert fetched.error is None
    known = {m.title: m.published for m in fetched.mentions if m.published_known}
    assert known == {
        "Nimbus Notes: la recensione completa": at(2022, 11, 15, 23, 38, 15),
        "Nimbus Notes si aggiorna: arriva la sincronizzazione": at(2022, 11, 8, 17, 2, 44),
    }


def test_a_web_page_date_in_portuguese_is_read_and_a_missing_one_is_unknown():
    page = b"""<html><body>
      <div class="review"><h3>Nimbus Notes</h3><p>Muito bom.</p>
        <span class="when">24 de setembro de 2018</span></div>
      <div class="review"><h3>Nimbus Notes de novo</h3><p>Sem data.</p></div>
    </body></html>"""
    selectors = Selectors(item="div.review", date="span.when")
    (dated, undated), skipped = webpage.parse_page(
        page, "https://reviews.example/", selectors, "rv", NOW
    )
    assert skipped.count == 0
    assert dated.published == at(2018, 9, 24) and dated.published_known
    assert undated.published == NOW and not undated.published_known


def test_mentions_of_unknown_date_are_stored_marked_and_count_in_no_spike(tmp_path):
    def mention(i: int, known: bool) -> Mention:
        return Mention("blog", f"n{i}", f"https://blog.example/{i}", f"Nimbus Notes {i}",
                       "Nimbus Notes", None, NOW - timedelta(minutes=i), published_known=known)  # fmt: skip

    # An old feed read on its first pass: 20 items whose dates were unreadable, 2 known.
    mentions = [mention(i, known=False) for i in range(20)] + [
        mention(100 + i, True) for i in (1, 2)
    ]
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, mentions, NOW)
        store.upsert_scores(
            db, [Score(m.id, "v1", ("Nimbus Notes",), 0.0, "neutral") for m in mentions], NOW
        )
        unknown = db.execute("SELECT count(*) FROM mentions WHERE NOT published_known").fetchone()
        counts = term_counts.step_counts(
            db, ["Nimbus Notes"], NOW + timedelta(minutes=1), 24 * 12, timedelta(minutes=5)
        )
        store.save_source_states(db, [SourceState(source="blog")])
        health = store.source_health(db).set_index("source")
    assert unknown == (20,)
    assert int(counts["Nimbus Notes"].sum()) == 2  # only the two with a known date
    assert health.loc["blog", "mentions"] == 22 and health.loc["blog", "dates_unknown"] == 20
