"""RSS and Atom feeds (news, blogs, anything that publishes a feed)."""

from __future__ import annotations

import hashlib
from calendar import timegm
from collections.abc import Sequence
from datetime import UTC, datetime

import feedparser

from collectors import offload
from collectors.http import FetchError, Http, conditional_headers
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_url


class FeedError(Exception):
    """The body is not a feed we can read."""


def parse_feed(body: bytes, source: str, now: datetime | None = None) -> list[Mention]:
    """The entries of an RSS/Atom document as mentions. Pure: no network, no clock but `now`."""
    parsed = feedparser.parse(body)
    if parsed.bozo and not parsed.entries:
        problem = str(parsed.get("bozo_exception", "unknown problem")).splitlines()[0][:160]
        raise FeedError(f"not a readable RSS/Atom feed ({problem})")
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS/Atom feed (no feed element found)")
    now = now or datetime.now(UTC)
    mentions = []
    for parsed_entry in parsed.entries:
        # FeedParserDict's own get() resolves aliases on every call and dominates the cost of
        # reading an entry; the canonical keys we use are plain dict keys.
        entry = dict(parsed_entry)
        title = html_to_text(entry.get("title", ""))
        content = entry.get("content")
        body_html = content[0].get("value", "") if content else entry.get("summary", "")
        text = html_to_text(body_html)
        if not title and not text:
            continue
        url = safe_url(entry.get("link"))
        native_id = entry.get("id") or url or _digest(title, text)
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(timegm(when), UTC) if when else now
        mentions.append(
            Mention(
                source=source,
                native_id=native_id,
                url=url,
                title=title,
                text=text,
                author=html_to_text(entry.get("author") or publisher(entry)) or None,
                published=min(published, now),
                reach=None,
            )
        )
    return mentions


def publisher(entry: dict) -> str:
    """The RSS 2.0 <source> of an item: the publication it comes from (news aggregators)."""
    return (entry.get("source") or {}).get("title") or ""


def _digest(*parts: str) -> str:
    return "sha1:" + hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str] = ()
) -> Fetched:
    """Fetch a feed (conditionally) and parse it. Failures come back as `Fetched.error`."""
    url = str(source.url)
    try:
        response = await http.get(url, conditional_headers(state.etag, state.last_modified))
    except FetchError as e:
        return Fetched(source.id, error=str(e), retry_after=e.retry_after)
    if response.status == 304:
        return Fetched(
            source.id, etag=state.etag, last_modified=state.last_modified, not_modified=True
        )
    try:
        # Parsing is CPU work: in a worker process, so other sources' downloads keep flowing.
        mentions = await offload.run(parse_feed, response.body, source.id)
    except FeedError as e:
        return Fetched(source.id, error=f"{url}: {e}")
    return Fetched(
        source.id,
        mentions,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
