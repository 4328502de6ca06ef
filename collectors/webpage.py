"""Web pages without a feed (review pages, forums, changelogs): items picked out by the CSS
selectors in the config, parsed with BeautifulSoup."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from collectors import offload
from collectors.charsets import choose_encoding
from collectors.dates import read_date
from collectors.http import FetchError, Http, conditional_headers, failed, source_headers
from collectors.search import age_limit, iso, keep_recent
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Selectors, Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_link

# BeautifulSoup is imported where a page is parsed: a pass without web pages never needs it.
if TYPE_CHECKING:
    from bs4 import Tag


def parse_page(
    body: bytes,
    page_url: str,
    selectors: Selectors,
    source: str,
    now: datetime | None = None,
    encoding: str | None = None,
) -> tuple[list[Mention], Unexpected]:
    """The items on a page as mentions, and those that matched `item` but had no title or text.
    `encoding`: the page's (collectors.charsets); None lets BeautifulSoup work it out."""
    from bs4 import BeautifulSoup, Tag

    now = now or datetime.now(UTC)
    soup = BeautifulSoup(body, "html.parser", from_encoding=encoding)
    for junk in soup(["script", "style", "template", "noscript"]):
        junk.decompose()
    base = soup.find("base", href=True)  # <base href>: where the page says its links start
    if isinstance(base, Tag):
        links_from = safe_link(page_url, str(base["href"])) or page_url
    else:
        links_from = page_url
    mentions, skipped = [], Unexpected()
    for item in soup.select(selectors.item):
        try:
            m = _item(item, page_url, links_from, selectors, source, now)
        except ITEM_SHAPE_ERRORS:
            m = None
        if m is None:
            skipped.add(str(item))
        else:
            mentions.append(m)
    return mentions, skipped


def _item(
    item: Tag, page_url: str, links_from: str, selectors: Selectors, source: str, now: datetime
) -> Mention | None:
    title = _text(item, selectors.title) if selectors.title else _heading(item)
    text = _text(item, selectors.text) if selectors.text else html_to_text(item.decode_contents())
    if not title and not text:
        return None
    link_el = item.select_one(selectors.link or "a[href]")
    if link_el is None and item.name == "a":
        link_el = item
    href = link_el.get("href") if link_el is not None else None
    url = safe_link(links_from, str(href)) if href else ""
    native_id = (
        url
        or "sha1:" + hashlib.sha1(f"{title}\x1f{text}".encode(), usedforsecurity=False).hexdigest()
    )
    when = _date(item, selectors.date)
    return Mention(
        source=source,
        native_id=native_id,
        url=url or page_url,
        title=title or text[:120],
        text=text,
        author=(_text(item, selectors.author) if selectors.author else "") or None,
        published=min(when, now) if when else now,
        published_known=when is not None,
    )


def _text(item: Tag, selector: str) -> str:
    found = item.select_one(selector)
    return html_to_text(found.decode_contents()) if found is not None else ""


def _heading(item: Tag) -> str:
    from bs4 import Tag

    found = item.find(["h1", "h2", "h3", "h4"])
    return html_to_text(found.decode_contents()) if isinstance(found, Tag) else ""


def _date(item: Tag, selector: str | None) -> datetime | None:
    found = item.select_one(selector) if selector else item.find("time")
    if found is None:
        return None
    raw = str(found.get("datetime") or found.get_text(strip=True))
    try:
        return iso(raw)
    except (TypeError, ValueError):
        return read_date(raw)  # RFC 822, or day and month names in another language


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str] = ()
) -> Fetched:
    url = str(source.url)
    assert source.selectors is not None  # the config requires them for this kind
    try:
        headers = {**source_headers(source), **conditional_headers(state.etag, state.last_modified)}
        response = await http.get(url, headers)
    except FetchError as e:
        return failed(source, e)
    if response.status == 304:
        return Fetched(
            source.id, etag=state.etag, last_modified=state.last_modified, not_modified=True
        )
    encoding = choose_encoding(response.body, response.headers.get("content-type"))
    try:
        mentions, skipped = await offload.run(
            parse_page, response.body, response.url, source.selectors, source.id, None,
            encoding.name, size=len(response.body),
        )  # fmt: skip
    except offload.Stopped as e:
        return Fetched(source.id, error=f"{url}: {e}")
    if not mentions and not skipped.count:
        return Fetched(source.id, error=f"{url}: no element matches {source.selectors.item!r}")
    fetched = Fetched(
        source.id,
        mentions,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        skipped=skipped.count,
        samples=tuple(skipped.samples),
        encoding_guessed=encoding.name if encoding.guessed else None,
    )
    return keep_recent(fetched, age_limit(source, datetime.now(UTC)))
