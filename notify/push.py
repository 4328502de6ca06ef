"""Knowledge-feed pushes: each due client's digest, chosen, written to the outbox (email) and
to their personal feed, and recorded so that no item reaches them twice."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from data import clients, database, engagement, store
from data.clients import Client
from data.config import Config
from data.outbox import Mail, enqueue
from notify.digest import Pick, is_due, may_send, pick, talk_line
from notify.email import SendReport, send_pending, templates
from notify.links import Links


@dataclass(frozen=True, slots=True)
class PushReport:
    sent_to: list[str] = field(default_factory=list)  # client ids that got a digest
    skipped: dict[str, str] = field(default_factory=dict)  # client id -> why not
    mail: SendReport = SendReport()

    def summary(self) -> str:
        return f"{len(self.sent_to)} digest(s) queued, {len(self.skipped)} client(s) skipped"


def feed_url(config: Config, client: Client) -> str:
    return f"{config.push.public_url}/feed/{client.token}"


def unsubscribe_url(config: Config, client: Client) -> str:
    return f"{config.push.public_url}/unsubscribe/{client.token}"


def next_digests(
    config: Config, db: duckdb.DuckDBPyConnection, now: datetime, only: list[str] | None = None
) -> dict[str, list[Pick]]:
    """Per client (all, or `only`): what their next digest would hold now. Reads only."""
    everyone = [c for c in clients.all_clients(db, {}) if only is None or c.id in only]
    articles = clients.candidate_articles(db, now - timedelta(days=config.push.max_age_days))
    by_id = {a["id"]: a for a in articles}
    from nlp.interests import InterestMatcher  # spaCy: only when there is something to match

    matches = InterestMatcher(everyone).match(articles) if everyone and articles else {}
    learned = engagement.all_weights(db)
    return {
        c.id: pick(
            c, matches.get(c.id, []), by_id, clients.delivered_ids(db, c.id),
            clients.curation(db, c.id), now, learned.get(c.id),
        )
        for c in everyone
    }  # fmt: skip


def recent_mail(db: duckdb.DuckDBPyConnection, client_id: str, now: datetime) -> list[datetime]:
    """What counts towards a client's cadence and cap: digests of the last fourteen days (a
    fortnightly cadence looks that far back) and every other mail they got."""
    since = now - timedelta(days=14)
    return sorted(clients.digests_since(db, client_id, since) + engagement.mails_since(
        db, client_id, since
    ))  # fmt: skip


def talk_lines(db: duckdb.DuckDBPyConnection, client: Client, now: datetime) -> list[str]:
    """The client's "how often others are talking" lines, if they want them."""
    if not client.others_talking:
        return []
    counts = engagement.people_talking(db, client.wanted, now - timedelta(days=7))
    return [talk_line(p, *counts[p]) for p in client.wanted]


def push_digests(
    config: Config, now: datetime | None = None, only: list[str] | None = None, force: bool = False
) -> PushReport:
    """Queue the digests that are due (or, forced, those of `only` now), then send mail.

    Forcing skips the cadence, never the client's status or weekly cap."""
    now = now or store.utcnow()
    sent_to, skipped = database.retry_conflicts(lambda: _queue_digests(config, now, only, force))
    report = send_pending(config, now) if sent_to else SendReport()
    return PushReport(sent_to, skipped, report)


def _queue_digests(
    config: Config, now: datetime, only: list[str] | None, force: bool
) -> tuple[list[str], dict[str, str]]:
    """Choose and queue the due digests in one transaction. Two workers doing so at once both
    claim the store's writes before writing: the second to commit runs this again, finds the
    digests delivered, and queues nothing twice."""
    sent_to, skipped = [], {}
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        unreadable: dict[str, str] = {}
        everyone = {c.id: c for c in clients.all_clients(db, unreadable)}
        skipped |= {cid: why for cid, why in unreadable.items() if only is None or cid in only}
        due = []
        for cid, c in everyone.items():
            if only is not None and cid not in only:
                continue
            sent = recent_mail(db, cid, now)
            ok, why = may_send(c, sent, now) if force else is_due(c, sent, now)
            if ok:
                due.append(cid)
            else:
                skipped[cid] = why
        if not due:
            return sent_to, skipped  # nothing to write
        digests = next_digests(config, db, now, due)
        database.claim_writes(db)
        secret = engagement.link_secret(db)
        mails = []
        for cid in due:
            picks = digests.get(cid, [])
            if not picks:
                skipped[cid] = "nothing relevant and new"
                continue
            client = everyone[cid]
            mail = render_digest(
                config, client, picks, clients.note(db, cid), now,
                secret=secret, talk=talk_lines(db, client, now),
            )  # fmt: skip
            mails.append(mail)
            # In the client's feed from now on; by email once the server accepts the mail
            # (the outbox adds the channel then).
            clients.record_delivery(
                db, cid, [p.article["id"] for p in picks], ["feed"], mail.id, now
            )
            clients.clear_curation(db, cid)
            sent_to.append(cid)
        enqueue(db, mails, now)
        db.commit()
    return sent_to, skipped


def render_digest(
    config: Config,
    client: Client,
    picks: list[Pick],
    note: str,
    now: datetime,
    *,
    secret: bytes,
    talk: Sequence[str] = (),
) -> Mail:
    """A client's digest. Every link to an item goes through the endpoint (a signed
    redirect, so clicks are counted), with "more / less like this" beside each item."""
    unsubscribe = unsubscribe_url(config, client)
    ids = "\x1f".join(p.article["id"] for p in picks)
    ident = hashlib.blake2b(f"digest\x1f{client.id}\x1f{ids}".encode(), digest_size=16).hexdigest()
    links = Links(config.push.public_url, secret, client)
    context = {
        "client": client,
        "picks": picks,
        "note": note,
        "feed_url": feed_url(config, client),
        "unsubscribe_url": unsubscribe,
        "links": links,
        "talk": list(talk),
        "open_url": links.opened(ident) if config.push.track_opens else None,
    }
    first = picks[0].article["title"] or "new reading"
    more = f" and {len(picks) - 1} more" if len(picks) > 1 else ""
    return Mail(
        id=ident,
        kind="client-digest",
        rule=None,
        recipients=(client.email,),
        subject=f"For you: {first[:80]}{more}",
        text_body=templates.get_template("digest.txt.j2").render(context),
        html_body=templates.get_template("digest.html.j2").render(context),
        not_before=now,
        headers={
            # RFC 8058 one-click unsubscribe: mail clients POST to the URL.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
