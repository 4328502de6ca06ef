"""Pure decisions about alerts: does a condition hold, should it fire now, when may it be
delivered. No I/O: every function takes plain values and returns plain values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from data.config import AlertRule, Watch
from data.outbox import AlertState

BASELINE_FLOOR = 0.1  # expected count never taken below this: a quiet term can still spike


@dataclass(frozen=True, slots=True)
class Condition:
    """Something a rule noticed, in words a person reads in a subject line."""

    rule: str
    key: str  # what it is about: the entity, the mention, the mention and stage
    subject: str
    reason: str
    recipients: tuple[str, ...]
    mentions: tuple[dict, ...] = field(default=())  # title, url, author, reach, sentiment, id


def poisson_tail(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for i in range(1, k):
        term *= lam / i
        below += term
    return max(0.0, 1.0 - below)


def _window_words(hours: int) -> str:
    return "the last hour" if hours == 1 else f"the last {hours} hours"


def spike(
    rule: AlertRule, term: str, observed: int, baseline: Sequence[int], competitor: bool = False
) -> Condition | None:
    """Mentions of `term` in the window are well above the same window of past weeks."""
    expected = max(sum(baseline) / len(baseline), BASELINE_FLOOR) if baseline else BASELINE_FLOOR
    p = poisson_tail(observed, expected)
    if observed < rule.min_mentions or p >= rule.significance:
        return None
    what = "negative mentions" if rule.negative_only else "mentions"
    times = observed / expected
    ratio = f"{times:.0f}×" if times >= 2 else f"{times:.1f}×"
    subject = f"{ratio} the usual {what} of {term} in {_window_words(rule.window_hours)}"
    if competitor:
        subject = f"Competitor: {subject}"
    usual = (
        f"usually {expected:.1f} at this hour and weekday over {len(baseline)} week(s)"
        if baseline
        else "no history yet for this hour and weekday"
    )
    return Condition(
        rule=rule.name,
        key=term,
        subject=subject,
        reason=f"{observed} {what} in {_window_words(rule.window_hours)}; {usual} (p = {p:.2g})",
        recipients=tuple(rule.recipients),
    )


def matches(
    rule: AlertRule, mention: Mapping, ours: set[str], competitors: set[str]
) -> Condition | None:
    """A single mention a rule cares about (match and competitor-comparison rules)."""
    terms = set(mention["terms"])
    if rule.watch and not terms & set(rule.watch):
        return None
    if rule.kind == "competitor":
        if not (terms & ours and terms & competitors):
            return None
        subject = f"Compared with a competitor: {', '.join(sorted(terms))} in one mention"
        reason = (
            f"names {', '.join(sorted(terms & ours))} and {', '.join(sorted(terms & competitors))}"
        )
    else:
        text = f"{mention['title']}\n{mention['text']}".casefold()
        found = [t for t in rule.any_terms if t.casefold() in text]
        if rule.any_terms and not found:
            return None
        if rule.sentiment and mention["sentiment_label"] != rule.sentiment:
            return None
        present = mention.get("intents")  # a list, or a numpy array from a DataFrame row
        wanted = [i for i in rule.intents if present is not None and i in list(present)]
        if rule.intents and not wanted:
            return None
        reach = mention.get("reach")
        if rule.min_reach is not None and (reach is None or reach < rule.min_reach):
            return None
        parts = [
            f"“{found[0]}”" if found else "",
            mention["sentiment_label"] if rule.sentiment else "",
            wanted[0].replace("_", " ") if wanted else "",
        ]
        who = mention.get("author") or "someone"
        by = f" by {who}" + (f" (reach {int(reach):,})" if reach is not None else "")
        subject = " ".join(p for p in parts if p) + f" mention of {', '.join(sorted(terms))}{by}"
        subject = subject[0].upper() + subject[1:]
        why = []
        if rule.any_terms:
            why.append(f"contains {', '.join(repr(t) for t in found)}")
        if rule.sentiment:
            why.append(f"sentiment is {rule.sentiment}")
        if rule.intents:
            why.append(f"intent is {', '.join(wanted)}")
        if rule.min_reach is not None:
            why.append(f"author's reach is at least {rule.min_reach:,}")
        reason = "; ".join(why)
    return Condition(
        rule=rule.name,
        key=str(mention["id"]),
        subject=subject,
        reason=reason,
        recipients=tuple(rule.recipients),
        mentions=(_brief(mention),),
    )


def reminders(rule: AlertRule, assigned: Iterable, now: datetime) -> list[Condition]:
    """Assigned mentions still open after the SLA remind their assignee; after twice the SLA
    they escalate to the rule's escalation addresses."""
    sla = timedelta(hours=rule.sla_hours)
    out = []
    for item in assigned:
        if rule.watch and not set(item.terms) & set(rule.watch):
            continue
        waited = now - item.assigned_at
        hours = waited.total_seconds() / 3600
        brief = {"id": item.mention_id, "title": item.title, "url": item.url}
        if waited >= 2 * sla and rule.escalate_to:
            out.append(
                Condition(
                    rule.name, f"{item.mention_id}:escalate",
                    f"Escalation: a mention assigned to {item.assignee} is still open "
                    f"after {hours:.0f} hours",
                    f"assigned {hours:.0f} h ago; the SLA is {rule.sla_hours:g} h",
                    tuple(rule.escalate_to) + (item.assignee,), (brief,),
                )
            )  # fmt: skip
        elif waited >= sla:
            out.append(
                Condition(
                    rule.name, f"{item.mention_id}:remind",
                    f"Reminder: a mention assigned to you {hours:.0f} hours ago is still open",
                    f"assigned {hours:.0f} h ago; the SLA is {rule.sla_hours:g} h",
                    (item.assignee,), (brief,),
                )
            )  # fmt: skip
    return out


