"""Overview: how often people talk about each watched term, how they feel, and where."""

from datetime import date

import altair as alt
import streamlit as st

from dashboard import downloads, reachability, reads
from data import voice
from data.store import MentionFilter
from notify import report

st.title("Overview")
unreachable = reachability.warn_if_nothing_reached()
left, right = st.columns([1, 1])
with left:
    since, until = reads.period_picker()
with right:
    kinds = st.multiselect("Kinds of source", reads.choices()[2], placeholder="all kinds")
f = MentionFilter(since=since, until=until, kinds=tuple(kinds))
st.download_button(
    "⬇ Weekly report (PDF)",
    data=lambda: report.pdf(report.build(reads.config())),  # made when clicked
    file_name=f"tidings-weekly-report-{date.today():%Y-%m-%d}.pdf",
    mime="application/pdf",
    on_click="ignore",
    help="The last 7 days as the weekly mail tells them: volume and feeling, share of voice, "
    "top mentions, complaints and clients, on three pages to forward.",
)
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
days = (until - since).days + 1
c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Mentions",
    f"{total:,}",
    help=f"Stories about a watched term first seen in these {days} days: a post with its "
    "cross-posts and near copies counts once, on the day of the first. The Mentions page lists "
    "every post; articles kept only for client digests are not mentions.",
)
c2.metric("Positive", f"{counts['positive'] / total:.0%}", help="Of the mentions counted left.")
c3.metric("Negative", f"{counts['negative'] / total:.0%}", help="Of the mentions counted left.")
busiest = daily.groupby("day")["mentions"].sum()  # per term: a mention of two counts twice
c4.metric("Busiest day", f"{busiest.idxmax():%d %b}", help=f"{int(busiest.max())} mentions")

# One term keeps one colour on every chart (and in the weekly report), never a feeling's.
colours = voice.term_colours(list(per_term["term"]))
term_colour = alt.Scale(domain=list(colours), range=list(colours.values()))
FEELINGS = list(voice.FEELING_COLOURS)
FEELING_COLOURS = list(voice.FEELING_COLOURS.values())

st.subheader("Mentions per day")
st.caption("Each watched term a mention names counts it once.")
st.altair_chart(
    alt.Chart(daily)
    .mark_bar()
    .encode(
        x=alt.X("day:T", title=None),
        y=alt.Y("sum(mentions):Q", title="mentions"),
        color=alt.Color("term:N", title="watched term", scale=term_colour),
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
        .groupby("day", as_index=False)[FEELINGS]
        .sum()
        .melt(id_vars="day", var_name="feeling", value_name="mentions")
    )
    st.altair_chart(
        alt.Chart(feeling)
        .mark_area()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("mentions:Q", stack=True, title="mentions"),
            color=alt.Color("feeling:N", scale=alt.Scale(domain=FEELINGS, range=FEELING_COLOURS)),
            order=alt.Order("feeling_order:Q"),
            tooltip=["day:T", "feeling:N", "mentions:Q"],
        )
        .transform_calculate(
            feeling_order=f"indexof({FEELINGS!r}, datum.feeling)".replace("'", '"')
        ),
        width="stretch",
    )
with right:
    st.subheader("Share of voice")
    st.caption("Mentions of each watched term in the period, and its share.")
    shares = per_term.assign(
        share=per_term["mentions"] / per_term["mentions"].sum(),
    )
    shares["label"] = [f"{n:,} ({p:.0%})" for n, p in zip(shares["mentions"], shares["share"],
                                                          strict=True)]  # fmt: skip
    pie = alt.Chart(shares).encode(
        theta=alt.Theta("mentions:Q", stack=True),
        order=alt.Order("term:N"),
        color=alt.Color("term:N", title="watched term", scale=term_colour),
        tooltip=["term:N", "mentions:Q", alt.Tooltip("share:Q", format=".0%"), "negative:Q",
                 "positive:Q"],
    )  # fmt: skip
    st.altair_chart(
        pie.mark_arc(innerRadius=45, outerRadius=100)
        + pie.mark_text(radius=125, size=12).encode(text="label:N", color=alt.value("#333")),
        width="stretch",
    )

st.subheader("Share of voice over time")
st.caption(
    "Per week (from its Monday): each watched term's part of the mentions of all terms, and its "
    "net feeling, (positive − negative) ÷ mentions, from −1 to +1. The first and last weeks may "
    "be partial."
)
weekly = voice.weekly_share(daily)
weekly["week_of"] = weekly["week"].dt.strftime("%d %b")  # one band per week, in order
left, right = st.columns(2)
week_axis = alt.X("week_of:O", title="week of", sort=None, axis=alt.Axis(labelAngle=0))
left.altair_chart(
    alt.Chart(weekly)
    .mark_bar()
    .encode(
        x=week_axis,
        y=alt.Y("share:Q", stack="normalize", title="share of mentions", axis=alt.Axis(format="%")),
        color=alt.Color("term:N", title="watched term", scale=term_colour),
        tooltip=[alt.Tooltip("week:T", title="week of"), "term:N", "mentions:Q",
                 alt.Tooltip("share:Q", format=".0%")],
    ),
    width="stretch",
)  # fmt: skip
right.altair_chart(
    alt.Chart(weekly)
    .mark_line(point=True)
    .encode(
        x=week_axis,
        y=alt.Y("net_feeling:Q", title="net feeling", scale=alt.Scale(domain=[-1, 1])),
        color=alt.Color("term:N", title="watched term", scale=term_colour),
        tooltip=[alt.Tooltip("week:T", title="week of"), "term:N", "mentions:Q", "negative:Q",
                 "positive:Q", alt.Tooltip("net_feeling:Q", format="+.2f")],
    )
    + alt.Chart().mark_rule(color="#999", strokeDash=[3, 3]).encode(y=alt.datum(0)),
    width="stretch",
)  # fmt: skip

left, right = st.columns(2)
top = reads.sources_ranked(f)
with left:
    st.subheader("Where people talk")
    st.caption("Mentions by kind of source.")
    st.altair_chart(
        alt.Chart(top)
        .mark_bar(color="#5b7083")
        .encode(
            x=alt.X("sum(mentions):Q", title="mentions"),
            y=alt.Y("kind:N", title=None, sort="-x"),
            tooltip=["kind:N", alt.Tooltip("sum(mentions):Q", title="mentions")],
        ),
        width="stretch",
    )
with left:
    downloads.offer(daily, "mentions-per-day", "Mentions per day, term and feeling.")
right.subheader("Top sources")
right.caption("Mentions of each source in the period; mean sentiment from −1 to +1.")
top = top.head(10)
right.dataframe(
    top,
    hide_index=True,
    width="stretch",
    column_order=["source", "mentions", "sentiment"],  # kinds: the chart beside it
    column_config={
        # Widths that fit half a page, so no column is cut off at the right edge.
        "source": st.column_config.TextColumn("Source", width=170),
        "mentions": st.column_config.ProgressColumn(
            "Mentions",
            format="%d",
            min_value=0,
            max_value=int(top["mentions"].max()),
            width=120,
        ),
        "sentiment": st.column_config.NumberColumn("Mean sentiment", format="%+.2f", width=120),
    },
)
with right:
    downloads.offer(top, "top-sources")
