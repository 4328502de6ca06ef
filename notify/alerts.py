"""Evaluate the alert rules against the store and queue what fires: instant mails at once,
digests when due; quiet hours hold a mail in the outbox until they end."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import duckdb

from data import alert_rules, database, inbox, outbox, store, term_counts, users
from data.config import AlertRule, Config
from data.outbox import AlertState, Mail
from notify import care, rules
from notify.email import SendReport, render, send_pending
from notify.rules import Condition

CHECKED = "__checked__"  # alert_state key: when a per-mention rule last looked
FRESH = timedelta(hours=24)  # per-mention rules ignore mentions published longer ago


@dataclass(frozen=True, slots=True)
class AlertReport:
    fired: list[Condition] = field(default_factory=list)
    queued: int = 0
    sent: SendReport = SendReport()

    def summary(self) -> str:
        return (
            f"{len(self.fired)} alert(s) fired, {self.queued} mail(s) queued; sent "
            f"{self.sent.sent}, retrying {self.sent.retrying}, failed {self.sent.failed}"
        )


def evaluate(
    config: Config, db: duckdb.DuckDBPyConnection, now: datetime
) -> tuple[list[tuple[AlertRule, list[Condition]]], list[AlertState]]:
    """What fires now under each enabled rule, and the alert states to store. Reads only."""
    states = outbox.alert_states(db)
    ours = {w.name for w in config.watch if w.kind != "competitor"}
    competitors = {w.name for w in config.watch if w.kind == "competitor"}
    fired, updates = [], []
    assigned = None
    for rule in alert_rules.in_effect(config, db):
        if not rule.enabled:
            continue
        conditions: list[Condition] = []
        checked: list[str] = []
        if rule.kind in ("spike", "competitor"):
            terms = rules.entities(rule, config.watch)
            counts = term_counts.step_counts(
                db, terms, now, rules.history_steps(rule), rules.STEP, rule.negative_only
            )
            for term, history in counts.items():
                c = rules.spike(rule, term, history, rule.kind == "competitor")
                if c:  # the mail shows the mentions behind it, each linked to the dashboard
                    since = now - timedelta(hours=rule.window_hours)
                    found = term_counts.examples(db, term, since, now, rule.negative_only)
                    conditions.append(replace(c, mentions=tuple(found)))
            checked = terms
        if rule.kind in ("match", "competitor"):
            last = states.get((rule.name, CHECKED))
            since = (last and last.last_fired_at) or now - timedelta(hours=rule.window_hours)
            # Only what is recent news: a first pass that collects a week of history must not
            # send a week of alerts.
            fresh = now - max(timedelta(hours=rule.window_hours), FRESH)
            for row in store.recent_mentions(db, since).to_dict("records"):
                m = _known(row)
                if m["published"].replace(tzinfo=UTC) < fresh:
                    continue
                c = rules.matches(rule, m, ours, competitors)
                conditions += [c] if c else []
            updates.append(AlertState(rule.name, CHECKED, False, now, None))
        if rule.kind == "reminder":
            assigned = inbox.open_assigned(db) if assigned is None else assigned
            team = users.everyone(db)
            if not rule.escalate_to:  # a rule naming no lead escalates to the team's admins
                leads = [u.email for u in team if u.role == "admin"]
                rule = rule.model_copy(update={"escalate_to": leads}) if leads else rule
            conditions = rules.reminders(rule, assigned, now, [u.email.lower() for u in team])
        if rule.kind == "engagement":
            conditions = care.engagement_conditions(rule, db, now)
        if rule.kind == "satisfaction":
            conditions = care.satisfaction_conditions(rule, db, now)
        firing, changed = rules.to_fire(rule, conditions, states, now, checked)
        fired.append((rule, firing))
        updates += changed
    return fired, updates


def run_alerts(config: Config, now: datetime | None = None, send: bool = True) -> AlertReport:
    """Evaluate, queue and (unless told not to) send. One transaction for the bookkeeping."""
    now = now or store.utcnow()
    fired, queued = database.retry_conflicts(lambda: _queue_alerts(config, now))
    sent = send_pending(config, now) if send else SendReport()
    return AlertReport([c for _, cs in fired for c in cs], queued, sent)


def _queue_alerts(
    config: Config, now: datetime
) -> tuple[list[tuple[AlertRule, list[Condition]]], int]:
    """Evaluate and queue in one transaction. Two workers doing so at once both claim the
    store's writes before writing: the second to commit runs this again, on the first's alert
    states and mail, and queues nothing twice."""
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        fired, updates = evaluate(config, db, now)
        database.claim_writes(db)
        mails: list[Mail] = []
        for rule, conditions in fired:
            if rule.kind == "engagement":  # a cadence slowed, an offer made: before any mail
                mails += care.apply_engagement(config, db, conditions, now)
            # The account owner is told; a client without one, under a rule without
            # recipients, changes all the same (the Clients page shows it).
            conditions = [c for c in conditions if c.recipients or rule.notify]
            hold = rules.hold_until(rule, now)
            if rule.delivery == "instant" or rule.kind == "reminder":
                mails += [
                    copy
                    for c in conditions
                    for copy in outbox.with_outlets(
                        render(config, "reminder" if rule.kind == "reminder" else "alert",
                               rule.name, c.subject, [c], c.recipients, hold, now),
                        rule.notify,
                    )
                ]  # fmt: skip
                continue
            outbox.add_events(
                db,
                [(f"{c.rule}/{c.key}/{now.isoformat()}", c.rule, c.subject, _payload(c))
                 for c in conditions],
                now,
            )  # fmt: skip
            mails += _digest(config, db, rule, now, hold)
        outbox.save_alert_states(db, updates)
        queued = outbox.enqueue(db, mails, now)
        db.commit()
    return fired, queued


def _digest(
    config: Config, db: duckdb.DuckDBPyConnection, rule: AlertRule, now: datetime, hold: datetime
) -> list[Mail]:
    if not rules.digest_due(rule, outbox.last_digest_at(db, rule.name), now):
        return []
    events = outbox.unmailed_events(db, rule.name)
    if not events:
        return []
    conditions = [Condition(**payload) for _, _, payload in events]
    every = "Hourly" if rule.delivery == "hourly" else "Daily"
    subject = f"{every} digest: {len(conditions)} alert(s) from {rule.name}"
    mail = render(config, "digest", rule.name, subject, conditions, rule.recipients, hold, now)
    outbox.mark_events_mailed(db, [i for i, _, _ in events], mail.id)
    return outbox.with_outlets(mail, rule.notify)


def _known(row: dict) -> dict:
    """A mention row from a DataFrame with its missing values as None: pandas gives NaN for a
    missing author or reach, which would read "by nan" in a subject."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def _payload(c: Condition) -> dict:
    return {
        "rule": c.rule, "key": c.key, "subject": c.subject, "reason": c.reason,
        "recipients": list(c.recipients), "mentions": list(c.mentions),
    }  # fmt: skip


def dry_run(config: Config, now: datetime | None = None) -> list[tuple[AlertRule, list[Condition]]]:
    """What would fire now, and why, without storing or sending anything."""
    now = now or store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        fired, _ = evaluate(config, db, now)
    return fired
