"""What the pages read: the store's named queries, cached briefly.

The dashboard never holds a DuckDB connection between reruns: each read opens the file, runs
one query and closes it, so the pipeline can take the file in between.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from data import alert_rules, clients, corrections, engagement, inbox, outbox, store
from data.clients import Client
from data.config import AlertRule, Config, load_config
from data.store import MentionFilter
from notify import push
from notify.digest import Pick, is_due


def published_text(rows: pd.DataFrame) -> pd.Series:
    """When each mention was published, as lists show it: "date unknown" when the source gave
    no date we could read (the time stored is then when it was fetched)."""
    shown = rows["published"].dt.strftime("%Y-%m-%d %H:%M")
    if "published_known" not in rows:
        return shown
    return shown.where(rows["published_known"].fillna(True).astype(bool), "date unknown")


TTL = 30  # seconds: fresh enough for a monitoring screen, cheap enough for many reruns
PAGE = 100  # rows of a list shown at once: lists are read a page at a time, never whole
# A read waits this long at most for a pass to release the file; the page then says it is busy
# and tries again, rather than hanging for the whole lock time-out.
READ_WAIT = 3.0


def config() -> Config:
    return load_config()


def _read(fn, f: MentionFilter | None = None) -> pd.DataFrame:  # noqa: ANN001
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return fn(db) if f is None else fn(db, f)


@st.cache_data(ttl=TTL, show_spinner=False)
def mentions(f: MentionFilter) -> pd.DataFrame:
    """The page of mentions `f.limit` and `f.offset` say."""
    return _read(store.find_mentions, f)


EXPORT_MAX = 100_000  # rows of a downloaded table of mentions


def mentions_to_export(f: MentionFilter) -> pd.DataFrame:
    """Every mention the filter keeps (up to EXPORT_MAX), for a download: read when its
    button is clicked, on Streamlit's download thread, so neither cached nor paged."""
    rows = _read(store.find_mentions, replace(f, limit=EXPORT_MAX, offset=0))
    rows["published"] = published_text(rows)
    return rows.drop(columns="published_known")


@st.cache_data(ttl=TTL, show_spinner=False)
def mention_count(f: MentionFilter) -> int:
    return _read(store.count_mentions, f)


@st.cache_data(ttl=TTL, show_spinner=False)
def summary(f: MentionFilter) -> dict[str, int]:
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return store.summary(db, f)


@st.cache_data(ttl=TTL, show_spinner=False)
def per_day(f: MentionFilter) -> pd.DataFrame:
    return _read(store.mentions_per_day, f)


@st.cache_data(ttl=TTL, show_spinner=False)
def sources_ranked(f: MentionFilter) -> pd.DataFrame:
    return _read(store.top_sources, f)


@st.cache_data(ttl=TTL, show_spinner=False)
def inbox_queue(
    statuses: tuple[str, ...], page: int = 0, assignee: str | None = None
) -> pd.DataFrame:
    """One page (PAGE rows, from 0) of the queue, most urgent first (only `assignee`'s)."""
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return inbox.queue(db, statuses, limit=PAGE, offset=page * PAGE, assignee=assignee)


@st.cache_data(ttl=TTL, show_spinner=False)
def inbox_size(statuses: tuple[str, ...], assignee: str | None = None) -> int:
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return inbox.queue_size(db, statuses, assignee=assignee)


