"""What every search source shares: one search per query (or per query and channel), a cursor
for each so a pass fetches only what is new, a bounded first look back, a request rate, and
errors turned into a failed `Fetched` that says what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from collectors.http import FetchError
from collectors.unexpected import Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState

# (query key, its cursor or None, the oldest time wanted) -> (mentions, new cursor, skipped)
Search = Callable[
    [str, str | None, datetime], Awaitable[tuple[list[Mention], str | None, Unexpected]]
]


def min_interval(source: Source, documented_per_minute: float) -> float:
    """Seconds between two requests to the API: the source's setting, else the documented rate."""
    return 60.0 / (source.requests_per_minute or documented_per_minute)


def oldest_wanted(source: Source, now: datetime) -> datetime:
    return now - timedelta(days=source.lookback_days)


def age_limit(source: Source, now: datetime) -> datetime | None:
    """The oldest publication time a source keeps, or None for no limit. Search sources look
    back `lookback_days` (7 unless set); a feed or page keeps the history it shows unless its
    config sets `lookback_days`."""
    if source.kind in ("rss", "webpage") and "lookback_days" not in source.model_fields_set:
        return None
    return oldest_wanted(source, now)


def keep_recent(fetched: Fetched, oldest: datetime | None) -> Fetched:
    """The fetch without items published before `oldest` (whatever the server sent: an API
    may ignore our filters). Items of unknown date stay: their age cannot be told."""
    if oldest is None:
        return fetched
    kept = [m for m in fetched.mentions if m.published >= oldest or not m.published_known]
    if len(kept) == len(fetched.mentions):
        return fetched
    return replace(fetched, mentions=kept, seen=fetched.items_seen)


async def search_all(
    source: Source,
    state: SourceState,
    keys: Sequence[str],
    search: Search,
    credentials_hint: str = "",
) -> Fetched:
    """Run `search` for every key concurrently; one failure fails the source, cursors intact.

    Every search runs to its end even when another fails, so that what they fetched is kept
    for the source's next attempt (collectors.http.Attempts). A failure that another attempt
    cannot mend wins over one that it might (FetchAgain, raised for Prefect to retry)."""
    since = oldest_wanted(source, datetime.now(UTC))
    results = await asyncio.gather(
        *(search(key, state.cursors.get(key), since) for key in keys), return_exceptions=True
    )
    for r in sorted(results, key=lambda r: not isinstance(r, FetchError)):
        if isinstance(r, FetchError):
            message = str(r)
            if r.needs_credentials and credentials_hint:
                message += f" — needs credentials: {credentials_hint}"
            return Fetched(
                source.id,
                error=message,
                retry_after=r.retry_after,
                needs_credentials=r.needs_credentials,
            )
        if isinstance(r, BaseException):
            raise r
    mentions: dict[str, Mention] = {}
    cursors: dict[str, str] = {}
    skipped = Unexpected()
    for key, (found, cursor, bad) in zip(keys, results, strict=True):  # type: ignore[misc]
        for m in found:
            mentions.setdefault(m.native_id, m)
        if cursor:
            cursors[key] = cursor
        skipped.extend(bad.count, bad.samples)
    fetched = Fetched(
        source.id,
        list(mentions.values()),
        cursors=cursors,
        skipped=skipped.count,
        samples=tuple(skipped.samples),
    )
    return keep_recent(fetched, since)


def epoch(value: object) -> datetime:
    """A Unix time in seconds as aware UTC, at the latest now (see `not_after_now`); raises
    ValueError when it is no time (text, NaN, beyond the year 9999)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("a time is not a number")
    try:
        return not_after_now(datetime.fromtimestamp(float(value), UTC))
    except (OverflowError, OSError):
        raise ValueError(f"time {value!r} is out of range") from None


def iso(value: object) -> datetime:
    """An ISO-8601 time as aware UTC ("Z" and offsets accepted), at the latest now (see
    `not_after_now`); raises ValueError when it is none (or out of range)."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return not_after_now(when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC))
    except OverflowError:  # the year 1 at +05:00 is before the year 1 in UTC
        raise ValueError(f"time {value!r} is out of range") from None


def not_after_now(when: datetime) -> datetime:
    """A time an item says it was published, at the latest now. A search source's cursor is
    the newest time it saw: one item dated in the future (a wrong clock, the year 9999) would
    move it there, and every later search would ask for items newer than that, finding none."""
    return min(when, datetime.now(UTC))


def first_line(text: str, limit: int = 120) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
