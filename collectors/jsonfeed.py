"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): the feed format in JSON that blogs
(Micro.blog, many static site generators) publish beside or instead of RSS. An `rss` source
reads it when the body is one; nothing in the config changes."""

from __future__ import annotations

import json
from datetime import datetime

from collectors.dates import read_date
from collectors.search import iso
from collectors.unexpected import ITEM_SHAPE_ERRORS
from data.records import Mention
from data.text import html_to_text, safe_link

VERSION_PREFIX = "https://jsonfeed.org/version/"


class NotJsonFeed(ValueError):
    """The body is JSON, or looks like it, but is no JSON Feed; the message says why."""


def looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def load(text: str) -> dict:
    """The feed object of a JSON Feed document; raises NotJsonFeed saying what is wrong."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:  # RecursionError: hostile nesting
        raise NotJsonFeed(f"not valid JSON ({e})"[:160]) from None
    if not isinstance(doc, dict):
        raise NotJsonFeed("JSON, but not a JSON Feed (not an object)")
    version = doc.get("version")
    items = doc.get("items")
    if not isinstance(items, list) or not (
        isinstance(version, str) and version.startswith(VERSION_PREFIX)
    ):
        raise NotJsonFeed(
            "JSON, but not a JSON Feed (needs a version of https://jsonfeed.org/version/… "
            "and an items list)"
        )
    return doc


def read_items(
    doc: dict, source: str, now: datetime, url: str | None = None
) -> tuple[list[Mention], list[object]]:
    """The items of a JSON Feed as mentions, and the items that could not be read, as given."""
    # Where relative links start: the first of these that is text at all.
    bases = (doc.get("feed_url"), url, doc.get("home_page_url"))
    base = next((b for b in bases if isinstance(b, str) and b), "")
    by = _author(doc)
    mentions, bad = [], []
    for item in doc["items"]:
        try:
            m = _item(item, source, now, base, by)
        except ITEM_SHAPE_ERRORS:
            bad.append(item)
            continue
        if m is not None:
            mentions.append(m)
    return mentions, bad


def _item(item: dict, source: str, now: datetime, base: str, feed_author: str) -> Mention | None:
    if not isinstance(item, dict):
        raise TypeError("an item is not an object")
    native_id = item.get("id")
    if isinstance(native_id, (dict, list, bool)):
        raise TypeError("id is not a string")
    title = html_to_text(_text(item.get("title")))
    html = _text(item.get("content_html"))
    text = html_to_text(html) if html else _text(item.get("content_text") or item.get("summary"))
    if not title and not text:
        return None
    link = _link(base, item.get("url"))
    external = _link(base, item.get("external_url"))
    url = link or external
    native_id = str(native_id) if native_id not in (None, "") else url
    if not native_id:
        raise KeyError("id")
    when = _date(item.get("date_published")) or _date(item.get("date_modified"))
    return Mention(
        source=source,
        native_id=native_id,
        url=url,
        title=title,
        text=text,
        author=_author(item) or feed_author or None,
        published=min(when, now) if when else now,
        shared_url=external if external and external != url else None,
        published_known=when is not None,
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError("a text field is not a string")
    return value


def _link(base: str, value: object) -> str:
    href = _text(value).strip()
    return safe_link(base, href) if href else ""


def _date(value: object) -> datetime | None:
    """RFC 3339, as the spec says; else anything a feed date may be (collectors.dates). A date
    that is no text (a number, a list) is no date: the item is kept, its date unknown."""
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw:
        return None
    try:
        return iso(raw)
    except ValueError:
        return read_date(raw)


def _author(obj: dict) -> str:
    """The first author's name: `authors` (1.1) or `author` (1.0)."""
    authors = obj.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else obj.get("author")
    name = first.get("name") if isinstance(first, dict) else None
    return html_to_text(name) if isinstance(name, str) else ""
