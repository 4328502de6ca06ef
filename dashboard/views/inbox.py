"""Inbox: the mentions to act on, most urgent first, with bulk actions."""

import pandas as pd
import streamlit as st

from dashboard import auth, downloads, mention_detail, reachability, reads, signin
from data import inbox, store

st.title("Inbox")
mention_detail.ask_actor()
reachability.warn_if_nothing_reached()
statuses = st.multiselect("Status", inbox.STATUSES, default=list(inbox.OPEN))
me = auth.person().email
mine = bool(me) and st.toggle("My inbox: only what is assigned to me", key="my-inbox")
assignee = me if mine else None
size = reads.inbox_size(tuple(statuses), assignee)
pages = max(1, -(-size // reads.PAGE))
page = 1
if pages > 1:  # a page of the queue at a time, most urgent first
    page = st.number_input(
        f"Page (of {pages:,})", 1, pages, 1, key=f"inbox-page-{statuses}-{pages}"
    )
queue = reads.inbox_queue(tuple(statuses), page - 1, assignee)
if queue.empty:
    if mine:
        st.success("Nothing assigned to you in these statuses.")
    elif reads.inbox_queue(inbox.STATUSES).empty:
        st.info("No mention has been collected yet, so there is nothing to act on.")
    else:
        st.success("Nothing waiting: every mention in these statuses has been handled.")
    st.stop()

flags = queue["likely_complaint"].map({True: "complaint?", False: ""}) + queue[
    "likely_question"
].map({True: " question?", False: ""})
table = pd.DataFrame(
    {
        "flag": flags.str.strip(),
        "published": reads.published_text(queue),
        "status": queue["status"],
        "assignee": queue["assignee"],
        "tags": queue["tags"],
        "title": queue["title"],
        "author": queue["author"],
        "reach": queue["reach"],
        "source": queue["source"],
        "url": queue["url"],
    }
)
st.caption(
    f"{size:,} mention(s) marked {' or '.join(statuses)}, whenever published"
    + (f", {reads.PAGE} a page" if pages > 1 else "")
    + ". Complaints first, then churn risks, questions and other negative mentions, each by"
    + " reach and recency."
    + (" Select rows (click their left edge), then apply an action below."
       if auth.allowed("inbox") else "")
)  # fmt: skip
# The selection is kept as mention ids, never as row positions: handling a mention reorders
# and shortens the queue, and a ticked position would then point at another mention.
shown = queue["id"].tolist()
where = {mid: row for row, mid in enumerate(shown)}
chosen = [mid for mid in st.session_state.get("inbox_picked", []) if mid in where]
st.session_state["inbox_picked"] = chosen
st.session_state["inbox_shown"] = shown
st.session_state["queue"] = {
    "selection": {"rows": [where[mid] for mid in chosen], "columns": [], "cells": []}
}


def remember_selection() -> None:
    """The rows just ticked, as the ids of the mentions they showed."""
    rows = st.session_state["queue"]["selection"]["rows"]
    ids = st.session_state.get("inbox_shown", [])
    st.session_state["inbox_picked"] = [ids[r] for r in rows if 0 <= r < len(ids)]


st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select=remember_selection,
    selection_mode="multi-row",
    column_config={
        "flag": "Needs",
        "published": st.column_config.TextColumn("Published (UTC)"),
        "status": "Status",
        "assignee": "Assigned to",
        "tags": st.column_config.ListColumn("Tags"),
        "title": st.column_config.TextColumn("Title", width="large"),
        "author": "Author",
        "reach": st.column_config.NumberColumn("Reach", format="%d"),
        "source": "Source",
        "url": st.column_config.LinkColumn("Original", display_text="open ↗"),
    },
    key="queue",
)
downloads.offer(table, "inbox", "The rows of this page.")

apply = False
if auth.allowed("inbox"):
    with st.form("bulk"):
        c1, c2, c3 = st.columns([2, 2, 1])
        action = c1.selectbox("Action", inbox.ACTIONS)
        value = c2.text_input("Assignee or tag", placeholder="sam@example.com / billing")
        apply = c3.form_submit_button(f"Apply to {len(chosen)} selected", type="primary")
if apply:
    who = auth.require("inbox")
    cfg = reads.config()
    try:
        team = signin.assignable(cfg) if not auth.person().single_user else []
        if action == "Assign to…" and team and value.strip().lower() not in team:
            raise ValueError(f"{value.strip()[:80]} is not on the team: {', '.join(team)}")
        with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
            db.begin()
            n = inbox.apply(db, chosen, action, value, who, store.utcnow())
            db.commit()
    except ValueError as e:
        st.warning(str(e))
    else:
        st.cache_data.clear()
        st.session_state["inbox_picked"] = []  # done with: the next action starts afresh
        st.toast(f"{n} mention(s) updated.")
        st.rerun()

st.subheader("Mention")
# Each choice says where and when, so two posts with one title can be told apart.
labels = dict(
    zip(
        queue["id"],
        queue["title"].fillna("(no title)").str.slice(0, 90)
        + " · "
        + queue["source"]
        + " · "
        + reads.published_text(queue),
        strict=True,
    )
)
# The mention last ticked opens here (one click), else the most urgent one.
last = list(labels).index(chosen[-1]) if chosen else 0
picked = st.selectbox("Open", list(labels), format_func=lambda i: labels[i], index=last)
mention_detail.show(picked)
