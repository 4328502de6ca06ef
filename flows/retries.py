"""Retry policies of the pass's tasks, in Prefect's terms (task retries, shown in its UI).

A source's fetch is one task (flows.pipeline.collect_source), retried by Prefect after a
transient failure (a timeout, a connection error, 429 or 5xx: collectors.http.FetchAgain) with
exponential back-off and jitter, `[http] max_attempts` attempts in all. Each retry is one line
in the run's log (Prefect's "Task run failed with exception: <url>: HTTP 503 …; attempt 1 of 3
- Retry 1/2 will start …") and an AwaitingRetry → Retrying step in the task run's state
history. What a fixed back-off cannot do, the source's `Attempts` does: its next attempt waits
as long as the server asked (`Retry-After`, up to `[http] max_retry_after_seconds`; a longer
wait fails the source at once), and asks only for what earlier attempts did not get, so a
search source's third page failing does not fetch its first two again. A source whose last
attempt fails is recorded as failed, and the pass goes on.

The pass's write is retried too: when the database stays locked longer than `[database]
lock_timeout_seconds` (a long read elsewhere), the write is tried again later rather than a
pass's fetched and scored items being thrown away.
"""

from __future__ import annotations

from typing import Any

from collectors.http import FetchAgain
from data.config import Http
from data.errors import StoreLockedError

STORE_RETRY_DELAYS = [10, 30, 60]  # seconds, after the connection's own lock_timeout_seconds
FETCH_JITTER = 0.5  # each back-off at most 1.5 times its nominal value, averaging it


def store_was_locked(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only a write that could not open the store; any other failure is final."""
    return isinstance(state.data, StoreLockedError)


STORE_RETRIES: dict[str, Any] = {
    "retries": len(STORE_RETRY_DELAYS),
    "retry_delay_seconds": STORE_RETRY_DELAYS,
    "retry_jitter_factor": 0.2,
    "retry_condition_fn": store_was_locked,
}


def fetch_was_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a fetch only after a failure another attempt may mend (collectors.http)."""
    return isinstance(state.data, FetchAgain)


def fetch_retries(http: Http) -> dict[str, Any]:
    """A source's fetch task's retry options, from `[http]`."""
    from prefect.tasks import exponential_backoff

    return {
        "retries": http.max_attempts - 1,
        "retry_delay_seconds": exponential_backoff(http.backoff_seconds),
        "retry_jitter_factor": FETCH_JITTER,
        "retry_condition_fn": fetch_was_transient,
    }