@st.cache_data(ttl=TTL, show_spinner=False)
def alerts_overview() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Spikes firing now, and the outbox (newest first)."""
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        active = db.execute(
            "SELECT rule, key AS about, last_fired_at FROM alert_state "
            "WHERE active AND list_contains(?, rule) ORDER BY last_fired_at DESC",
            [[r.name for r in alert_rules.in_effect(cfg, db) if r.kind in ("spike", "competitor")]],
        ).df()
        # Per-mention conditions (matches, reminders) fire once each; only spikes stay "on".
        active = active[~active["about"].str.fullmatch(r"[0-9a-f]{24}(:\w+)?")]
        return active, outbox.outbox_view(db)


@st.cache_data(ttl=TTL, show_spinner=False)
def rules_in_effect() -> tuple[list[AlertRule], set[str]]:
    """The rules in effect, and the names of those edited on the dashboard."""
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return alert_rules.in_effect(cfg, db), set(alert_rules.edits(db))


@st.cache_data(ttl=TTL, show_spinner=False)
def source_health(counts: bool = True) -> pd.DataFrame:
    """Each source's state; with `counts`, its mentions counted (a scan of them all)."""
    return _read(lambda db: store.source_health(db, counts))


@st.cache_data(ttl=TTL, show_spinner=False)
def choices() -> tuple[list[str], list[str], list[str]]:
    """Watched terms, source ids and source kinds that have mentions, for the filters."""
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return store.known_terms(db), store.known_sources(db), store.known_kinds(db)


def period_picker(key: str = "period") -> tuple[date, date]:
    """A shared 'last N days' control; returns (since, until) inclusive."""
    days = st.segmented_control(
        "Period", options=[7, 30, 90, 365], default=30, format_func=lambda d: f"{d} days", key=key
    )
    until = date.today()
    return until - timedelta(days=(days or 30) - 1), until


@st.cache_data(ttl=TTL, show_spinner=False)
def all_clients() -> list[Client]:
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return clients.all_clients(db)


@st.cache_data(ttl=TTL, show_spinner=False)
def client_history(client_id: str) -> pd.DataFrame:
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return clients.history(db, client_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def client_return_path(client_id: str) -> dict:
    """What came back from a client: their counts, clicks and feedback, learned weights,
    cadence changes, check-ins and dates."""
    cfg = config()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        return {
            "counts": engagement.engagement_summary(db).get(client_id, {}),
            "events": engagement.events(db, client_id),
            "weights": engagement.profile(db, client_id),
            "changes": engagement.cadence_changes(db, client_id),
            "checkins": engagement.checkins(db, client_id),
            "dates": engagement.dates(db, client_id),
        }


@st.cache_data(ttl=TTL, show_spinner=False)
def next_digest(client_id: str) -> tuple[list[Pick], tuple[bool, str], str, list[dict]]:
    """A client's next digest as it stands, whether it is due, their note, recent articles."""
    cfg = config()
    now = store.utcnow()
    with store.connect(cfg.db_path, min(READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
        client = next(c for c in clients.all_clients(db) if c.id == client_id)
        picks = push.next_digests(cfg, db, now, [client_id])[client_id]
        sent = push.recent_mail(db, client_id, now)
        recent = clients.candidate_articles(db, now - timedelta(days=cfg.push.max_age_days))
        return picks, is_due(client, sent, now), clients.note(db, client_id), recent[:300]


@st.cache_data(ttl=TTL, show_spinner=False)
def corrections_since(since: datetime | None) -> int:
    return _read(lambda db: corrections.made_since(db, since))


def _day_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[since, until] in days, as the [start, end) times the store compares with."""
    start = datetime.combine(since, datetime.min.time())
    return start, datetime.combine(until, datetime.min.time()) + timedelta(days=1)


@st.cache_data(ttl=TTL, show_spinner=False)
def set_aside(since: date, until: date, terms: tuple[str, ...], page: int = 0) -> pd.DataFrame:
    """One page of what was set aside as not about us (data.corrections.set_aside)."""
    start, end = _day_bounds(since, until)
    return _read(
        lambda db: corrections.set_aside(db, start, end, terms, limit=PAGE, offset=page * PAGE)
    )


@st.cache_data(ttl=TTL, show_spinner=False)
def set_aside_count(since: date, until: date, terms: tuple[str, ...]) -> int:
    start, end = _day_bounds(since, until)
    return _read(lambda db: corrections.set_aside_count(db, start, end, terms))
