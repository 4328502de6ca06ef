"""Pure decisions about client digests: is one due, and what goes in it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from data.clients import Client
from notify.rules import local_instant

if TYPE_CHECKING:
    from nlp.interests import Match

FRESH_HALF_LIFE_DAYS = 3.0
PER_SOURCE = 2  # at most this many items of one source in a digest
SLOT_GRACE = {
    "daily": timedelta(hours=12),
    "weekly": timedelta(hours=24),
    "fortnightly": timedelta(hours=24),
}
# A fortnightly client's digest goes on their weekday, when none went in this many days.
FORTNIGHT_GAP = timedelta(days=13)


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
    weekly = client.cadence in ("weekly", "fortnightly")
    if weekly:
        day -= timedelta(days=(local.weekday() - client.weekday) % 7)
    # Through local_instant: an hour the clocks show twice starts one slot, not two, and an
    # hour they skip starts when they jump.
    start = local_instant(day, time(client.hour), zone)
    if start > now:
        day -= timedelta(days=7 if weekly else 1)
        start = local_instant(day, time(client.hour), zone)
    return start.astimezone(now.tzinfo)


def may_send(client: Client, sent: Sequence[datetime], now: datetime) -> tuple[bool, str]:
    """Whether anything may go to the client at all: active, and under the weekly cap.
    `sent`: every mail the client got lately (digests, check-ins, offers, reminders)."""
    if client.status != "active":
        return False, f"the client is {client.status}"
    week = [t for t in sent if now - t < timedelta(days=7)]
    if len(week) >= client.max_emails_per_week:
        cap = client.max_emails_per_week
        return False, f"already {len(week)} mail(s) in the last 7 days (cap {cap})"
    return True, ""


def is_due(client: Client, sent: Sequence[datetime], now: datetime) -> tuple[bool, str]:
    """Whether a digest is due now, and why not. `sent`: digests of the last fourteen days
    (and the client's other mail, which counts towards the cap)."""
    allowed, why = may_send(client, sent, now)
    if not allowed:
        return False, why
    if client.cadence == "instant":
        return True, "instant"
    start = slot_start(client, now)
    if any(t >= start for t in sent):
        return False, "this slot's digest already went"
    if client.cadence == "fortnightly" and any(now - t < FORTNIGHT_GAP for t in sent):
        return False, "fortnightly: a digest went in the last two weeks"
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
    weights: Mapping[str, float] | None = None,
) -> list[Pick]:
    """The next digest: pinned items first, then the best by relevance × freshness, one item
    per story, at most two per source, never an item already delivered, at most `max_items`.
    `weights`: the client's learned weight per interest phrase (1 when not learned)."""
    weights = weights or {}
    picks = []
    for m in matches:
        a = articles.get(m.article_id)
        if a is None or m.article_id in delivered or curation.get(m.article_id) == "remove":
            continue
        if a["source"] in client.disliked_sources:
            continue
        age = max(0.0, (now - a["published"]).total_seconds() / 86400)
        relevance = sum(weights.get(p, 1.0) for p in m.matched)
        relevance += (0.5 if m.in_title else 0) + m.similarity
        score = relevance * 0.5 ** (age / FRESH_HALF_LIFE_DAYS)
        liked = a["source"] in client.liked_sources
        score *= 1.5 if liked else 1.0
        why = f"mentions {', '.join(m.matched)}" + (" in the title" if m.in_title else "")
        learned = [f"{p} ×{weights[p]:g}" for p in m.matched if weights.get(p, 1.0) != 1.0]
        why += f"; learned weight {', '.join(learned)}" if learned else ""
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


# --- the return path: what clients' clicks, feedback and answers change --------------------

WEIGHT_MIN, WEIGHT_MAX = 0.1, 3.0
# Added to each matched phrase's weight; "unclick" takes back a click found to be a machine's.
SIGNALS = {"click": 0.1, "unclick": -0.1, "more": 0.3, "less": -0.3}
SLOWER = {"instant": "daily", "daily": "weekly", "weekly": "fortnightly"}
FASTER = {v: k for k, v in SLOWER.items() if k != "instant"}


