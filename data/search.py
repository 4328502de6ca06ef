"""The Mentions page's text filter: mentions whose title or text holds the words asked for, as
a substring, whatever the case ("Outage" finds "OUTAGES", "échec" finds "ÉCHEC").

Each current reading keeps its mention's title and text lower-cased (`readings.search_text`,
migration 023; written where the reading is, by data.rollups). A search then reads that one
column of the readings of the period: no join to the mentions, no lower-casing of every
mention's words at every search (issue 13: at 10 M mentions a month holds 800 k of them).
"""

from __future__ import annotations

import duckdb

# The kept words of a mention (a row of mentions): its title and text lower-cased, a line break
# between. A needle without a line break is in them exactly when it is in the title or in the
# text lower-cased: a match cannot span the break. (Mentions never change once stored, so the
# copy stays true.)
WORDS = "lower(title) || chr(10) || lower(text)"


def needle(text: str) -> str:
    """What a search looks for: the words typed, trimmed, lower-cased."""
    return text.strip().lower()


def text_clause(text: str, bounds: list[str], bound_params: list) -> tuple[str, list]:
    """SQL (over the readings, alias r) keeping the mentions that hold `text`, and its
    parameters. `bounds` (over the mentions' columns) narrow the plain scan a needle spanning
    lines needs (the pasted line breaks the kept words cannot answer for)."""
    words = needle(text)
    if "\n" not in words:
        return "contains(r.search_text, ?)", [words]
    return (
        "r.mention_id IN (SELECT id FROM mentions WHERE "
        + " AND ".join([*bounds, "(contains(lower(title), ?) OR contains(lower(text), ?))"])
        + ")",
        [*bound_params, words, words],
    )


def fill_search_text(db: duckdb.DuckDBPyConnection) -> None:
    """Give every current reading its mention's kept words (migration 023's fill)."""
    db.execute(
        f"UPDATE readings SET search_text = w.words FROM (SELECT id, {WORDS} AS words "
        "FROM mentions) w WHERE w.id = readings.mention_id"
    )
