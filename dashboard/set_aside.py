"""What was set aside as "not about us": mentions that name a watched entity and count nowhere,
set aside by the learned relevance (nlp.relevance) or marked by a person. Reviewed here, and
taken back with "It is about us after all", which `tidings train` also learns from."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboard import mention_detail, reads


def why(rows: pd.DataFrame) -> list[str]:
    """Who set each one aside: the model (how sure it was that it is about us) or a person."""
    out = []
    for sure, by in zip(rows["sure"], rows["marked_by"], strict=True):
        if isinstance(by, str) and by:
            out.append(f"marked by {by}")
        elif sure is None or pd.isna(sure):
            out.append("set aside by the model")
        else:
            out.append(f"the model: {sure:.0%} sure it is about us")
    return out


def show(terms: list[str]) -> None:
    c1, c2 = st.columns([2, 1])
    chosen = tuple(c1.multiselect("Watched terms", terms, key="aside-terms"))
    today = date.today()
    period = c2.date_input(
        "Published between", (today - timedelta(days=29), today), max_value=today,
        key="aside-period",
    )  # fmt: skip
    since, until = period if len(period) == 2 else (period[0], period[0])
    total = reads.set_aside_count(since, until, chosen)
    if not total:
        st.info("Nothing was set aside in this period: every mention naming a watched term counts.")
        return
    pages = max(1, -(-total // reads.PAGE))
    key = f"aside-page-{chosen}-{since}-{until}-{pages}"
    page = c2.number_input(f"Page (of {pages:,})", 1, pages, 1, key=key)
    found = reads.set_aside(since, until, chosen, page - 1)
    st.caption(
        f"{total:,} mention(s) published in the period name a watched term but count nowhere: "
        "the relevance model found them about something else (below 50 % sure, learned from "
        "your “about us” / “not about us” marks), or a person marked them not about us. Open "
        "one to say it is about us after all: it then counts, and `tidings train` learns from it."
    )
    # Text from the internet is shown as data, never rendered as HTML or Markdown.
    picked = st.dataframe(
        found.assign(published=reads.published_text(found), why=why(found)),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"aside-list-{chosen}-{since}-{until}-{page}-{total}",  # one taken back: none selected
        column_order=["published", "title", "terms", "why", "source", "url", "text"],
        column_config={
            "published": st.column_config.TextColumn("Published (UTC)"),
            "title": st.column_config.TextColumn("Title", width="large"),
            "terms": st.column_config.ListColumn("Names"),
            "why": st.column_config.TextColumn("Set aside by"),
            "source": "Source",
            "url": st.column_config.LinkColumn("Original", display_text="open ↗"),
            "text": st.column_config.TextColumn("Text", width="large"),
        },
    )
    rows = picked["selection"]["rows"]
    if rows:
        opened = str(found["id"].iloc[rows[0]])
        st.subheader("Mention")
        mention_detail.show(opened)