def learn(weights: Mapping[str, float], phrases: Sequence[str], signal: str) -> dict[str, float]:
    """The new weights of the phrases an item matched, after a click or a "more / less like
    this": a click nudges them up, feedback moves them more; kept within 0.1..3, so that one
    phrase never drowns the others nor vanishes (a person can still edit it)."""
    step = SIGNALS[signal]
    return {
        p: round(min(WEIGHT_MAX, max(WEIGHT_MIN, weights.get(p, 1.0) + step)), 3)
        for p in dict.fromkeys(x.lower() for x in phrases)
    }


def matched_phrases(client: Client, article: Mapping[str, str]) -> list[str]:
    """The client's interest phrases an article holds (lower case), as the ranking saw them:
    used where one item's phrases are needed without running the matcher (a click)."""

    def words(text: str) -> str:
        return " " + " ".join(re.findall(r"\w+", text.casefold())) + " "

    held = words(f"{article.get('title') or ''}\n{article.get('text') or ''}")
    return [p.lower() for p in client.wanted if words(p) in held]


@dataclass(frozen=True, slots=True)
class EngagementChange:
    client_id: str
    change: str  # slower | offer
    cadence: str  # the cadence it leads to
    reason: str


def engagement_change(
    client: Client, clicks_per_digest: Sequence[int], quiet_digests: int, busy_clicks: int
) -> EngagementChange | None:
    """What an engagement rule does for a client, from the clicks on each digest they got
    since their cadence last changed (oldest first): `quiet_digests` digests in a row without
    a click slow the cadence a step; a click in each of the last `quiet_digests` digests and
    `busy_clicks` clicks in them offer a faster one. Nothing for a client already at the
    slowest (or fastest) cadence, or not active."""
    if client.status != "active" or len(clicks_per_digest) < quiet_digests:
        return None
    last = list(clicks_per_digest[-quiet_digests:])
    if not any(last) and client.cadence in SLOWER:
        slower = SLOWER[client.cadence]
        return EngagementChange(
            client.id, "slower", slower,
            f"{quiet_digests} digests in a row without a click: {client.cadence} → {slower}",
        )  # fmt: skip
    if all(last) and sum(last) >= busy_clicks and client.cadence in FASTER:
        faster = FASTER[client.cadence]
        return EngagementChange(
            client.id, "offer", faster,
            f"{sum(last)} clicks in the last {quiet_digests} digests: offered {faster}",
        )  # fmt: skip
    return None


def satisfaction_reason(answer: int, previous: int | None, low: int, drop: int) -> str | None:
    """Why a check-in answer needs the account owner (on a 1-5 scale), or None."""
    if answer <= low:
        return f"answered {answer} of 5 (at or below {low})"
    if previous is not None and previous - answer >= drop:
        return f"answered {answer} of 5, down from {previous}"
    return None


def checkin_due(every_days: int, last: datetime | None, since: datetime, now: datetime) -> bool:
    """Whether a client's next check-in is due: every `every_days` days (never when 0), the
    first one `every_days` after they became a client (`since`)."""
    if every_days <= 0:
        return False
    return now - (last or since) >= timedelta(days=every_days)


def talk_line(phrase: str, people: int, positive: float | None) -> str:
    """One line of "how often others are talking" about an interest."""
    who = "1 person" if people == 1 else f"{people} people"
    line = f"This week {who} talked about {phrase}"
    if people and positive is not None:
        line += f", {round(positive * 100)} % of them positively"
    return line + "."


def next_occurrence(on: date, yearly: bool, today: date) -> date | None:
    """The next time a client's date comes (today counts); None when a one-off is past."""
    if not yearly:
        return on if on >= today else None
    for year in (today.year, today.year + 1):
        try:
            when = on.replace(year=year)
        except ValueError:  # 29 February in a common year: the 28th
            when = date(year, 2, 28)
        if when >= today:
            return when
    return None


def reminder_due(
    on: date, yearly: bool, days_ahead: int, reminded_for: date | None, today: date
) -> date | None:
    """The occurrence to remind of today, or None: within `days_ahead` days, once each."""
    when = next_occurrence(on, yearly, today)
    if when is None or when == reminded_for or (when - today).days > days_ahead:
        return None
    return when
