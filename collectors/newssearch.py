"""News search feeds (Google News RSS by default): one search feed per watched term, the
publisher recovered from the item, only items newer than the last pass kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from collectors import offload
from collectors.http import FetchError, Http, failed, source_headers
from collectors.rss import FeedError, read
from collectors.search import iso, min_interval, search_all
from collectors.unexpected import Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState

SEARCH = "https://news.google.com/rss/search"
PER_MINUTE = 30  # undocumented; stay polite


def with_publisher(m: Mention) -> Mention:
    """Google News titles read "Headline - Publisher": keep the headline, credit the publisher."""
    if m.author and m.title.endswith(f" - {m.author}"):
        return replace(m, title=m.title.removesuffix(f" - {m.author}"))
    return m


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str]
) -> Fetched:
    try:
        configured = source_headers(source)  # the config's own headers, from the environment
    except FetchError as e:
        return failed(source, e)
    url = str(source.base_url or SEARCH)
    interval = min_interval(source, PER_MINUTE)

    async def search(query: str, cursor: str | None, since: datetime) -> tuple[list, str, int]:
        oldest = iso(cursor) if cursor else since
        q = f'"{query}" when:{source.lookback_days}d'
        params: dict[str, str | int] = {"q": q, "hl": "en-US", "gl": "US", "ceid": "US:en"}
        response = await http.get(url, configured, params, interval)
        try:
            feed = await offload.run(
                read, response.body, source.id, None, response.headers.get("content-type"),
                response.base_url, size=len(response.body),
            )  # fmt: skip
        except (FeedError, offload.Stopped) as e:
            raise FetchError(f"{url}: {e}") from None
        fresh = [with_publisher(m) for m in feed.mentions if m.published > oldest]
        # An item of unknown date is dated now: it must not move the cursor past the others.
        newest = max((m.published for m in fresh if m.published_known), default=oldest)
        skipped = Unexpected()
        skipped.extend(feed.skipped, feed.samples)
        return fresh, newest.isoformat(), skipped

    return await search_all(source, state, queries, search)
