"""RSS, Atom and JSON Feed feeds (news, blogs, anything that publishes a feed)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

from collectors import jsonfeed, offload
from collectors.charsets import choose_encoding
from collectors.dates import from_struct
from collectors.http import FetchError, Http, conditional_headers, failed, source_headers
from collectors.search import age_limit, keep_recent
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_url


class FeedError(Exception):
    """The body is not a feed we can read."""


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,24}));")


def _char_ref(match: re.Match[bytes]) -> bytes:
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    if code in (9, 10, 13) or 0x20 <= code < 0xD800 or 0xE000 <= code <= 0x10FFFF:
        return match[0]
    return b"&#xFFFD;"


def neutralize_char_refs(body: bytes) -> bytes:
    """The body with character references no text may hold (lone surrogates, controls, beyond
    U+10FFFF) replaced by U+FFFD: feedparser's lenient parser raises on some of them, which
    would fail the whole feed for one bad title."""
    return _CHAR_REF.sub(_char_ref, body) if b"&#" in body else body


def parse_feed(body: bytes, source: str, now: datetime | None = None) -> list[Mention]:
    """The entries of an RSS/Atom document as mentions. Pure: no network, no clock but `now`."""
    return read_feed(body, source, now)[0]


def read_feed(body: bytes, source: str, now: datetime | None = None) -> tuple[list[Mention], int]:
    """The entries of a feed as mentions, and how many entries could not be read: one bad
    entry is skipped and counted, never the end of the feed."""
    feed = read(body, source, now)
    return feed.mentions, feed.skipped


@dataclass(frozen=True, slots=True)
class FeedRead:
    """What a feed document held, and what reading it took."""

    mentions: list[Mention]
    skipped: int = 0  # entries that could not be read
    encoding_guessed: str | None = None  # the encoding detected, when none usable was declared
    samples: tuple[str, ...] = ()  # the first few entries that could not be read, as they came


def read(
    body: bytes,
    source: str,
    now: datetime | None = None,
    content_type: str | None = None,
    url: str | None = None,
) -> FeedRead:
    """A feed as it came over HTTP: `content_type` is the response's Content-Type (its charset
    counts), `url` the address it came from after redirects (relative links resolve against
    it, after any xml:base). Pure: no network, no clock but `now`."""
    encoding = choose_encoding(body, content_type)
    guessed = encoding.name if encoding.guessed else None
    now = now or datetime.now(UTC)
    if jsonfeed.looks_like_json(body):
        try:
            doc = jsonfeed.load(body.decode(encoding.name or "utf-8", errors="replace"))
        except jsonfeed.NotJsonFeed as e:
            raise FeedError(str(e)) from None
        mentions, bad = jsonfeed.read_items(doc, source, now, url)
        skipped = Unexpected()
        for item in bad:
            skipped.add(item)
        return FeedRead(mentions, skipped.count, guessed, tuple(skipped.samples))
    headers = {"content-location": url} if url else {}
    if encoding.name:
        headers["content-type"] = f"application/xml; charset={encoding.name}"
    try:
        parsed = feedparser.parse(neutralize_char_refs(body), response_headers=headers)
    except (ValueError, OverflowError, LookupError, RecursionError) as e:
        # feedparser is lenient by design, but hostile input still finds its corners.
        raise FeedError(f"not a readable RSS/Atom feed ({type(e).__name__}: {e})"[:200]) from e
    problem = parsed.get("bozo_exception")
    harmless = isinstance(problem, feedparser.CharacterEncodingOverride) and parsed.get("version")
    if parsed.bozo and not parsed.entries and not harmless:
        problem = str(problem or "unknown problem").splitlines()[0][:160]
        raise FeedError(f"not a readable RSS/Atom feed ({problem})")
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS/Atom feed (no feed element found)")
    mentions, skipped = [], Unexpected()
    for parsed_entry in parsed.entries:
        try:
            m = _entry(dict(parsed_entry), source, now)
        except ITEM_SHAPE_ERRORS:
            skipped.add(dict(parsed_entry))  # as feedparser read it: the markup is gone
            continue
        if m is not None:
            mentions.append(m)
    return FeedRead(mentions, skipped.count, guessed, tuple(skipped.samples))


def _entry(entry: dict, source: str, now: datetime) -> Mention | None:
    # FeedParserDict's own get() resolves aliases on every call and dominates the cost of
    # reading an entry; the canonical keys we use are plain dict keys.
    title = html_to_text(entry.get("title", ""))
    content = entry.get("content")
    body_html = content[0].get("value", "") if content else entry.get("summary", "")
    text = html_to_text(body_html)
    if not title and not text:
        return None
    url = safe_url(entry.get("link"))
    native_id = entry.get("id") or url or _digest(title, text)
    # feedparser reads the date with every handler it has, ours for other languages among
    # them (collectors.dates); a date none can read is unknown, never silently "now".
    when = from_struct(entry.get("published_parsed") or entry.get("updated_parsed"))
    return Mention(
        source=source,
        native_id=native_id,
        url=url,
        title=title,
        text=text,
        author=html_to_text(entry.get("author") or publisher(entry)) or None,
        published=min(when, now) if when else now,
        reach=None,
        published_known=when is not None,
    )


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
        headers = {**source_headers(source), **conditional_headers(state.etag, state.last_modified)}
        response = await http.get(url, headers)
    except FetchError as e:
        return failed(source, e)
    if response.status == 304:
        return Fetched(
            source.id, etag=state.etag, last_modified=state.last_modified, not_modified=True
        )
    try:
        # Parsing is CPU work: in a worker process, so other sources' downloads keep flowing.
        feed = await offload.run(
            read, response.body, source.id, None, response.headers.get("content-type"),
            response.base_url, size=len(response.body),
        )  # fmt: skip
    except (FeedError, offload.Stopped) as e:
        return Fetched(source.id, error=f"{url}: {e}")
    fetched = Fetched(
        source.id,
        feed.mentions,
        skipped=feed.skipped,
        samples=feed.samples,
        encoding_guessed=feed.encoding_guessed,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )
    return keep_recent(fetched, age_limit(source, datetime.now(UTC)))
