"""One mention in full: its text, its work state (editable) and the history of changes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import auth, reads, signin
from data import corrections, inbox, store
from nlp import model
from nlp.intent import INTENTS

RELEVANCE = ("", corrections.ABOUT, corrections.NOT_ABOUT)
RELEVANCE_LABELS = {
    "": "not said",
    corrections.ABOUT: "about us",
    corrections.NOT_ABOUT: "not about us",
}


def actor() -> str:
    """Who is making changes: the signed-in person; in a single-user install, as they told us
    in the sidebar (kept for this browser session)."""
    return auth.actor()


def ask_actor() -> None:
    if not auth.person().single_user:
        return  # the sidebar says who is signed in: that is who changes are recorded with
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
        fixed = corrections.of_mention(db, mention_id)
        sure = corrections.relevance_of(db, mention_id)
        wants = corrections.confidences(
            db, mention_id, None if m is None else m["published"].to_pydatetime()
        )
        aside = corrections.aside_mention(db, mention_id) if m is None else None
    if m is None:
        if aside is None:
            st.warning("No such mention (it may have been removed).")
        else:
            _set_aside(mention_id, aside, sure)
        return
    # Internet text is shown as plain text (st.text / code-free captions), never as Markdown.
    st.text(m["title"] or "(no title)")
    reach = m["reach"]
    reach = "—" if reach is None or pd.isna(reach) else f"{int(reach):,}"
    known = m.get("published_known")
    when = (
        f"{m['published']:%Y-%m-%d %H:%M} UTC"
        if known is None or pd.isna(known) or bool(known)
        else f"date unknown (fetched {m['published']:%Y-%m-%d %H:%M} UTC)"
    )
    st.caption(
        f"{when} · {m['source']} ({m['kind'] or 'rss'}) · "
        f"{m['sentiment_label']} ({m['sentiment']:+.2f}) · reach {reach}"
    )
    st.text(m["text"][:4000])
    if caption := confidence_caption(wants, model_thresholds(cfg.models_dir)):
        st.caption(caption)
    if sure:
        st.caption(
            "About "
            + ", ".join(f"{name}: {p:.0%} sure" for name, p in sure.items())
            + " (learned per watched name from “about us” / “not about us” corrections; "
            "below 50 % a mention is set aside)"
        )
    if m["url"]:
        st.link_button("Open the original ↗", m["url"])
    if auth.allowed("inbox"):
        edit_form(m)
    else:
        st.text(f"Status: {m['status']} · assigned to {m['assignee'] or '—'}")
    correction_form(m, fixed)
    _history(changes)


def model_thresholds(models_dir: Path | None) -> dict[str, float]:
    """The current model's intent thresholds. Its meta.json is read again only when it changes
    (a new model, or the file written again), not on every rerun of the page."""
    meta = model.current(models_dir).path / "meta.json"
    try:
        changed = meta.stat().st_mtime_ns
    except OSError:
        return {}
    return _thresholds_in(str(meta), changed)


@st.cache_data(show_spinner=False, max_entries=4)
def _thresholds_in(meta: str, changed: int) -> dict[str, float]:
    # `changed` (the file's mtime) is read by the cache only: a new value reads the file again.
    return model.Model(Path(meta).parent, "").meta.get("thresholds") or {}


def confidence_caption(wants: dict[str, float], thresholds: dict[str, float] | None) -> str:
    """What the model read, and what its confidences mean: they are calibrated, so a reading
    of 80 % is right about 8 times in 10 on posts it never saw (bench/RESULTS.md)."""
    thresholds = thresholds or {}
    shown = [i for i in INTENTS if i in thresholds or wants.get(i, 0.0) >= 0.5]
    parts = [
        f"{i.replace('_', ' ')} {wants.get(i, 0.0):.0%}"
        + (f" (counts from {thresholds[i]:.0%})" if i in thresholds else "")
        for i in shown
        if i in wants
    ]
    if not parts:
        return ""
    return (
        "How sure the model is: " + ", ".join(parts) + ". Calibrated on posts it never saw: "
        "of the mentions read 80 % sure, about 8 in 10 are; each intent counts from its own "
        "threshold, chosen on development data. A correction overrides the model."
    )


def assignee_input(where: object, current: str) -> str:
    """The team's agents and admins to choose from; an email to type in a single-user
    install (or a team defined only by single sign-on)."""
    people = signin.assignable(reads.config()) if not auth.person().single_user else []
    if not people:
        return where.text_input("Assigned to", value=current, placeholder="email")  # type: ignore[attr-defined]
    options = ["", *people] + ([current] if current and current not in people else [])
    return where.selectbox(  # type: ignore[attr-defined]
        "Assigned to", options, index=options.index(current), format_func=lambda e: e or "—"
    )


def edit_form(m: dict) -> None:
    mention_id = m["id"]
    cfg = reads.config()
    with st.form(f"edit-{mention_id}"):
        c1, c2 = st.columns(2)
        status = c1.selectbox("Status", inbox.STATUSES, index=inbox.STATUSES.index(m["status"]))
        assignee = assignee_input(c2, m["assignee"] or "")
        tag = c1.text_input("Add a tag", placeholder="billing, outage…")
        note = c2.text_area("Note", value=m["note"] or "", height=80)
        if st.form_submit_button("Save", type="primary"):
            who = auth.require("inbox")
            new_assignee = assignee.strip()
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                db.begin()
                changed = inbox.update(
                    db, [mention_id], who, store.utcnow(),
                    status=status if status != m["status"] else None,
                    assignee=new_assignee if new_assignee != (m["assignee"] or "") else None,
                    add_tags=[tag.strip()] if tag.strip() else [],
                    note=note,
                )  # fmt: skip
                db.commit()
            st.cache_data.clear()
            st.toast("Saved." if changed else "Nothing changed.")
            st.rerun()


def _history(changes: pd.DataFrame) -> None:
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


def correction_form(m: dict, fixed: dict[str, str]) -> None:
    """Tell the model it read this mention wrong: applied at once, learned by `tidings train`."""
    mention_id = m["id"]
    if not auth.allowed("correct"):
        return
    with st.expander("Wrong reading? Correct it", expanded=bool(fixed)):
        if fixed:
            st.caption(
                "Corrected: " + ", ".join(f"{k} → {v or 'none'}" for k, v in sorted(fixed.items()))
            )
        with st.form(f"correct-{mention_id}"):
            labels = list(corrections.SENTIMENTS)
            current = m["sentiment_label"] if m["sentiment_label"] in labels else "neutral"
            feeling = st.radio("Sentiment", labels, index=labels.index(current), horizontal=True)
            present = [i for i in m.get("intents", []) if i in INTENTS]
            wanted = st.multiselect("Intents", INTENTS, default=present)
            said = RELEVANCE.index(fixed.get("relevance", RELEVANCE[0]))
            about = st.radio(
                "About us?",
                RELEVANCE,
                index=said,
                format_func=RELEVANCE_LABELS.get,
                horizontal=True,
                help="Teaches `tidings train` what is about each watched name; "
                "“not about us” also removes it from every count at once.",
            )
            if st.form_submit_button("Save correction"):
                who = auth.require("correct")
                cfg = reads.config()
                with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                    db.begin()
                    n = corrections.correct(
                        db, mention_id, who, store.utcnow(),
                        sentiment=feeling if feeling != m["sentiment_label"] else None,
                        intents=wanted if sorted(wanted) != sorted(present) else None,
                        not_about=about == corrections.NOT_ABOUT != RELEVANCE[said],
                        about=about == corrections.ABOUT != RELEVANCE[said],
                        known_intents=INTENTS,
                    )  # fmt: skip
                    db.commit()
                st.cache_data.clear()
                st.toast("Correction saved; `tidings train` will learn from it." if n else
                         "Nothing changed.")  # fmt: skip
                st.rerun()
        for kind in sorted(k for k in fixed if k != "relevance"):
            if st.button(f"Undo the {kind} correction", key=f"undo-{kind}-{mention_id}"):
                _undo(mention_id, kind)


def _set_aside(mention_id: str, m: dict, sure: dict[str, float]) -> None:
    """A mention that counts nowhere: what it says, who set it aside, and the way back."""
    st.text(m["title"] or "(no title)")
    st.caption(f"{m['published']:%Y-%m-%d %H:%M} UTC · {m['source']}")
    st.text((m["text"] or "")[:4000])
    by = m["marked_by"]
    if isinstance(by, str) and by:
        st.info(f"Marked “not about us” by {by}: it counts nowhere.")
    else:
        named = ", ".join(f"{name} ({p:.0%} sure it is about it)" for name, p in sure.items())
        st.info(
            f"Set aside: it names {named or ', '.join(m['terms'])}, but the relevance model, "
            "learned from your “about us” / “not about us” marks, found it about something "
            "else. It counts nowhere."
        )
    if m["url"]:
        st.link_button("Open the original ↗", m["url"])
    if auth.allowed("correct") and st.button(
        "It is about us after all", key=f"undo-relevance-{mention_id}"
    ):
        _about_us(mention_id)


def _about_us(mention_id: str) -> None:
    """Marked "about us" rather than the mark removed: `tidings train` learns from it."""
    who = auth.require("correct")
    cfg = reads.config()
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        db.begin()
        corrections.correct(db, mention_id, who, store.utcnow(), about=True)
        db.commit()
    st.cache_data.clear()
    st.rerun()


def _undo(mention_id: str, kind: str) -> None:
    who = auth.require("correct")
    cfg = reads.config()
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        corrections.undo(db, mention_id, kind, who, store.utcnow())
    st.cache_data.clear()
    st.rerun()
