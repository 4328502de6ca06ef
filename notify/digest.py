"""Pure decisions about client digests: is one due, and what goes in it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from data.clients import Client
from nlp.interests import Match
from notify.rules import local_instant

FRESH_HALF_LIFE_DAYS = 3.0
PER_SOURCE = 2  # at most this many items of one source in a digest
SLOT_GRACE = {"daily": timedelta(hours=12), "weekly": timedelta(hours=24)}


@dataclass(frozen=True, slots=True)
class Pick:
    article: dict
    score: float
    why: str  # in words, for the curation page
    pinned: bool = False


def slot_start(client: Client, now: datetime) -> datetime:
    """The start of the client's current delivery slot (their local hour; weekday if weekly)."""
    zone = ZoneInfo(client.timezone)
    local = now.astimezone(zone)
    day = local.date()
    if client.cadence == "weekly":
        day -= timedelta(days=(local.weekday() - client.weekday) % 7)
    # Through local_instant: an hour the clocks show twice starts one slot, not two, and an
    # hour they skip starts when they jump.
    start = local_instant(day, time(client.hour), zone)
    if start > now:
        day -= timedelta(days=7 if client.cadence == "weekly" else 1)
        start = local_instant(day, time(client.hour), zone)
    return start.astimezone(now.tzinfo)


def may_send(client: Client, sent: Sequence[datetime], now: datetime) -> tuple[bool, str]:
    """Whether anything may go to the client at all: active, and under the weekly cap."""
    if client.status != "active":
        return False, f"the client is {client.status}"
    week = [t for t in sent if now - t < timedelta(days=7)]
    if len(week) >= client.max_emails_per_week:
        cap = client.max_emails_per_week
        return False, f"already {len(week)} digest(s) in the last 7 days (cap {cap})"
    return True, ""


def is_due(client: Client, sent: Sequence[datetime], now: datetime) -> tuple[bool, str]:
    """Whether a digest is due now, and why not. `sent`: digests of the last seven days."""
    allowed, why = may_send(client, sent, now)
    if not allowed:
        return False, why
    if client.cadence == "instant":
        return True, "instant"
    start = slot_start(client, now)
    if any(t >= start for t in sent):
        return False, "this slot's digest already went"
    # A slot missed by more than this (the service was down, the client is new) waits for the
    # next one rather than arriving at an odd hour.
    if now - start >= SLOT_GRACE[client.cadence]:
        return False, f"waiting for the next {client.cadence} slot"
    return True, f"{client.cadence} slot since {start:%a %H:%M} UTC"


def fingerprint(title: str) -> str:
    """A headline reduced to its words, so that syndicated copies compare equal."""
    return "title:" + " ".join(re.findall(r"\w+", title.casefold())[:8])


def pick(
    client: Client,
    matches: Sequence[Match],
    articles: Mapping[str, dict],
    delivered: set[str],
    curation: Mapping[str, str],
    now: datetime,
) -> list[Pick]:
    """The next digest: pinned items first, then the best by relevance × freshness, one item
    per story, at most two per source, never an item already delivered, at most `max_items`."""
    picks = []
    for m in matches:
        a = articles.get(m.article_id)
        if a is None or m.article_id in delivered or curation.get(m.article_id) == "remove":
            continue
        if a["source"] in client.disliked_sources:
            continue
        age = max(0.0, (now - a["published"]).total_seconds() / 86400)
        relevance = len(m.matched) + (0.5 if m.in_title else 0) + m.similarity
        score = relevance * 0.5 ** (age / FRESH_HALF_LIFE_DAYS)
        liked = a["source"] in client.liked_sources
        score *= 1.5 if liked else 1.0
        why = f"mentions {', '.join(m.matched)}" + (" in the title" if m.in_title else "")
        why += f"; {age:.1f} days old" + ("; a source they like" if liked else "")
        picks.append(Pick(a, round(score, 4), why))
    pinned = [
        Pick(articles[i], float("inf"), "pinned by you", True)
        for i, action in curation.items()
        if action == "pin" and i in articles and i not in delivered
    ]
    pinned_ids = {p.article["id"] for p in pinned}
    ranked = pinned + sorted(
        (p for p in picks if p.article["id"] not in pinned_ids), key=lambda p: -p.score
    )
    # One item per story: the same link, or the same headline syndicated elsewhere, and
    # nothing that repeats a story the client already received.
    stories = {fingerprint(articles[i]["title"]) for i in delivered if i in articles}
    chosen, per_source = [], {}
    for p in ranked:
        keys = {p.article.get("story_key") or p.article["id"], fingerprint(p.article["title"])}
        src = p.article["source"]
        if not p.pinned and (keys & stories or per_source.get(src, 0) >= PER_SOURCE):
            continue
        chosen.append(p)
        stories |= keys
        per_source[src] = per_source.get(src, 0) + 1
        if len(chosen) >= client.max_items:
            break
    return chosen