def to_fire(
    rule: AlertRule,
    conditions: Sequence[Condition],
    states: Mapping[tuple[str, str], AlertState],
    now: datetime,
    keys_checked: Iterable[str] = (),
) -> tuple[list[Condition], list[AlertState]]:
    """Which conditions fire now, and the alert states to store.

    A condition fires when it was not already active and its cool-down since the last firing
    has passed; it stays active, and silent, until a later evaluation no longer sees it.
    `keys_checked` are the keys that were evaluated (for spikes, every entity), so that the
    ones no longer seen are cleared.
    """
    cooldown = timedelta(hours=rule.cooldown_hours)
    firing, updates = [], []
    seen = {c.key for c in conditions}
    for c in conditions:
        state = states.get((rule.name, c.key))
        if state and state.active:
            continue
        if state and state.last_fired_at and now - state.last_fired_at < cooldown:
            continue
        firing.append(c)
        updates.append(AlertState(rule.name, c.key, True, now, None))
    for key in keys_checked:
        state = states.get((rule.name, key))
        if key not in seen and state and state.active:
            updates.append(AlertState(rule.name, key, False, state.last_fired_at, now))
    return firing, updates


def hold_until(rule: AlertRule, now: datetime) -> datetime:
    """When a mail from this rule may go: now, or the end of the quiet hours it falls in."""
    if not rule.quiet_hours:
        return now
    zone = ZoneInfo(rule.timezone)
    start, end = (time.fromisoformat(part) for part in rule.quiet_hours.split("-"))
    local = now.astimezone(zone)
    t = local.time()
    quiet = start <= t < end if start < end else (t >= start or t < end)
    if not quiet:
        return now
    # They end when the clock next reads `end`: today if it has not yet, else tomorrow.
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return local_instant(day, end, zone, not_before=now).astimezone(now.tzinfo)


def local_instant(
    day: date, at: time, zone: ZoneInfo, not_before: datetime | None = None
) -> datetime:
    """The moment clocks in `zone` read `at` on `day`.

    When summer time ends that time shows twice: the first time, or the second if the first
    is before `not_before`. When summer time begins it may never show: then the moment the
    clocks jump past it.
    """
    wall = datetime.combine(day, at)
    first, second = (wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    if first == second:
        return first.astimezone(zone)
    if first < second:  # shown twice
        later = not_before is not None and first < not_before
        return (second if later else first).astimezone(zone)
    # Skipped: fold=0 reads it with the offset before the change (`first`, after the jump)
    # and fold=1 with the one after (`second`, before it). Find the jump between them.
    lo, hi = second, first
    offset = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(microseconds=1):
        mid = lo + (hi - lo) / 2
        lo, hi = (mid, hi) if mid.astimezone(zone).utcoffset() == offset else (lo, mid)
    return hi.astimezone(zone)


def digest_due(rule: AlertRule, last_digest: datetime | None, now: datetime) -> bool:
    period = timedelta(hours=1 if rule.delivery == "hourly" else 24)
    return last_digest is None or now - last_digest >= period


def entities(rule: AlertRule, watch: Sequence[Watch]) -> list[str]:
    """The entities a spike rule watches: its own list, else ours (or competitors')."""
    if rule.watch:
        return list(rule.watch)
    want_competitors = rule.kind == "competitor"
    return [w.name for w in watch if (w.kind == "competitor") == want_competitors]


def _brief(mention: Mapping) -> dict:
    keys = ("id", "title", "url", "author", "reach", "sentiment_label", "source")
    out = {k: mention.get(k) for k in keys}
    if out.get("reach") is not None:
        out["reach"] = int(out["reach"])
    return out
