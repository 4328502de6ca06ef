"""Hacker News stories and comments, through the public Algolia search API (search by date).

Documented limit: 10,000 requests an hour per IP; we keep well under it by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from collectors.http import FetchError, Http, failed, source_headers
from collectors.search import epoch, min_interval, search_all
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_url

API = "https://hn.algolia.com/api/v1"
PER_MINUTE = 100
ITEM_URL = "https://news.ycombinator.com/item?id={}"


def parse_hit(hit: dict, source: str) -> Mention:
    """One Algolia hit (a story or a comment) as a mention; raises on a hit of the wrong shape."""
    object_id = str(hit["objectID"])
    created = epoch(hit["created_at_i"])
    is_comment = hit.get("comment_text") is not None
    if is_comment:
        title = f"Re: {hit.get('story_title') or 'a story'}"
        text = html_to_text(hit["comment_text"])
        shared = None
    else:
        title = html_to_text(hit["title"])
        text = html_to_text(hit.get("story_text") or "")
        shared = safe_url(hit.get("url")) or None
    points = hit.get("points")
    return Mention(
        source=source,
        native_id=object_id,
        url=ITEM_URL.format(object_id),
        title=title,
        text=text,
        author=hit.get("author"),
        published=created,
        reach=int(points) if points is not None else None,
        shared_url=shared,
    )


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str]
) -> Fetched:
    try:
        configured = source_headers(source)  # the config's own headers, from the environment
    except FetchError as e:
        return failed(source, e)
    base = str(source.base_url or API).rstrip("/")
    url = f"{base}/search_by_date"
    interval = min_interval(source, PER_MINUTE)

    async def search(
        query: str, cursor: str | None, since: datetime
    ) -> tuple[list, str, Unexpected]:
        newest = int(cursor) if cursor else int(since.timestamp())
        mentions, skipped, top = [], Unexpected(), newest
        for page in range(source.max_pages):
            params = {
                "query": query,
                "tags": "(story,comment)",
                "numericFilters": f"created_at_i>{newest}",
                "hitsPerPage": 100,
                "page": page,
            }
            data = await http.get_json(url, configured, params, interval)
            hits = data.get("hits") if isinstance(data, dict) else None
            if not isinstance(hits, list):
                raise FetchError(f"{url}: unexpected answer (no 'hits' list)")
            for hit in hits:
                try:
                    m = parse_hit(hit, source.id)
                except ITEM_SHAPE_ERRORS:
                    skipped.add(hit)
                    continue
                mentions.append(m)
                top = max(top, int(m.published.timestamp()))
            pages = data.get("nbPages")
            if not isinstance(pages, int) or page + 1 >= pages:  # a count we cannot read: stop
                break
        return mentions, str(top), skipped

    return await search_all(source, state, queries, search)
