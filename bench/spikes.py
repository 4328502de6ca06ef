"""Spike alerts: anomalies caught, delay, and false alarms per term-week, for the spike rule
(quiet / normal / eager) beside the Poisson rule Tidings had before issue 19 and a plain
"last hour above the 7-day mean + 3σ" rule. Every detector is replayed every 5 minutes with
the same state machine and 6-hour cool-down (notify.backtest.replay, i.e. rules.to_fire); the
spike rule through `notify.backtest.backtest`, the code `tidings alerts backtest` runs.

Series: generated ones with spikes of known size injected, and, when a copy of the Numenta
Anomaly Benchmark is at hand (--nab DIR: a checkout or a git directory; MIT licence), its
realTweets (Twitter mention volumes of ten companies, 5-minute counts, labelled anomaly
windows), read at bench time and never committed. Writes its section of bench/RESULTS.md.

    .venv/bin/python -m bench.spikes [--nab DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.results import RESULTS, machine, write_section
from data.config import AlertRule
from notify import backtest, rules
from notify.rules import STEP, Condition

ROOT = Path(__file__).resolve().parent.parent
NAB_CANDIDATES = [os.environ.get("NAB_DIR", ""), "/work/.mirror/numenta+NAB/repo"]
HOUR, DAY, WEEK = 12, 288, 2016  # in 5-minute steps
ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
RULE = AlertRule.model_construct(name="spike", kind="spike")  # default settings: 1 h, 6 h cool-down
SENSITIVITIES = ("quiet", "normal", "eager")
LINES: list[str] = []


def report(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


# --- detectors: per-step counts in, alerts out -----------------------------------------------


def ours(sensitivity: str) -> Callable[[backtest.StepCounts], list[backtest.BacktestAlert]]:
    rule = RULE.model_copy(update={"sensitivity": sensitivity})
    return lambda s: backtest.backtest(rule, [s])


def _replay(s: backtest.StepCounts, fires: np.ndarray, observed, expected):
    """Alerts of a baseline detector that fires at these ends (end e: after step e - 1)."""
    firing = {
        int(e) - 1: {s.key: (Condition("baseline", s.key, "", "", ()), int(o), float(x))}
        for e, o, x in zip(np.flatnonzero(fires) + 1, observed[fires], expected[fires], strict=True)
    }
    return backtest.replay(RULE, [s.key], firing, s.first_end, len(s.per_step) - 1)


def _windows(c: np.ndarray, w: int = HOUR) -> np.ndarray:
    """Mentions in the window ending after each step (index e - 1 for end e)."""
    prefix = np.concatenate([[0], np.cumsum(c)])
    ends = np.arange(1, len(c) + 1)
    return (prefix[ends] - prefix[np.maximum(ends - w, 0)]).astype(float)


def _poisson_tail(k: int, lam: float) -> float:
    """P(X >= k), X ~ Poisson(lam): the test of Tidings' spike rule before issue 19."""
    if k <= 0:
        return 1.0
    term = math.exp(-lam)
    below = term
    for i in range(1, k):
        term *= lam / i
        below += term
    return max(0.0, 1.0 - below)


def poisson_rule(s: backtest.StepCounts) -> list[backtest.BacktestAlert]:
    """Before issue 19: the last hour against the mean of the same hour of the 4 weeks before
    (weeks before the data left out; expected at least 0.1), Poisson p < 0.001, at least 5.
    As shipped: its tail underflows to 1 above about 745 expected, where it never fired."""
    x = _windows(s.per_step)
    n = len(x)
    lagged = np.full((n, 4), np.nan)
    for k in range(1, 5):
        lagged[k * WEEK :, k - 1] = x[: n - k * WEEK]
    have = (~np.isnan(lagged)).sum(axis=1)
    expected = np.where(have > 0, np.nansum(lagged, axis=1) / np.maximum(have, 1), 0.0)
    expected = np.maximum(expected, 0.1)
    maybe = (x >= 5) & (x > expected + 3 * np.sqrt(expected))  # p < 0.001 needs at least this
    fires = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(maybe):
        fires[i] = _poisson_tail(int(x[i]), float(expected[i])) < 0.001
    return _replay(s, fires, x, expected)


