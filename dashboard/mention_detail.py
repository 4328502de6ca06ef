"""One mention in full: its text, its work state (editable) and the history of changes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import reads
from data import inbox, store


def actor() -> str:
    """Who is making changes, as they told us in the sidebar (kept for this browser session)."""
    return st.session_state.get("actor") or "dashboard"


def ask_actor() -> None:
    st.sidebar.text_input(
        "You are",
        key="actor",
        placeholder="your email",
        help="Recorded with every change you make.",
    )


def show(mention_id: str) -> None:
    cfg = reads.config()
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        m = inbox.mention(db, mention_id)
        changes = inbox.history(db, mention_id)
    if m is None:
        st.warning("No such mention (it may have been removed).")
        return
    # Internet text is shown as plain text (st.text / code-free captions), never as Markdown.
    st.text(m["title"] or "(no title)")
    reach = m["reach"]
    reach = "—" if reach is None or pd.isna(reach) else f"{int(reach):,}"
    st.caption(
        f"{m['published']:%Y-%m-%d %H:%M} UTC · {m['source']} ({m['kind'] or 'rss'}) · "
        f"{m['sentiment_label']} ({m['sentiment']:+.2f}) · reach {reach}"
    )
    st.text(m["text"][:4000])
    if m["url"]:
        st.link_button("Open the original ↗", m["url"])
    with st.form(f"edit-{mention_id}"):
        c1, c2 = st.columns(2)
        status = c1.selectbox("Status", inbox.STATUSES, index=inbox.STATUSES.index(m["status"]))
        assignee = c2.text_input("Assigned to", value=m["assignee"] or "", placeholder="email")
        tag = c1.text_input("Add a tag", placeholder="billing, outage…")
        note = c2.text_area("Note", value=m["note"] or "", height=80)
        if st.form_submit_button("Save", type="primary"):
            new_assignee = assignee.strip()
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                db.begin()
                changed = inbox.update(
                    db, [mention_id], actor(), store.utcnow(),
                    status=status if status != m["status"] else None,
                    assignee=new_assignee if new_assignee != (m["assignee"] or "") else None,
                    add_tags=[tag.strip()] if tag.strip() else [],
                    note=note,
                )  # fmt: skip
                db.commit()
            st.cache_data.clear()
            st.toast("Saved." if changed else "Nothing changed.")
            st.rerun()
    st.caption("History")
    if changes.empty:
        st.caption("No change yet.")
    else:
        st.dataframe(
            changes,
            hide_index=True,
            width="stretch",
            column_config={
                "changed_at": st.column_config.DatetimeColumn(
                    "When (UTC)", format="YYYY-MM-DD HH:mm"
                ),
                "actor": "Who",
                "change": "What",
            },
        )
