"""Looking after each client between digests: the engagement and satisfaction rules (what
they notice, what they change), periodic check-ins, and reminders of the dates that matter.

What is decided is decided by pure functions in notify/digest.py; this module reads the store,
applies those decisions and queues mail. Every mail to a client passes the same weekly cap as
their digests (`may_send` over all they were sent lately)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from data import clients, database, engagement, store
from data.clients import Client
from data.config import AlertRule, Config
from data.engagement import Checkin
from data.outbox import Mail, enqueue
from notify import digest
from notify.email import SendReport, dashboard_url, send_pending, templates
from notify.links import Links
from notify.push import recent_mail, unsubscribe_url
from notify.returns import SCALES
from notify.rules import Condition

SATISFACTION_LOOKBACK = timedelta(days=30)  # answers older than this no longer fire


def _ident(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _owners(rule: AlertRule, client: Client) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*([client.owner] if client.owner else []), *rule.recipients]))


# --- engagement ----------------------------------------------------------------------------


def engagement_conditions(
    rule: AlertRule, db: duckdb.DuckDBPyConnection, now: datetime
) -> list[Condition]:
    """What an engagement rule notices now: per client, a cadence to slow or more to offer,
    counted over the digests they got since their cadence last changed (or they were last
    offered more). Each condition's key names its client, change, cadence and the digest it
    was seen on, so that it fires once."""
    out = []
    # A stored client that cannot be read is left out here (`tidings push` names it).
    for client in clients.all_clients(db, {}):
        since = max(
            (t for t in (engagement.last_cadence_change(db, client.id),
                         engagement.last_mail(db, client.id, "offer")) if t),
            default=None,
        )  # fmt: skip
        got = engagement.digest_clicks(
            db, client.id, since + timedelta(seconds=1) if since else None
        )
        change = digest.engagement_change(
            client, [d.clicks for d in got], rule.quiet_digests, rule.busy_clicks
        )
        if change is None:
            continue
        if change.change == "slower":
            subject = f"{client.name} reads none of their digests: now {change.cadence}"
        else:
            subject = f"{client.name} clicks a lot: offered {change.cadence} digests"
        out.append(
            Condition(
                rule.name, f"{client.id}|{change.change}|{change.cadence}|{got[-1].digest_id}",
                subject, change.reason + " (undo on the Clients page)", _owners(rule, client),
            )
        )  # fmt: skip
    return out


def apply_engagement(
    config: Config, db: duckdb.DuckDBPyConnection, firing: list[Condition], now: datetime
) -> list[Mail]:
    """Make the changes of firing engagement conditions: a slower cadence (logged, undoable),
    then a check-in instead of the next digest; or an offer of more to the client. Returns the
    mails for the clients (each within their cap)."""
    everyone = {c.id: c for c in clients.all_clients(db, {})}
    secret = engagement.link_secret(db)
    mails = []
    for c in firing:
        cid, change, cadence, _ = c.key.split("|")
        client = everyone.get(cid)
        if client is None:
            continue
        if change == "slower":
            reason = c.reason.removesuffix(" (undo on the Clients page)")
            if engagement.change_cadence(db, cid, cadence, reason, c.rule, now):
                mails += checkin_mails(config, db, client, secret, now, force=True)
        elif change == "offer" and _may_mail(db, client, now):
            mail = render_offer(config, client, cadence, secret, now)
            engagement.record_client_mail(db, cid, mail.id, "offer", now)
            mails.append(mail)
    return mails


def _may_mail(db: duckdb.DuckDBPyConnection, client: Client, now: datetime) -> bool:
    return digest.may_send(client, recent_mail(db, client.id, now), now)[0]


def render_offer(
    config: Config, client: Client, cadence: str, secret: bytes, now: datetime
) -> Mail:
    links = Links(config.push.public_url, secret, client)
    context = {"client": client, "cadence": cadence, "offer_url": links.offer(),
               "unsubscribe_url": unsubscribe_url(config, client)}  # fmt: skip
    return Mail(
        id=_ident("offer", client.id, now.isoformat()),
        kind="client-offer",
        rule=None,
        recipients=(client.email,),
        subject=f"Your reading list {cadence}?",
        text_body=templates.get_template("offer.txt.j2").render(context),
        html_body=templates.get_template("offer.html.j2").render(context),
        not_before=now,
        headers=_unsubscribe_headers(config, client),
    )


def _unsubscribe_headers(config: Config, client: Client) -> dict[str, str]:
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(config, client)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# --- satisfaction --------------------------------------------------------------------------


def satisfaction_conditions(
    rule: AlertRule, db: duckdb.DuckDBPyConnection, now: datetime
) -> list[Condition]:
    """Check-in answers that are low, or well below the client's previous answer."""
    everyone = {c.id: c for c in clients.all_clients(db, {})}
    out = []
    for answered in engagement.answered_since(db, now - SATISFACTION_LOOKBACK):
        client = everyone.get(answered.client_id)
        if client is None or answered.answer is None:
            continue
        previous = engagement.previous_answer(db, answered)
        why = digest.satisfaction_reason(answered.answer, previous, rule.low_answer, rule.drop)
        if why is None:
            continue
        said = f"; they wrote: “{answered.comment}”" if answered.comment else ""
        out.append(
            Condition(
                rule.name, f"{answered.id}:{answered.answer}",
                f"{client.name} is less satisfied: {why}",
                f"“{answered.question}” {why}{said}", _owners(rule, client),
            )
        )  # fmt: skip
    return out


