"""What a spike rule would have sent over a stretch of history: counts in, alerts out.

The decision is notify.rules' own (`spike_scores`, `spike_condition`, `to_fire`), taken at every
5-minute step as the live evaluation takes it, cool-down included; only the counts come from
elsewhere: a CSV of timestamp,count rows (any bin size) or the store's mentions."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np

from data import term_counts
from data.config import AlertRule, Watch
from data.errors import TidingsError
from data.outbox import AlertState
from notify import rules
from notify.rules import STEP


@dataclass(frozen=True, slots=True)
class StepCounts:
    """Mentions of one key per 5-minute step: per_step[i] in the step ending at
    first_end + i·STEP. `bin` is how far apart the source's own counts were, `source` where
    they came from (for errors)."""

    key: str
    first_end: datetime
    per_step: np.ndarray
    bin: timedelta = STEP
    source: str = ""

    @property
    def last_end(self) -> datetime:
        return self.first_end + (len(self.per_step) - 1) * STEP


@dataclass(frozen=True, slots=True)
class BacktestAlert:
    """An alert the rule would have sent."""

    rule: str
    at: datetime
    key: str
    observed: int
    expected: float
    reason: str

    def as_json(self) -> dict:
        return {
            "at": self.at.isoformat(), "key": self.key, "observed": self.observed,
            "expected": round(self.expected, 2), "reason": self.reason, "rule": self.rule,
        }  # fmt: skip


def backtest(
    rule: AlertRule, series: Sequence[StepCounts], since: datetime | None = None
) -> list[BacktestAlert]:
    """Every alert `rule` would have sent, evaluated at the end of each step from `since` (else
    from the first step) to the last, with its cool-down, as `notify.alerts.evaluate` does."""
    if not series:
        return []
    window = timedelta(hours=rule.window_hours)
    origin = series[0].first_end
    for s in series:
        if s.bin > window:
            raise TidingsError(
                f"{s.source or s.key}: counts are {_duration(s.bin)} apart, longer than rule "
                f"{rule.name}'s {rule.window_hours}-hour window: use a rule with window_hours "
                "of at least that"
            )
        if (s.first_end - origin) % STEP:
            raise ValueError("backtest: every series must share one 5-minute grid")
    competitor = rule.kind == "competitor"
    # tick (steps after origin's step) -> key -> (condition, observed, expected)
    firing: dict[int, dict[str, tuple[rules.Condition, int, float]]] = {}
    last_tick = 0
    for s in series:
        offset = (s.first_end - origin) // STEP  # this series' step 0 on the common grid
        n = len(s.per_step)
        first = 1 if since is None else max(1, _ceil_steps(since - s.first_end) + 1)
        ends = np.arange(first, n + 1)
        last_tick = max(last_tick, offset + n - 1)
        if not len(ends):
            continue
        scores = rules.spike_scores(rule, s.per_step, ends)
        for i in np.flatnonzero(scores.fires):
            c = rules.spike_condition(rule, s.key, scores, int(i), competitor)
            at = firing.setdefault(offset + int(ends[i]) - 1, {})
            at[s.key] = (c, int(scores.observed[i]), float(scores.expected[i]))
    return replay(rule, [s.key for s in series], firing, origin, last_tick)


def replay(
    rule: AlertRule,
    keys: Sequence[str],
    firing: Mapping[int, Mapping[str, tuple[rules.Condition, int, float]]],
    origin: datetime,
    last_tick: int,
) -> list[BacktestAlert]:
    """The alerts sent when the conditions in `firing` (tick -> key -> condition, observed,
    expected; tick t is the evaluation at origin + t·STEP) meet the rule's cool-down at every
    step up to `last_tick`, as `rules.to_fire` decides live."""
    states: dict[tuple[str, str], AlertState] = {}
    out = []
    for tick in range(min(firing, default=last_tick + 1), last_tick + 1):
        seen = firing.get(tick, {})
        if not seen and not any(st.active for st in states.values()):
            continue
        now = origin + tick * STEP
        fired, updates = rules.to_fire(rule, [c for c, _, _ in seen.values()], states, now, keys)
        for st in updates:
            states[(st.rule, st.key)] = st
        for c in fired:
            _, observed, expected = seen[c.key]
            out.append(BacktestAlert(rule.name, now, c.key, observed, expected, c.reason))
    return out


def _ceil_steps(d: timedelta) -> int:
    return -(-d // STEP)


def _duration(d: timedelta) -> str:
    minutes = d / timedelta(minutes=1)
    if minutes < 60:
        return f"{minutes:g} minutes"
    hours = minutes / 60
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def store_series(
    db: duckdb.DuckDBPyConnection,
    rule: AlertRule,
    watch: Sequence[Watch],
    now: datetime,
    since: timedelta,
) -> list[StepCounts]:
    """The counts of a rule's entities over `since` before now, with the history its first
    evaluation reads, on the 5-minute grid that ends now."""
    steps = rules.history_steps(rule) + _ceil_steps(since)
    terms = rules.entities(rule, watch)
    counts = term_counts.step_counts(db, terms, now, steps, STEP, rule.negative_only)
    return [
        StepCounts(term, now - (len(per_step) - 1) * STEP, per_step)
        for term, per_step in counts.items()
        if len(per_step)
    ]


MAX_COUNT = 2**53  # mentions in one row of a counts file
MAX_SPAN = timedelta(days=365 * 20)  # first to last row: 2.1 M steps of 5 minutes


def csv_series(text: str, name: str, key: str) -> StepCounts:
    """Rows of timestamp,count (a header line is allowed; any bin size, any order) as counts
    per 5-minute step. A row's count is known when its bin ends, one bin after its timestamp.
    Bad input is a TidingsError naming the file and line."""
    rows: list[tuple[datetime, int]] = []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise TidingsError(f"{name}:{line}: expected timestamp,count; got {','.join(row)!r}")
        when, count = row[0].strip(), row[1].strip()
        at = _timestamp(when)
        if at is None:
            if not rows and line == 1:
                continue  # a header
            raise TidingsError(
                f"{name}:{line}: {when!r} is not a timestamp (e.g. 2025-03-01T14:05)"
            )
        try:
            number = float(count)
        except ValueError:
            number = -1.0
        # NaN, inf and counts beyond 2^53 (no float holds them exactly; the sums are int64)
        if not 0 <= number <= MAX_COUNT or number != int(number):
            raise TidingsError(f"{name}:{line}: {count!r} is not a count of mentions")
        rows.append((at, int(number)))
    if not rows:
        raise TidingsError(f"{name}: no timestamp,count rows")
    rows.sort()
    times = [t for t, _ in rows]
    # Counts are held per 5-minute step: a row dated in year 1 or 9999 would ask for
    # gigabytes (and overflow the calendar), whatever the bin.
    if times[-1] - times[0] > MAX_SPAN:
        raise TidingsError(
            f"{name}: rows span {(times[-1] - times[0]).days} days; a backtest reads at most "
            f"{MAX_SPAN.days // 365} years"
        )
    gaps = Counter(b - a for a, b in zip(times, times[1:], strict=False) if b > a)
    bin_ = gaps.most_common(1)[0][0] if gaps else STEP
    try:
        first_end = times[0] + bin_
        times[-1] + bin_ + STEP  # noqa: B018 (whether the last bin's end is a date)
    except OverflowError:
        raise TidingsError(f"{name}: timestamps reach the end of the calendar") from None
    index = np.array([_ceil_steps(t + bin_ - first_end) for t in times])
    per_step = np.zeros(int(index[-1]) + 1, dtype=np.int64)
    np.add.at(per_step, index, [n for _, n in rows])
    return StepCounts(key, first_end, per_step, bin_, name)


def _timestamp(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def parse_since(text: str) -> timedelta:
    """A look-back such as 90d, 12h or 2w."""
    units = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise TidingsError(f"--since: {text!r} is not a duration (e.g. 90d, 12h, 2w)")
    if int(number) * units[unit].total_seconds() > 100 * 365 * 86400:
        raise TidingsError(f"--since: {text!r} is longer than 100 years")
    return int(number) * units[unit]


def spike_rules(rules_in_effect: Sequence[AlertRule], name: str | None) -> list[AlertRule]:
    """The spike rules a backtest runs: the one named, else every enabled spike rule."""
    spiky = [r for r in rules_in_effect if r.kind in ("spike", "competitor")]
    if name is None:
        return [r for r in spiky if r.enabled]
    rule = next((r for r in rules_in_effect if r.name == name), None)
    if rule is None:
        known = ", ".join(r.name for r in spiky) or "none"
        raise TidingsError(f"--rule: no alert rule named {name!r} (spike rules: {known})")
    if rule not in spiky:
        raise TidingsError(f"--rule: {name!r} is a {rule.kind} rule; only spike rules backtest")
    return [rule]


DEFAULT_RULE = AlertRule.model_construct(name="spike", kind="spike")  # every setting default
