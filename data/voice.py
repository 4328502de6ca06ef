"""Share of voice over time: per watched entity and week, its part of all that was said about
the entities watched, and its net feeling. Computed from the daily rollups' counts (the
Overview's `per_day` read), so it costs no query of its own."""

from __future__ import annotations

import pandas as pd

# Watched terms get colours of their own, never the red, green and grey of the feelings: a red
# term would read as bad news. The Overview and the weekly report use the same ones.
TERM_COLOURS = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#393b79",
                "#e7ba52", "#7b4173", "#6b6ecf"]  # fmt: skip
FEELING_COLOURS = {"negative": "#d62728", "neutral": "#c7c7c7", "positive": "#2ca02c",
                   "not English": "#dadaeb"}  # fmt: skip


def term_colours(terms: list[str]) -> dict[str, str]:
    """One colour per term, by its place among the terms sorted."""
    return {t: TERM_COLOURS[i % len(TERM_COLOURS)] for i, t in enumerate(sorted(terms))}


COLUMNS = ["week", "term", "mentions", "share", "negative", "positive", "net_feeling"]


def weekly_share(daily: pd.DataFrame) -> pd.DataFrame:
    """`daily` has day, term, mentions, negative, positive (stories first seen that day about
    the term, as store.mentions_per_day gives them). One row per week (its Monday) and term:
    mentions, share of the week's mentions of all terms (0–1), and net feeling,
    (positive − negative) / mentions, from −1 (all negative) to +1 (all positive)."""
    if daily.empty:
        return pd.DataFrame(columns=COLUMNS)
    days = pd.to_datetime(daily["day"])
    week = (days - pd.to_timedelta(days.dt.weekday, unit="D")).dt.normalize()
    weekly = (
        daily.assign(week=week)
        .groupby(["week", "term"], as_index=False)[["mentions", "negative", "positive"]]
        .sum()
    )
    weekly = weekly[weekly["mentions"] > 0]
    totals = weekly.groupby("week")["mentions"].transform("sum")
    weekly["share"] = weekly["mentions"] / totals
    weekly["net_feeling"] = (weekly["positive"] - weekly["negative"]) / weekly["mentions"]
    return weekly[COLUMNS].sort_values(["week", "term"]).reset_index(drop=True)