def sigma_rule(s: backtest.StepCounts) -> list[backtest.BacktestAlert]:
    """The last hour above the mean + 3σ of every hour-long window of the 7 days before."""
    x = _windows(s.per_step)
    n = len(x)
    p1 = np.concatenate([[0.0], np.cumsum(x)])
    p2 = np.concatenate([[0.0], np.cumsum(x * x)])
    i = np.arange(n)
    lo = np.maximum(i - WEEK, 0)
    m = np.maximum(i - lo, 1)
    mean = (p1[i] - p1[lo]) / m
    sd = np.sqrt(np.maximum((p2[i] - p2[lo]) / m - mean**2, 0))
    fires = (i - lo >= 2 * HOUR) & (x > mean + 3 * sd)
    return _replay(s, fires, x, mean)


DETECTORS: dict[str, Callable] = {
    "Poisson rule (before)": poisson_rule,
    "7-day mean + 3σ": sigma_rule,
    **{f"Tidings {s}": ours(s) for s in SENSITIVITIES},
}


# --- generated series ------------------------------------------------------------------------

DAYTIME = np.array([1, 1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 2, 2, 1.0])


@dataclass(frozen=True)
class Kind:
    name: str
    per_hour: float
    dispersion: float = 0.0  # negative binomial alpha of each hour's rate
    daily: bool = True
    weekend: float = 1.0  # weekends this many times busier


KINDS = [
    Kind("3 a day", 3 / 24, daily=False),
    Kind("2 an hour", 2),
    Kind("40 an hour, quiet weekends", 40, 0.05, weekend=0.4),
    Kind("200 an hour, bursty, busy weekends", 200, 0.3, weekend=2.0),
    Kind("2,000 an hour", 2000, 0.05),
]
SIZES = (2, 3, 5, 10)  # spike: this many times the usual rate (at least 2 an hour usual)
SEEDS = range(4)
GEN_DAYS, GEN_WARM = 56, 14


@dataclass(frozen=True)
class Spike:
    start: datetime
    end: datetime
    size: int


