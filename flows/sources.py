"""Pure decisions about sources: which are due, and what a fetch did to their health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from data.config import Source
from data.records import RETRY_AFTER_MAX_SECONDS, Fetched, SourceState

MAX_BACKOFF = timedelta(hours=24)


def due_sources(
    sources: Sequence[Source], states: Mapping[str, SourceState], now: datetime, force: bool = False
) -> list[Source]:
    """Enabled sources whose next fetch time has come (all enabled ones when forced)."""
    due = []
    for s in sources:
        if not s.enabled:
            continue
        state = states.get(s.id)
        if force or state is None or state.next_fetch_at is None or state.next_fetch_at <= now:
            due.append(s)
    return due


def next_state(
    source: Source, previous: SourceState | None, fetched: Fetched, now: datetime
) -> SourceState:
    """The source's state after a fetch: caching headers kept, failures counted, back-off set."""
    previous = previous or SourceState(source=source.id)
    interval = timedelta(minutes=source.interval_minutes)
    if fetched.error is None:
        return SourceState(
            source=source.id,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            last_attempt_at=now,
            last_success_at=now,
            last_error=None,
            consecutive_failures=0,
            next_fetch_at=now + interval,
            items_last_fetch=fetched.items_seen,
            skipped_last_fetch=fetched.skipped,
            cursors={**previous.cursors, **fetched.cursors},
            # A 304 says nothing new about the body: what was guessed of it still holds.
            encoding_guessed=(
                previous.encoding_guessed if fetched.not_modified else fetched.encoding_guessed
            ),
            unexpected_samples=fetched.samples,
        )
    failures = previous.consecutive_failures + 1
    # Twenty doublings of even a minute are past MAX_BACKOFF; more would overflow a timedelta
    # (a month of failures), failing the write of the whole pass, every pass.
    backoff = min(interval * 2 ** min(failures - 1, 20), MAX_BACKOFF)
    if fetched.retry_after:
        # However the wait was asked (a collector's own header reading, an API's field), at
        # most a week: beyond it, the next fetch is no date at all.
        asked = min(fetched.retry_after, RETRY_AFTER_MAX_SECONDS)
        backoff = max(backoff, timedelta(seconds=asked))
    return SourceState(
        source=source.id,
        etag=previous.etag,
        last_modified=previous.last_modified,
        last_attempt_at=now,
        last_success_at=previous.last_success_at,
        last_error=fetched.error,
        consecutive_failures=failures,
        next_fetch_at=now + backoff,
        items_last_fetch=0,
        needs_credentials=fetched.needs_credentials,
        cursors=previous.cursors,
    )
