"""Mentions: every mention, filtered by term, source, sentiment, date and text."""

from dataclasses import replace
from datetime import date, timedelta

import streamlit as st

from dashboard import downloads, mention_detail, reads, set_aside
from data.store import MentionFilter

st.title("Mentions")
mention_detail.ask_actor()
if "id" in st.query_params:  # a link from an alert mail, or a mention's own page
    # Written back so that the address bar keeps it (a page link's query string is not kept
    # there by Streamlit): the address is the mention's, to share.
    st.query_params["id"] = st.query_params["id"]
    mention_detail.show(st.query_params["id"])
    if st.button("All mentions"):
        st.query_params.clear()
        st.rerun()
    st.stop()
SHOWN = {"counted": "Counted", "aside": "Set aside: not about us"}
shown = st.radio(
    "Show", list(SHOWN), format_func=SHOWN.get, horizontal=True, label_visibility="collapsed"
)
if shown == "aside":
    set_aside.show([w.name for w in reads.config().watch])
    st.stop()
terms, sources, kinds = reads.choices()
c1, c2, c3, c6 = st.columns(4)
chosen_terms = c1.multiselect("Watched terms", terms)
chosen_sources = c2.multiselect("Sources", sources)
sentiments = c3.multiselect("Sentiment", ["negative", "neutral", "positive", "unscored"])
chosen_kinds = c6.multiselect("Kinds of source", kinds)
c4, c5 = st.columns([1, 2])
today = date.today()
period = c4.date_input("Published between", (today - timedelta(days=29), today), max_value=today)
text = c5.text_input("Text contains", placeholder="refund, outage, love…")
since, until = period if len(period) == 2 else (period[0], period[0])

f = MentionFilter(
    since=since,
    until=until,
    terms=tuple(chosen_terms),
    sources=tuple(chosen_sources),
    kinds=tuple(chosen_kinds),
    sentiments=tuple(sentiments),
    text=text,
    limit=reads.PAGE,
)
total = reads.mention_count(f)
pages = max(1, -(-total // reads.PAGE))
# A page at a time; another filter (or count) starts again at page 1: the key follows them.
page = c4.number_input(f"Page (of {pages:,})", 1, pages, 1, key=f"page-{hash(f)}-{pages}")
found = reads.mentions(replace(f, offset=(page - 1) * reads.PAGE))
if found.empty:
    st.info("No mention matches these filters.")
    st.stop()

st.caption(
    f"{total:,} mention(s) published in the period, newest first: every post on every source "
    "(the Overview counts a story posted on several sources once)"
    + (f"; {reads.PAGE} a page, page {page:,} of {pages:,}" if pages > 1 else "")
    + ". Click a row's left edge to open it below."
)
# Text from the internet is shown as data, never rendered as HTML or Markdown.
picked = st.dataframe(
    found.assign(published=reads.published_text(found)) if not found.empty else found,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=f"list-{hash(f)}-{page}",  # another page or filter: nothing stays selected
    column_order=[  # what it says first: a wide list is cut at the right edge
        "published",
        "title",
        "sentiment_label",
        "sentiment",
        "lang",
        "intents",
        "terms",
        "source",
        "kind",
        "author",
        "reach",
        "also_on",
        "url",
        "text",
    ],
    column_config={
        "published": st.column_config.TextColumn("Published (UTC)"),
        "sentiment_label": "Feeling",
        "sentiment": st.column_config.NumberColumn("Score", format="%.2f"),
        "lang": st.column_config.TextColumn("Lang", help="und: could not be told"),
        "intents": st.column_config.ListColumn("Intent"),
        "terms": st.column_config.ListColumn("About"),
        "source": "Source",
        "kind": "Kind",
        "title": st.column_config.TextColumn("Title", width="large"),
        "author": "Author",
        "reach": st.column_config.NumberColumn(
            "Reach", format="%d", help="Followers, points, karma or likes, as the source gives it"
        ),
        "also_on": st.column_config.NumberColumn(
            "Also on", format="%d", help="Other sources sharing the same link: one story"
        ),
        "url": st.column_config.LinkColumn("Original", display_text="open ↗"),
        "text": st.column_config.TextColumn("Text", width="large"),
    },
)
downloads.offer(
    lambda: reads.mentions_to_export(f),
    "mentions",
    f"All {min(total, reads.EXPORT_MAX):,} mention(s) these filters keep, not only this page.",
)
rows = picked["selection"]["rows"]
if rows:  # one click on a row opens it: read, correct, assign, see its history
    opened = str(found["id"].iloc[rows[0]])
    st.subheader("Mention")
    st.page_link(
        "views/mentions.py", label="Its own page (a link to share)", query_params={"id": opened}
    )
    mention_detail.show(opened)
