"""The inbox: what people do with mentions (status, assignee, tags, note) and its history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from data import rollups
from data.store import _aware, _naive_utc

STATUSES = ("new", "assigned", "responded", "done", "ignored")
OPEN = ("new", "assigned")


def update(
    db: duckdb.DuckDBPyConnection,
    mention_ids: Sequence[str],
    actor: str,
    now: datetime,
    *,
    status: str | None = None,
    assignee: str | None = None,
    add_tags: Sequence[str] = (),
    note: str | None = None,
) -> int:
    """Change the work state of mentions, keeping who changed what; return how many changed.

    Assigning a new mention also moves it to 'assigned'.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    ids = list(dict.fromkeys(mention_ids))
    current = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT mention_id, status, assignee, tags, note, assigned_at FROM inbox "
            "WHERE list_contains(?, mention_id)",
            [ids],
        ).fetchall()
    }
    rows, history = [], []
    at = _naive_utc(now)
    for mid in ids:
        old_status, old_assignee, tags, old_note, assigned_at = current.get(
            mid, ("new", None, [], None, None)
        )
        new_status, new_assignee, new_tags, new_note = (
            old_status,
            old_assignee,
            list(tags),
            old_note,
        )
        changes = []
        if assignee is not None and assignee != old_assignee:
            new_assignee, assigned_at = assignee or None, at
            changes.append(f"assignee: {old_assignee or '—'} → {assignee or '—'}")
            if status is None and old_status == "new" and assignee:
                new_status = "assigned"
        if status is not None:
            new_status = status
        if new_status != old_status:
            changes.append(f"status: {old_status} → {new_status}")
        for tag in add_tags:
            if tag and tag not in new_tags:
                new_tags.append(tag)
                changes.append(f"tag: +{tag}")
        if note is not None and note != (old_note or ""):
            new_note = note
            changes.append(f"note: {note[:200]}")
        if changes:
            rows.append((mid, new_status, new_assignee, new_tags, new_note, assigned_at, at))
            history += [(mid, at, actor, change) for change in changes]
    if rows:
        # One transaction: the queue kept on write never disagrees with the work states.
        with rollups.atomic(db):
            # Replaced by delete and insert: a DuckLake table has no key to replace on.
            db.executemany("DELETE FROM inbox WHERE mention_id = ?", [(r[0],) for r in rows])
            db.executemany("INSERT INTO inbox VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO inbox_history VALUES (?, ?, ?, ?)", history)
            rollups.requeue(db, [r[0] for r in rows])
    return len(rows)


ACTIONS = ("Mark done", "Mark responded", "Ignore", "Assign to…", "Add tag…")


def apply(
    db: duckdb.DuckDBPyConnection,
    mention_ids: Sequence[str],
    action: str,
    value: str,
    actor: str,
    now: datetime,
) -> int:
    """A bulk action from the inbox page. Raises ValueError with what the person must fix."""
    value = value.strip()
    if not mention_ids:
        raise ValueError("Select at least one mention first.")
    if action in ("Assign to…", "Add tag…") and not value:
        raise ValueError("Say whom to assign to, or which tag to add.")
    changes: dict = {
        "Mark done": {"status": "done"},
        "Mark responded": {"status": "responded"},
        "Ignore": {"status": "ignored"},
        "Assign to…": {"assignee": value},
        "Add tag…": {"add_tags": [value]},
    }[action]
    return update(db, mention_ids, actor, now, **changes)


# Within what needs action, a complaint (a problem that expects a response) comes before a
# churn risk, a question, or a negative opinion, whatever their reach: data.rollups._PLACE.
_FLAGS = """
    list_contains({p}intents, 'complaint') OR list_contains({p}intents, 'churn_risk')
        OR {p}sentiment_label = 'negative' AS likely_complaint,
    list_contains({p}intents, 'question') AS likely_question
"""
_COLUMNS = [
    "id", "published", "published_known", "source", "kind", "title", "author", "reach",
    "url", "terms", "sentiment", "sentiment_label", "intents", "status", "assignee", "tags",
    "note", "likely_complaint", "likely_question",
]  # fmt: skip


_LAST_PLACE = 2**63 - 1  # beyond every place (data.rollups._PLACE)


def _queue_where(
    statuses: Sequence[str], since: datetime | None, assignee: str | None
) -> tuple[str, list]:
    return (
        "list_contains(?, status) AND published >= ? AND (? IS NULL OR assignee = lower(?))",
        [list(statuses), _naive_utc(since) or datetime(1970, 1, 1), assignee, assignee],
    )


