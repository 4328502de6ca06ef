"""Pure decisions about alerts: does a condition hold, should it fire now, when may it be
delivered. No I/O: every function takes plain values and returns plain values."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from data.config import AlertRule, Watch
from data.outbox import AlertState


@dataclass(frozen=True, slots=True)
class Condition:
    """Something a rule noticed, in words a person reads in a subject line."""

    rule: str
    key: str  # what it is about: the entity, the mention, the mention and stage
    subject: str
    reason: str
    recipients: tuple[str, ...]
    mentions: tuple[dict, ...] = field(default=())  # title, url, author, reach, sentiment, id


# Spike detection. Counts are kept per 5-minute step and a spike rule is evaluated every step,
# on its window (`window_hours`) ending now. Three questions, each robust to the term's own past
# spikes:
# 1. What is usual now? The same window at the same time of day (±30 minutes) over the last
#    seven days, or on the same weekday of past weeks when that is higher (weekly seasonality:
#    a busy Saturday is usual on Saturdays); each the mean of the middle half of its values,
#    so a past spike does not raise what is usual.
# 2. How far above usual does this term go on an ordinary day? Each past day's highest
#    excursion, the log-ratio of a window to what was usual for it, both offset by the term's
#    mean window count up to 100 (so a rise from 2 to 8 at night weighs less than from 20 to
#    80 by day). The usual daily peak is the level nine days in ten stay below (three in four when
#    eager); the window must exceed it. Real mention counts burst far beyond any Poisson or
#    negative binomial tail several times a month; this measures the bursts of this term.
#    A past spike moves one day of many: it does not mask the next.
# 3. Is it beyond chance at this count? A negative binomial whose dispersion is estimated from
#    the baseline (median absolute deviation of the log-ratios, less Poisson's share), so 6
#    mentions against 2 is not a spike by luck and thousands an hour are judged by their own
#    noise, not Poisson's.
STEP = timedelta(minutes=5)
_HOUR, _DAY, _WEEK = 12, 288, 2016  # in steps
_SMOOTH = (-6, 0, 6)  # the same time of past days, and 30 minutes either side
_DAILY_LAGS = 7
# Excursions are log-ratios offset by the term's mean window count, up to this many: beyond
# it Poisson noise (a tenth of it) is smaller than real mention counts' own, and a larger
# offset would only hide a night-time spike of a busy term.
_OFFSET_CAP = 100.0
_MIN_DAYS = 2  # days of history before the usual level is known
_MIN_PEAK_DAYS = 3  # days of excursions before the usual daily peak is known
EXPECTED_FLOOR = 0.1  # a term usually silent at this hour can still spike
MIN_DISPERSION = 0.01  # real counts are never more regular than 10 % at large volumes


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """How far a term must go before a spike rule speaks."""

    peak_quantile: float  # its usual daily peak: this quantile of past days' highest excursions
    beyond_peak: float  # the window must stand this many times higher than that excursion
    min_ratio: float  # and hold at least this many times the usual count
    p_value: float  # and be this unlikely under the negative binomial of its baseline


SENSITIVITIES = {
    "quiet": Sensitivity(peak_quantile=0.9, beyond_peak=1.5, min_ratio=2.0, p_value=1e-4),
    "normal": Sensitivity(peak_quantile=0.9, beyond_peak=1.0, min_ratio=1.5, p_value=1e-3),
    "eager": Sensitivity(peak_quantile=0.75, beyond_peak=1.0, min_ratio=1.25, p_value=1e-2),
}


@dataclass(frozen=True, slots=True)
class SpikeScores:
    """What a spike rule saw at each evaluated end: arrays, one entry per end."""

    observed: np.ndarray  # mentions in the window
    expected: np.ndarray  # the usual count for it (NaN: too little history)
    threshold: np.ndarray  # the count it had to exceed (NaN where not needed)
    p: np.ndarray  # negative binomial tail of observed (NaN where not needed)
    fires: np.ndarray  # bool
    weeks: np.ndarray  # past weeks that set the usual count (0: the past days did)
    days: np.ndarray  # past days it was taken over


def history_steps(rule: AlertRule) -> int:
    """How many steps of counts before now the decision reads: its baseline weeks, once for
    the usual level and once more for the past days' excursions, each with a window."""
    w = rule.window_hours * _HOUR
    return 2 * rule.baseline_weeks * _WEEK + 2 * w + max(_SMOOTH)


