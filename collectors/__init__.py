"""Listen: one module per source kind, all fetching through `collectors.http`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from collectors import rss
from collectors.http import Http
from data.config import Source
from data.records import Fetched, SourceState

Collector = Callable[[Http, Source, SourceState], Awaitable[Fetched]]

COLLECTORS: dict[str, Collector] = {
    "rss": rss.collect,
}
