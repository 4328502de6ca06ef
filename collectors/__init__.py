"""Listen: one module per source kind, all fetching through `collectors.http`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from collectors import bluesky, hackernews, mastodon, newssearch, reddit, rss, webpage
from collectors.http import Http
from data.config import Source
from data.records import Fetched, SourceState

# A collector fetches one source: the queries are the watched terms (or the source's own).
Collector = Callable[[Http, Source, SourceState, Sequence[str]], Awaitable[Fetched]]

COLLECTORS: dict[str, Collector] = {
    "rss": rss.collect,
    "hackernews": hackernews.collect,
    "reddit": reddit.collect,
    "mastodon": mastodon.collect,
    "bluesky": bluesky.collect,
    "newssearch": newssearch.collect,
    "webpage": webpage.collect,
}
