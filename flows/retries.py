"""Retry policies of the pass's tasks, in Prefect's terms (task retries, shown in its UI).

HTTP fetches are retried per request by the one HTTP client (collectors.http): per request, so
that a search source's third page failing does not fetch its first two again, and honouring
the `Retry-After` a server sends, which a task's fixed back-off cannot; each retry is in the
run's logs. What Prefect retries is the pass's write: when the database stays locked longer
than `[database] lock_timeout_seconds` (a long read elsewhere), the write is tried again later
rather than a pass's fetched and scored items being thrown away.
"""

from __future__ import annotations

from typing import Any

from data.errors import StoreLockedError

STORE_RETRY_DELAYS = [10, 30, 60]  # seconds, after the connection's own lock_timeout_seconds


def store_was_locked(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only a write that could not open the store; any other failure is final."""
    return isinstance(state.data, StoreLockedError)


STORE_RETRIES: dict[str, Any] = {
    "retries": len(STORE_RETRY_DELAYS),
    "retry_delay_seconds": STORE_RETRY_DELAYS,
    "retry_jitter_factor": 0.2,
    "retry_condition_fn": store_was_locked,
}