# --- check-ins -----------------------------------------------------------------------------


def render_checkin(config: Config, client: Client, ask: Checkin, secret: bytes) -> Mail:
    links = Links(config.push.public_url, secret, client)
    options = [(label, links.checkin(ask.id, value)) for value, label in SCALES[ask.scale]]
    context = {"client": client, "question": ask.question, "options": options,
               "unsubscribe_url": unsubscribe_url(config, client)}  # fmt: skip
    return Mail(
        id=ask.id,
        kind="client-checkin",
        rule=None,
        recipients=(client.email,),
        subject=ask.question,
        text_body=templates.get_template("checkin.txt.j2").render(context),
        html_body=templates.get_template("checkin.html.j2").render(context),
        not_before=ask.sent_at,
        headers=_unsubscribe_headers(config, client),
    )


def checkin_mails(
    config: Config,
    db: duckdb.DuckDBPyConnection,
    client: Client,
    secret: bytes,
    now: datetime,
    force: bool = False,
) -> list[Mail]:
    """A check-in for the client if one is due (or `force`d: their cadence just slowed), they
    got a digest before, and their cap allows another mail."""
    if client.status != "active" or not _may_mail(db, client, now):
        return []
    got = engagement.digest_clicks(db, client.id)
    if not got:
        return []
    every = config.checkins.every_days
    if not force and not digest.checkin_due(
        every, engagement.last_checkin_at(db, client.id), got[0].sent_at, now
    ):
        return []
    ask = Checkin(
        _ident("checkin", client.id, now.isoformat()), client.id, config.checkins.question,
        config.checkins.scale, now,
    )  # fmt: skip
    engagement.add_checkin(db, ask)
    mail = render_checkin(config, client, ask, secret)
    engagement.record_client_mail(db, client.id, mail.id, "checkin", now)
    return [mail]


# --- dates that matter ---------------------------------------------------------------------


def reminder_mails(
    config: Config, db: duckdb.DuckDBPyConnection, everyone: dict[str, Client], now: datetime
) -> list[Mail]:
    """Reminders of clients' dates coming within their `days_ahead`: to the account owner,
    and to the client if chosen (within their cap). Each occurrence once."""
    today = now.date()
    mails = []
    for d in engagement.dates(db):
        client = everyone.get(d.client_id)
        when = digest.reminder_due(d.on_date, d.yearly, d.days_ahead, d.reminded_for, today)
        if client is None or when is None:
            continue
        days = (when - today).days
        coming = (
            "today" if days == 0 else f"in {days} day{'s' if days > 1 else ''} ({when:%a %d %b})"
        )
        note = f": {d.note}" if d.note else ""
        context = {"client": client, "kind": d.kind, "when": when, "coming": coming,
                   "note": d.note, "dashboard": dashboard_url(config)}  # fmt: skip
        if client.owner:
            mails.append(
                Mail(
                    id=_ident("date", d.id, when.isoformat(), "owner"),
                    kind="reminder", rule=None, recipients=(client.owner,),
                    subject=f"{client.name}: {d.kind} {coming}{note}"[:200],
                    text_body=templates.get_template("client_date.txt.j2").render(
                        context, to_owner=True),
                    html_body=templates.get_template("client_date.html.j2").render(
                        context, to_owner=True),
                    not_before=now,
                )
            )  # fmt: skip
        if d.tell_client and client.status == "active" and _may_mail(db, client, now):
            mail = Mail(
                id=_ident("date", d.id, when.isoformat(), "client"),
                kind="client-reminder", rule=None, recipients=(client.email,),
                subject=f"A reminder: your {d.kind} {coming}",
                text_body=templates.get_template("client_date.txt.j2").render(
                    context, to_owner=False),
                html_body=templates.get_template("client_date.html.j2").render(
                    context, to_owner=False),
                not_before=now, headers=_unsubscribe_headers(config, client),
            )  # fmt: skip
            engagement.record_client_mail(db, client.id, mail.id, "reminder", now)
            mails.append(mail)
        engagement.mark_reminded(db, d.id, when)
    return mails


@dataclass(frozen=True, slots=True)
class CareReport:
    checkins: list[str] = field(default_factory=list)  # client ids asked
    reminders: int = 0
    mail: SendReport = SendReport()

    def summary(self) -> str:
        return f"{len(self.checkins)} check-in(s), {self.reminders} date reminder(s) queued"


def run_care(config: Config, now: datetime | None = None, send: bool = True) -> CareReport:
    """Queue the check-ins and date reminders that are due, then send mail."""
    now = now or store.utcnow()

    def queue() -> tuple[list[str], list[Mail], list[Mail]]:
        # Run again when another worker's queuing conflicts (data.outbox.enqueue).
        with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
            db.begin()
            everyone = {c.id: c for c in clients.all_clients(db, {})}
            secret = engagement.link_secret(db)
            asked, mails = [], []
            for client in everyone.values():
                got = checkin_mails(config, db, client, secret, now)
                asked += [client.id] if got else []
                mails += got
            reminders = reminder_mails(config, db, everyone, now)
            enqueue(db, mails + reminders, now)
            db.commit()
        return asked, mails, reminders

    asked, mails, reminders = database.retry_conflicts(queue)
    sent = send_pending(config, now) if send and (mails or reminders) else SendReport()
    return CareReport(asked, len(reminders), sent)
