"""Long lists on the dashboard are read a page at a time: the mentions page and the inbox."""

import re

from dashboard import reads
from tests.test_dashboard import filled, page  # noqa: F401 — the demo-filled store fixture


def leading_count(caption: str) -> int:
    return int(caption.split(" ", 1)[0].replace(",", ""))


def test_the_mentions_page_shows_a_page_and_moves_to_the_next(filled):  # noqa: F811
    at = page("mentions")
    first = at.dataframe[0].value
    caption = at.caption[0].value
    total, pages = leading_count(caption), -(-leading_count(caption) // reads.PAGE)
    assert len(first) == reads.PAGE and f"page 1 of {pages}" in caption and pages > 1
    at.number_input[0].set_value(2).run()
    second = at.dataframe[0].value
    assert len(second) == min(reads.PAGE, total - reads.PAGE)
    assert f"page 2 of {pages}" in at.caption[0].value
    assert not set(second["id"]) & set(first["id"])
    assert first["published"].min() >= second["published"].max()  # newest first, throughout
    at.number_input[0].set_value(pages).run()
    assert len(at.dataframe[0].value) == total - (pages - 1) * reads.PAGE


def test_the_inbox_shows_the_most_urgent_page_first(filled):  # noqa: F811
    _, scored = filled
    at = page("inbox")
    queue = at.dataframe[0].value
    caption = at.caption[0].value
    assert len(queue) == reads.PAGE and leading_count(caption) == len(scored)
    assert re.search(rf"\b{reads.PAGE} a page\b", caption)
    needs = queue["flag"].tolist()
    assert needs == sorted(needs, key=lambda flag: flag == "")  # complaints, questions first