def queue(
    db: duckdb.DuckDBPyConnection,
    statuses: Sequence[str] = OPEN,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    assignee: str | None = None,
) -> pd.DataFrame:
    """One page of what needs action first: complaints, then churn risks, questions and other
    negative mentions, each by reach and recency, with what a row of the inbox shows (a
    mention's text is read when it is opened: `mention`). A top-N over the queue kept on
    write (data.rollups, in this order on disk): only the row groups that can hold the page
    are read. With `assignee`, only what is assigned to them ("my inbox")."""
    where, params = _queue_where(statuses, since, assignee)
    # First the place of the page's last row, from the narrow columns alone; then the page,
    # from the rows placed up to it: the wide columns are read only where the page is (a
    # top-N would read them for every row of the row groups it opens).
    page = db.execute(
        f"""
        WITH last AS (
            SELECT place FROM inbox_queue WHERE {where} ORDER BY place LIMIT 1 OFFSET ?
        )
        SELECT mention_id AS id, published, published_known, source, kind, title, author,
               reach, url, terms, sentiment, sentiment_label, intents, status,
               {_FLAGS.format(p="")}
        FROM inbox_queue
        WHERE {where} AND place <= coalesce((SELECT place FROM last), {_LAST_PLACE})
        ORDER BY {rollups.ORDER} LIMIT ? OFFSET ?
        """,
        [*params, max(limit + offset - 1, 0), *params, limit, offset],
    ).df()
    ids = page["id"].tolist()
    if not ids:
        return pd.DataFrame(columns=_COLUMNS)
    # The page's work states, by their keys: only mentions someone acted on have one.
    marks = ", ".join("?" * len(ids))
    work = db.execute(
        f"SELECT mention_id AS id, assignee, tags, note FROM inbox WHERE mention_id IN ({marks})",
        ids,
    ).df()
    out = page.merge(work, on="id", how="left")
    # A mention without a work state has no inbox row: no tags (the merge leaves NaN).
    out["tags"] = [[] if t is None or isinstance(t, float) else t for t in out["tags"]]
    return out[_COLUMNS]


def queue_size(
    db: duckdb.DuckDBPyConnection,
    statuses: Sequence[str] = OPEN,
    since: datetime | None = None,
    assignee: str | None = None,
) -> int:
    """How many mentions the queue holds (every page of it): the counts kept on write, or a
    count of the queue's rows published since a time."""
    if since is None:
        (n,) = db.execute(
            "SELECT coalesce(sum(mentions), 0) FROM inbox_counts "
            "WHERE list_contains(?, status) AND (? IS NULL OR assignee = lower(?))",
            [list(statuses), assignee, assignee],
        ).fetchone()
        return int(n)
    where, params = _queue_where(statuses, since, assignee)
    (n,) = db.execute(f"SELECT count(*) FROM inbox_queue WHERE {where}", params).fetchone()
    return int(n)


def mention(db: duckdb.DuckDBPyConnection, mention_id: str) -> dict | None:
    """A mention with its current reading and work state; None when it has no reading (not
    scored yet, or not about us). Three lookups rather than a join: the mention by its key (a
    scan of the ids, since migration 024 dropped their index), its reading by key and date (the
    readings are written in order of publication, data.rollups, so only the row groups of its
    time are read), its work state by key."""
    found = db.execute(
        "SELECT id, published, coalesce(published_known, true) AS published_known, source, "
        "kind, title, text, author, reach, url FROM mentions WHERE id = ?",
        [mention_id],
    ).df()
    if found.empty:
        return None
    out = found.iloc[0].to_dict()
    reading = db.execute(
        f"""
        SELECT terms, sentiment, sentiment_label, intents, {_FLAGS.format(p="")}
        FROM readings WHERE mention_id = ? AND published = ?
        """,
        [mention_id, out["published"].to_pydatetime()],
    ).df()
    if reading.empty:
        return None
    work = db.execute(
        "SELECT status, assignee, coalesce(tags, []) AS tags, note FROM inbox WHERE mention_id = ?",
        [mention_id],
    ).df()
    state = (
        work.iloc[0].to_dict()
        if not work.empty
        else {"status": "new", "assignee": None, "tags": [], "note": None}
    )
    out.update(reading.iloc[0].to_dict())
    out.update(state)
    return {k: out[k] for k in _MENTION}


_MENTION = [
    "id", "published", "published_known", "source", "kind", "title", "text", "author", "reach",
    "url", "terms", "sentiment", "sentiment_label", "intents", "status", "assignee", "tags",
    "note", "likely_complaint", "likely_question",
]  # fmt: skip


def history(db: duckdb.DuckDBPyConnection, mention_id: str) -> pd.DataFrame:
    return db.execute(
        "SELECT changed_at, actor, change FROM inbox_history WHERE mention_id = ? "
        "ORDER BY changed_at DESC, change",
        [mention_id],
    ).df()


@dataclass(frozen=True, slots=True)
class Assigned:
    mention_id: str
    assignee: str
    assigned_at: datetime
    title: str
    url: str
    terms: tuple[str, ...]


def open_assigned(db: duckdb.DuckDBPyConnection) -> list[Assigned]:
    """Mentions assigned to someone and not yet responded to, done or ignored."""
    rows = db.execute(
        """
        SELECT i.mention_id, i.assignee, i.assigned_at, m.title, m.url, m.terms
        FROM inbox i JOIN scored_mentions m ON m.id = i.mention_id
        WHERE i.status = 'assigned' AND i.assignee IS NOT NULL AND i.assigned_at IS NOT NULL
        """
    ).fetchall()
    return [Assigned(r[0], r[1], _aware(r[2]), r[3], r[4], tuple(r[5])) for r in rows]  # type: ignore[arg-type]