def sensitivity(rule: AlertRule) -> Sensitivity:
    s = SENSITIVITIES[rule.sensitivity]
    return s if rule.significance is None else replace(s, p_value=rule.significance)


def spike_scores(rule: AlertRule, counts: Sequence[int], ends: Sequence[int]) -> SpikeScores:
    """Evaluate a spike rule over per-step counts (oldest first; step 0 is the first one with
    data) at each end in `ends` (the window is counts[end - w:end]). An end reads only the
    `history_steps(rule)` steps before it, so the live evaluation (one end, that much history)
    and a backtest (every end of a long history) decide alike."""
    sens = sensitivity(rule)
    w = rule.window_hours * _HOUR
    days = rule.baseline_weeks * 7
    c = np.asarray(counts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    prefix = np.concatenate([[0], np.cumsum(c)])
    # Every position whose window, usual level and excursion some end reads.
    lo = max(int(ends.min()) - w - days * _DAY + 1, 1) if len(ends) else 1
    pos = np.arange(lo, int(ends.max()) + 1 if len(ends) else lo)
    level, week_n, day_n = _usual(prefix, pos, w, rule.baseline_weeks)
    obs_all = _window(prefix, pos, w)
    offset = np.clip(_mean_window(prefix, pos, w), 1.0, _OFFSET_CAP)
    excursion = np.log((obs_all + offset) / (level + offset))
    at = ends - lo  # index of each end in pos
    observed = obs_all[at]
    expected = level[at]
    n = len(ends)
    threshold = np.full(n, np.nan)
    p = np.full(n, np.nan)
    fires = np.zeros(n, dtype=bool)
    usual = np.maximum(expected, EXPECTED_FLOOR)
    candidates = np.flatnonzero(
        ~np.isnan(expected) & (observed >= rule.min_mentions) & (observed >= sens.min_ratio * usual)
    )
    if len(candidates):
        peak = _usual_peak(excursion, at[candidates], w, days, sens.peak_quantile)
        beyond = peak + math.log(sens.beyond_peak)
        off = offset[at[candidates]]
        threshold[candidates] = (expected[candidates] + off) * np.exp(beyond) - off
        for k in candidates[excursion[at[candidates]] > beyond]:
            # The usual count is itself estimated from a few past windows: at small counts
            # that uncertainty (a gamma of their total, as in a Bayesian Poisson) adds to
            # the baseline's own dispersion.
            windows = max(int(week_n[at[k]] or day_n[at[k]]), 1)
            dispersion = _dispersion(obs_all, level, at[k], w, days) + 1 / (windows * usual[k])
            p[k] = nb_tail(int(observed[k]), usual[k], dispersion)
            fires[k] = p[k] < sens.p_value
    return SpikeScores(
        observed.astype(np.int64), expected, threshold, p, fires, week_n[at], day_n[at]
    )


def _window(prefix: np.ndarray, pos: np.ndarray, w: int) -> np.ndarray:
    """Mentions in the window ending at each position (NaN before the data starts)."""
    ok = pos >= 1
    p = np.clip(pos, 0, len(prefix) - 1)
    out = (prefix[p] - prefix[np.maximum(p - w, 0)]).astype(float)
    return np.where(ok, out, np.nan)


def _mean_window(prefix: np.ndarray, pos: np.ndarray, w: int) -> np.ndarray:
    """The mean count of a window over the week before each position: a term's scale."""
    start = np.maximum(pos - _WEEK, 0)
    return (prefix[pos] - prefix[start]) / np.maximum(pos - start, 1) * w


def _usual(
    prefix: np.ndarray, pos: np.ndarray, w: int, weeks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The usual count of the window ending at each position: the past days at this time
    (±30 minutes), or this weekday in past weeks when that is higher."""
    day_lags = np.arange(1, _DAILY_LAGS + 1) * _DAY
    week_lags = np.arange(1, weeks + 1) * _WEEK
    daily, day_n = _lagged_midmean(prefix, pos, w, day_lags, _SMOOTH)
    weekly, week_n = _lagged_midmean(prefix, pos, w, week_lags, _SMOOTH)
    use_weeks = (week_n >= 2) & (weekly > daily)
    level = np.where(use_weeks, weekly, daily)
    level = np.where(day_n >= _MIN_DAYS, level, np.nan)
    return level, np.where(use_weeks, week_n, 0), day_n


def _lagged_midmean(
    prefix: np.ndarray, pos: np.ndarray, w: int, lags: np.ndarray, smooth: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the middle half of the windows `lags` before each position (±30 minutes):
    robust to a quarter of them spiking, and not biased low at small counts as a median is.
    With it, how many of the lags have data."""
    shifts = (lags[:, None] - np.asarray(smooth)[None, :]).ravel()
    rank = np.arange(len(shifts))[None, :]
    midmean = np.empty(len(pos))
    rows = max(1, 1_000_000 // len(shifts))  # a year of weekly lags stays small in memory
    for start in range(0, len(pos), rows):
        at = pos[start : start + rows]
        values = _window(prefix, at[:, None] - shifts[None, :], w)
        ordered = np.sort(values, axis=1)  # NaN (no data yet) last
        n = (~np.isnan(values)).sum(axis=1)
        cut = n[:, None] // 4
        middle = (rank >= cut) & (rank < n[:, None] - cut)
        total = np.where(middle, ordered, 0.0).sum(axis=1)
        midmean[start : start + rows] = np.where(
            n > 0, total / np.maximum(middle.sum(axis=1), 1), np.nan
        )
    centre = pos[:, None] - lags[None, :]
    return midmean, (centre >= 1).sum(axis=1)


def _usual_peak(
    excursion: np.ndarray, at: np.ndarray, w: int, days: int, quantile: float
) -> np.ndarray:
    """Per end: the quantile of the highest excursion of each past day, the days ending where
    the window starts (NaN with fewer than _MIN_PEAK_DAYS such days)."""
    day_ends = at[:, None] - w - np.arange(days)[None, :] * _DAY  # each day's last position
    needed, inverse = np.unique(day_ends.ravel(), return_inverse=True)
    peaks = np.full(len(needed), np.nan)
    block = np.arange(_DAY)
    rows = max(1, 2_000_000 // _DAY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day with no usual level yet: NaN
        for start in range(0, len(needed), rows):
            idx = needed[start : start + rows, None] - block[None, :]
            vals = np.where(idx >= 0, excursion[np.clip(idx, 0, None)], np.nan)
            peaks[start : start + rows] = np.nanmax(vals, axis=1)
        peaks = peaks[inverse].reshape(day_ends.shape)
        enough = (~np.isnan(peaks)).sum(axis=1) >= _MIN_PEAK_DAYS
        usual = np.nanquantile(peaks, quantile, axis=1)
    return np.where(enough, usual, np.nan)


def _dispersion(observed: np.ndarray, level: np.ndarray, at: int, w: int, days: int) -> float:
    """The negative binomial's alpha (variance = mu + alpha mu²) from the baseline's hours:
    the robust spread of their log-ratios to the usual level, less Poisson's share of it."""
    idx = at - w - np.arange(days * 24) * _HOUR
    idx = idx[idx >= 0]
    x, mu = observed[idx], level[idx]
    ok = ~np.isnan(x) & ~np.isnan(mu)
    if ok.sum() < _HOUR:
        return MIN_DISPERSION
    x, mu = x[ok], mu[ok]
    ratios = np.log((x + 1) / (mu + 1))
    spread = 1.4826 * float(np.median(np.abs(ratios - np.median(ratios))))
    return max(spread**2 - float(np.mean(1 / (mu + 1))), MIN_DISPERSION)


def nb_tail(k: int, mean: float, alpha: float) -> float:
    """P(X >= k) for X negative binomial with this mean and variance mean + alpha·mean²."""
    if k <= 0:
        return 1.0
    r = 1 / alpha
    return _beta_inc(k, r, mean / (mean + r))


def _beta_inc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (continued fraction, Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return h


def _window_words(hours: int) -> str:
    return "the last hour" if hours == 1 else f"the last {hours} hours"


def spike(
    rule: AlertRule, term: str, counts: Sequence[int], competitor: bool = False
) -> Condition | None:
    """Mentions of `term` in the window ending now (counts per step, the last ending now) are
    well above what is usual for this time, beyond the term's ordinary daily peaks."""
    if len(counts) == 0:
        return None
    scores = spike_scores(rule, counts, [len(counts)])
    return spike_condition(rule, term, scores, 0, competitor)


def spike_condition(
    rule: AlertRule, term: str, scores: SpikeScores, i: int, competitor: bool = False
) -> Condition | None:
    """The condition a spike rule reports for the i-th end of its scores, if that end fires."""
    if not scores.fires[i]:
        return None
    observed, expected = int(scores.observed[i]), float(scores.expected[i])
    what = "negative mentions" if rule.negative_only else "mentions"
    window = _window_words(rule.window_hours)
    times = observed / max(expected, EXPECTED_FLOOR)
    ratio = f"{times:.0f}×" if times >= 2 else f"{times:.1f}×"
    subject = f"{ratio} the usual {what} of {term} in {window}"
    if expected < 0.5:
        subject = f"{observed} {what} of {term} in {window}, usually fewer than one"
    if competitor:
        subject = f"Competitor: {subject}"
    weeks, days = int(scores.weeks[i]), int(scores.days[i])
    usual = (
        f"usually {expected:.1f} at this hour and weekday over {weeks} week(s)"
        if weeks
        else f"usually {expected:.1f} at this time of day over the last {days} day(s)"
    )
    return Condition(
        rule=rule.name,
        key=term,
        subject=subject,
        reason=(
            f"{observed} {what} in {window}; {usual}; {rule.sensitivity} sensitivity fires "
            f"above {scores.threshold[i]:.0f}, beyond {term}'s ordinary daily peaks "
            f"(p = {scores.p[i]:.2g})"
        ),
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


def _short(title: str | None, most: int = 60) -> str:
    """A mention's title as a subject names it: one line, at most `most` characters."""
    title = " ".join((title or "a mention").split())
    return title if len(title) <= most else title[: most - 1].rstrip() + "…"


def reminders(
    rule: AlertRule, assigned: Iterable, now: datetime, team: Iterable[str] = ()
) -> list[Condition]:
    """Assigned mentions still open after the SLA remind their assignee; after twice the SLA
    they escalate to the rule's escalation addresses. `team`: the people who sign in (lower
    case), if any: a mention assigned to someone no longer among them goes to the escalation
    addresses when the SLA is past, and never to that person, whose mailbox may be gone."""
    sla = timedelta(hours=rule.sla_hours)
    team = set(team)
    out = []
    for item in assigned:
        if rule.watch and not set(item.terms) & set(rule.watch):
            continue
        waited = now - item.assigned_at
        hours = waited.total_seconds() / 3600
        brief = {"id": item.mention_id, "title": item.title, "url": item.url}
        left = bool(team) and item.assignee.lower() not in team
        if left and waited >= sla and rule.escalate_to:
            out.append(
                Condition(
                    rule.name, f"{item.mention_id}:escalate",
                    f"Unattended: “{_short(item.title)}”, assigned to {item.assignee}, who is no "
                    f"longer on the team, is still open after {hours:.0f} hours",
                    f"assigned {hours:.0f} h ago to someone removed from the team; the SLA is "
                    f"{rule.sla_hours:g} h",
                    tuple(rule.escalate_to), (brief,),
                )
            )  # fmt: skip
        elif waited >= 2 * sla and rule.escalate_to:
            out.append(
                Condition(
                    rule.name, f"{item.mention_id}:escalate",
                    f"Escalation: “{_short(item.title)}”, assigned to {item.assignee}, is "
                    f"still open after {hours:.0f} hours",
                    f"assigned {hours:.0f} h ago; the SLA is {rule.sla_hours:g} h",
                    tuple(rule.escalate_to) + (item.assignee,), (brief,),
                )
            )  # fmt: skip
        elif waited >= sla:
            out.append(
                Condition(
                    rule.name, f"{item.mention_id}:remind",
                    f"Reminder: “{_short(item.title)}”, assigned to you {hours:.0f} hours ago, "
                    "is still open",
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
