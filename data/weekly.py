"""What the weekly report counts beyond the Overview's figures: the week's top mentions, the
complaints received and handled, and the clients' engagement. Named queries, bound values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

HANDLED = ("responded", "done")


def top_mentions(
    db: duckdb.DuckDBPyConnection, since: date, until: date, limit: int = 5
) -> pd.DataFrame:
    """The mentions of the period that reached most people (then the newest): one per story."""
    return db.execute(
        """
        SELECT r.published, r.source, m.title, m.url, m.author, r.reach, r.terms,
               r.sentiment_label, r.mention_id AS id
        FROM readings r JOIN mentions m ON m.id = r.mention_id AND m.published = r.published
        WHERE r.published >= ? AND r.published < ?::DATE + INTERVAL 1 DAY
        QUALIFY row_number() OVER (PARTITION BY r.story_key
                                   ORDER BY r.reach DESC NULLS LAST, r.published DESC) = 1
        ORDER BY r.reach DESC NULLS LAST, r.published DESC, r.mention_id
        LIMIT ?
        """,
        [since, until, limit],
    ).df()


@dataclass(frozen=True, slots=True)
class Complaints:
    received: int  # mentions read as complaints, published in the period
    handled: int  # of those, marked responded or done (by now)
    within_sla: int  # of those handled, within sla_hours of being published


def complaints(
    db: duckdb.DuckDBPyConnection, since: date, until: date, sla_hours: float
) -> Complaints:
    received, handled, within = db.execute(
        """
        WITH c AS (
            SELECT r.mention_id, r.published FROM readings r
            WHERE list_contains(r.intents, 'complaint')
              AND r.published >= ? AND r.published < ?::DATE + INTERVAL 1 DAY
        ), first_handled AS (
            SELECT mention_id, min(changed_at) AS at FROM inbox_history
            WHERE change LIKE 'status: % → responded' OR change LIKE 'status: % → done'
            GROUP BY mention_id
        )
        SELECT count(*),
               count(*) FILTER (i.status IN ('responded', 'done')),
               count(*) FILTER (i.status IN ('responded', 'done')
                                AND coalesce(h.at, i.updated_at) <= c.published + ?::INTERVAL)
        FROM c LEFT JOIN inbox i USING (mention_id) LEFT JOIN first_handled h USING (mention_id)
        """,
        [since, until, timedelta(hours=sla_hours)],
    ).fetchone()
    return Complaints(int(received), int(handled), int(within))


@dataclass(frozen=True, slots=True)
class Engagement:
    active_clients: int
    clients_reached: int  # clients who got at least one digest in the period
    digests: int
    items: int
    by_email: int  # items whose digest mail was accepted by the server
    unsubscribed: int  # clients who unsubscribed in the period
    clicks: int = 0  # links in digests opened (the endpoint's redirect), in the period
    clients_clicking: int = 0
    checkins_answered: int = 0  # satisfaction check-ins answered in the period
    mean_answer: float | None = None  # of the 1-5 answers among them


def engagement(db: duckdb.DuckDBPyConnection, since: date, until: date) -> Engagement:
    (active,) = db.execute("SELECT count(*) FROM clients WHERE status = 'active'").fetchone()
    reached, digests, items, by_email = db.execute(
        """
        SELECT count(DISTINCT client_id), count(DISTINCT digest_id), count(*),
               count(*) FILTER (list_contains(channels, 'email'))
        FROM deliveries WHERE delivered_at >= ? AND delivered_at < ?::DATE + INTERVAL 1 DAY
        """,
        [since, until],
    ).fetchone()
    (gone,) = db.execute(
        "SELECT count(DISTINCT client_id) FROM client_status_log WHERE status = 'unsubscribed' "
        "AND changed_at >= ? AND changed_at < ?::DATE + INTERVAL 1 DAY",
        [since, until],
    ).fetchone()
    clicks, clicking = db.execute(
        "SELECT count(*), count(DISTINCT client_id) FROM client_events WHERE kind = 'click' "
        "AND acted_at >= ? AND acted_at < ?::DATE + INTERVAL 1 DAY",
        [since, until],
    ).fetchone()
    answered, mean = db.execute(
        "SELECT count(*), avg(answer) FILTER (scale = '1-5') FROM checkins "
        "WHERE answer IS NOT NULL AND answered_at >= ? AND answered_at < ?::DATE + INTERVAL 1 DAY",
        [since, until],
    ).fetchone()
    return Engagement(
        int(active), int(reached), int(digests), int(items), int(by_email), int(gone),
        int(clicks), int(clicking), int(answered), None if mean is None else float(mean),
    )  # fmt: skip