def generated(kind: Kind, seed: int) -> tuple[backtest.StepCounts, list[Spike]]:
    rng = np.random.default_rng(1000 * seed + KINDS.index(kind))
    hours = np.arange(GEN_DAYS * 24)
    shape = DAYTIME / DAYTIME.mean() if kind.daily else np.ones(24)
    rate = kind.per_hour * shape[hours % 24] * np.where((hours // 24) % 7 >= 5, kind.weekend, 1)
    noisy = (
        rate * rng.gamma(1 / kind.dispersion, kind.dispersion, len(rate))
        if kind.dispersion
        else rate
    )
    step_rate = np.repeat(noisy / HOUR, HOUR)
    spikes, extra = [], np.zeros_like(step_rate)
    starts = sorted(rng.choice(np.arange(GEN_WARM + 1, GEN_DAYS - 1, 2), len(SIZES), replace=False))
    for size, day in zip(rng.permutation(SIZES), starts, strict=True):
        first = int(day * DAY + rng.integers(0, DAY))
        length = int(rng.integers(1, 4)) * HOUR
        usual = np.maximum(np.repeat(rate / HOUR, HOUR)[first : first + length], 2 / HOUR)
        extra[first : first + length] += (size - 1) * usual
        spikes.append(Spike(ORIGIN + first * STEP, ORIGIN + (first + length) * STEP, int(size)))
    counts = rng.poisson(step_rate + extra)
    return backtest.StepCounts(f"{kind.name} #{seed}", ORIGIN + STEP, counts), spikes


def generated_eval() -> None:
    series = {(k, seed): generated(k, seed) for k in KINDS for seed in SEEDS}
    term_weeks = len(series) * (GEN_DAYS - GEN_WARM) / 7
    report(
        f"### Generated series ({len(series)} terms × {GEN_DAYS - GEN_WARM} days after "
        f"{GEN_WARM} days of history = {term_weeks:.0f} term-weeks; one spike each of "
        f"{', '.join(f'×{s}' for s in SIZES)} the usual rate per term, 1–3 hours long)"
    )
    report()
    report(
        "| detector | caught ×2 | ×3 | ×5 | ×10 | all | median delay | false alarms / term-week |"
    )
    report("| --- | --- | --- | --- | --- | --- | --- | --- |")
    by_kind: dict[str, dict[str, float]] = {}
    for name, detect in DETECTORS.items():
        caught = {s: 0 for s in SIZES}
        delays, false = [], {k.name: 0 for k in KINDS}
        for (kind, _), (s, spikes) in series.items():
            alerts = [a.at for a in detect(s) if a.at >= ORIGIN + timedelta(days=GEN_WARM)]
            for sp in spikes:
                hits = [t for t in alerts if sp.start <= t <= sp.end + timedelta(hours=1)]
                if hits:
                    caught[sp.size] += 1
                    delays.append((min(hits) - sp.start) / timedelta(minutes=1))
            false[kind.name] += sum(
                not any(sp.start <= t <= sp.end + timedelta(hours=1) for sp in spikes)
                for t in alerts
            )
        n = len(series)
        delay = f"{statistics.median(delays):.0f} min" if delays else "—"
        report(
            f"| {name} | " + " | ".join(f"{caught[s]}/{n}" for s in SIZES)
            + f" | {sum(caught.values()) / (n * len(SIZES)):.0%} | {delay} | "
            f"{sum(false.values()) / term_weeks:.2f} |"
        )  # fmt: skip
        per_kind_weeks = len(SEEDS) * (GEN_DAYS - GEN_WARM) / 7
        by_kind[name] = {k: v / per_kind_weeks for k, v in false.items()}
    report()
    report("False alarms per term-week by kind of term (outside the injected spikes):")
    report()
    report("| detector | " + " | ".join(k.name for k in KINDS) + " |")
    report("| --- | " + " | ".join("---" for _ in KINDS) + " |")
    for name, per in by_kind.items():
        report(f"| {name} | " + " | ".join(f"{per[k.name]:.2f}" for k in KINDS) + " |")
    report()


# --- NAB realTweets --------------------------------------------------------------------------

NAB_WARM = 7  # days: the first week is history, as the measurement


def _nab_reader(where: str) -> Callable[[str], str] | None:
    if not where:
        return None
    path = Path(where)
    if (path / "labels" / "combined_windows.json").exists():
        return lambda rel: (path / rel).read_text(encoding="utf-8")
    if (path / "HEAD").exists() or (path / ".git").exists():
        git = ["git", "--git-dir", str(path if (path / "HEAD").exists() else path / ".git")]

        def read(rel: str) -> str:
            return subprocess.run(
                [*git, "show", f"HEAD:{rel}"], capture_output=True, text=True, check=True
            ).stdout

        try:
            read("labels/combined_windows.json")
        except subprocess.CalledProcessError:
            return None
        return read
    return None


def nab_eval(where: str | None) -> None:
    read = next(
        (r for r in (_nab_reader(w) for w in ([where] if where else NAB_CANDIDATES)) if r), None
    )
    if read is None:
        report("### NAB realTweets")
        report()
        report("Not measured: no copy of the Numenta Anomaly Benchmark given (--nab DIR).")
        report()
        return
    windows = json.loads(read("labels/combined_windows.json"))
    labels = json.loads(read("labels/combined_labels.json"))
    names = sorted(k for k in windows if k.startswith("realTweets/"))
    series = []
    for name in names:
        stem = name.split("_")[-1].removesuffix(".csv")
        s = backtest.csv_series(read(f"data/{name}"), name, stem)
        series.append((s, windows[name], labels[name]))
    term_weeks = sum(
        (len(s.per_step) * STEP - timedelta(days=NAB_WARM)) / timedelta(weeks=1)
        for s, _, _ in series
    )
    counted = sum(1 for s, wins, _ in series for a, _ in wins if _utc(a) >= _start(s))
    report(
        f"### NAB realTweets ({len(series)} companies' Twitter volumes, 5-minute counts, "
        f"{term_weeks:.1f} term-weeks after a week of history; {counted} labelled anomaly "
        "windows begin after it)"
    )
    report()
    report(
        "An alert inside a labelled window catches it; one outside every window is a false "
        "alarm; the first week of each series is history only (alerts and windows in it are "
        "not counted), as in the issue's measurement."
    )
    report()
    report("| detector | anomalies caught | median delay after the labelled point | false alarms / term-week | per company (caught/windows, false) |")  # fmt: skip
    report("| --- | --- | --- | --- | --- |")
    for name, detect in DETECTORS.items():
        caught = total = false = 0
        delays, per = [], []
        for s, wins, points in series:
            start = _start(s)
            alerts = [a.at for a in detect(s) if a.at >= start]
            spans = [(_utc(a), _utc(b)) for a, b in wins if _utc(a) >= start]
            hit = [any(a <= t <= b for t in alerts) for a, b in spans]
            fa = sum(not any(a <= t <= b for a, b in spans) for t in alerts)
            for a, b in spans:
                inside = [t for t in alerts if a <= t <= b]
                point = next((_utc(p) for p in points if a <= _utc(p) <= b), a + (b - a) / 2)
                if inside:
                    delays.append((min(inside) - point) / timedelta(hours=1))
            caught += sum(hit)
            total += len(spans)
            false += fa
            per.append(f"{s.key} {sum(hit)}/{len(spans)}, {fa}")
        delay = f"{statistics.median(delays):+.1f} h" if delays else "—"
        report(
            f"| {name} | {caught}/{total} ({caught / total:.0%}) | {delay} | "
            f"{false / term_weeks:.2f} | {'; '.join(per)} |"
        )
    report()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _start(s: backtest.StepCounts) -> datetime:
    return s.first_end - s.bin + timedelta(days=NAB_WARM)


# --- RESULTS.md ------------------------------------------------------------------------------


def write_results(seconds: float) -> None:
    """Replace this bench's section of bench/RESULTS.md (other benches keep theirs)."""
    s = {k: rules.SENSITIVITIES[k] for k in SENSITIVITIES}
    section = "\n".join([
        "## Spike alerts (`bench/spikes.py`)",
        "",
        f"Measured {datetime.now().date()} on {machine()} in {seconds:.0f} s. Every detector "
        "is replayed every 5 minutes on a 1-hour window with the same 6-hour cool-down "
        "(`notify.backtest.replay`); Tidings' rule through `notify.backtest.backtest`, the code "
        "`tidings alerts backtest` runs. Sensitivities (usual daily peak quantile, × beyond it, "
        "minimum ratio, p-value): "
        + "; ".join(
            f"{k} {v.peak_quantile:g}, ×{v.beyond_peak:g}, ×{v.min_ratio:g}, {v.p_value:g}"
            for k, v in s.items()
        )
        + ". They were chosen on these generated series and on realTweets, so the realTweets "
        "figures are not independent of that choice; issue 19's held-out series are measured "
        "outside the repository.",
        "",
        *LINES,
    ])  # fmt: skip
    write_section("spikes", section)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nab", help="a NAB checkout or git directory (default: $NAB_DIR)")
    ap.add_argument("--no-write", action="store_true", help=f"print only, leave {RESULTS.name}")
    args = ap.parse_args()
    began = time.perf_counter()
    generated_eval()
    nab_eval(args.nab)
    if not args.no_write:
        write_results(time.perf_counter() - began)


if __name__ == "__main__":
    main()
