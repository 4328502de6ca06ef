"""Overview: how often people talk about each watched term, how they feel, and where."""

import altair as alt
import streamlit as st

from dashboard import reachability, reads
from data.store import MentionFilter

st.title("Overview")
unreachable = reachability.warn_if_nothing_reached()
left, right = st.columns([1, 1])
with left:
    since, until = reads.period_picker()
with right:
    kinds = st.multiselect("Kinds of source", reads.choices()[2], placeholder="all kinds")
f = MentionFilter(since=since, until=until, kinds=tuple(kinds))
daily = reads.per_day(f)

if daily.empty:
    st.info(
        "No mentions in this period yet."
        if unreachable
        else "No mentions in this period yet. Run a pass with `tidings run` (or `make demo` "
        "for recorded data), and check the Sources page if one stays empty."
    )
    st.stop()

per_term = daily.groupby("term", as_index=False).agg(
    mentions=("mentions", "sum"), negative=("negative", "sum"), positive=("positive", "sum")
)
counts = reads.summary(f)
total = counts["mentions"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Mentions", f"{total:,}")
c2.metric("Positive", f"{counts['positive'] / total:.0%}")
c3.metric("Negative", f"{counts['negative'] / total:.0%}")
busiest = daily.groupby("day")["mentions"].sum()  # per term: a mention of two counts twice
c4.metric("Busiest day", f"{busiest.idxmax():%d %b}", help=f"{int(busiest.max())} mentions")

st.subheader("Mentions per day")
st.altair_chart(
    alt.Chart(daily)
    .mark_bar()
    .encode(
        x=alt.X("day:T", title=None),
        y=alt.Y("sum(mentions):Q", title="mentions"),
        color=alt.Color("term:N", title="watched term"),
        tooltip=["day:T", "term:N", "mentions:Q"],
    ),
    width="stretch",
)

left, right = st.columns(2)
with left:
    st.subheader("How people feel")
    st.caption("Mentions per day by feeling, all watched terms together.")
    feeling = (
        daily.assign(
            neutral=daily["mentions"] - daily["negative"] - daily["positive"] - daily["unscored"]
        )
        .rename(columns={"unscored": "not English"})
        .groupby("day", as_index=False)[["negative", "neutral", "positive", "not English"]]
        .sum()
        .melt(id_vars="day", var_name="feeling", value_name="mentions")
    )
    st.altair_chart(
        alt.Chart(feeling)
        .mark_area()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("mentions:Q", stack=True, title="mentions"),
            color=alt.Color(
                "feeling:N",
                scale=alt.Scale(
                    domain=["negative", "neutral", "positive", "not English"],
                    range=["#d62728", "#bbbbbb", "#2ca02c", "#9ecae1"],
                ),
            ),
            tooltip=["day:T", "feeling:N", "mentions:Q"],
        ),
        width="stretch",
    )
with right:
    st.subheader("Share of voice")
    st.caption("Mentions of each watched term in the period.")
    st.altair_chart(
        alt.Chart(per_term)
        .mark_arc(innerRadius=50)
        .encode(
            theta="mentions:Q",
            color=alt.Color("term:N", title="watched term"),
            tooltip=["term:N", "mentions:Q", "negative:Q", "positive:Q"],
        ),
        width="stretch",
    )

left, right = st.columns(2)
top = reads.sources_ranked(f)
with left:
    st.subheader("Where people talk")
    st.caption("Mentions by kind of source.")
    st.altair_chart(
        alt.Chart(top)
        .mark_bar()
        .encode(
            x=alt.X("sum(mentions):Q", title="mentions"),
            y=alt.Y("kind:N", title=None, sort="-x"),
            color=alt.Color("kind:N", legend=None),
            tooltip=["kind:N", alt.Tooltip("sum(mentions):Q", title="mentions")],
        ),
        width="stretch",
    )
right.subheader("Top sources")
top = top.head(10)
right.dataframe(
    top,
    hide_index=True,
    width="stretch",
    column_config={
        "source": "Source",
        "kind": "Kind",
        "mentions": st.column_config.ProgressColumn(
            "Mentions", format="%d", min_value=0, max_value=int(top["mentions"].max())
        ),
        "sentiment": st.column_config.NumberColumn("Mean sentiment", format="%.2f"),
    },
)
