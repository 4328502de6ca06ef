"""The Clients page's return-path section for one client: what they click, what they answered,
their learned interests (editable), each cadence change with its reason (undoable), and the
dates that matter to them."""

from __future__ import annotations

import hashlib
from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import auth, reads
from data import engagement, store
from data.clients import Client, spreadsheet_safe
from data.config import Config
from data.engagement import DATE_KINDS, ClientDate
from notify.digest import WEIGHT_MAX, WEIGHT_MIN


def _write(cfg: Config, fn):  # noqa: ANN001, ANN202
    """Run one write in a transaction of its own; the pages' cached reads start again."""
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        db.begin()
        result = fn(db)
        db.commit()
    st.cache_data.clear()
    return result


def show(cfg: Config, who: Client) -> None:
    data = reads.client_return_path(who.id)
    counts = data["counts"]
    st.subheader(f"What comes back from {who.name}")
    digests, clicks = counts.get("digests", 0), counts.get("click", 0)
    answers = [c for c in data["checkins"] if c.answer is not None]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Digests received", digests)
    scans = counts.get("scan", 0)
    m2.metric(
        "Clicks", clicks,
        help="Each click on a link in a digest or the feed. Links opened by a machine (a mail "
        "scanner or a link preview: as the mail arrived, several at once, or a bot's user "
        f"agent) are not counted: {scans} so far.",
    )  # fmt: skip
    m3.metric("More / less like this", f"{counts.get('more', 0)} / {counts.get('less', 0)}")
    m4.metric(
        "Last check-in", f"{answers[-1].answer} of 5" if answers else "—",
        delta=(answers[-1].answer - answers[-2].answer) if len(answers) > 1 else None,
    )  # fmt: skip
    if not who.owner:
        st.caption("No account owner: engagement, satisfaction and date alerts go to no one.")

    learned, changes, checkins, dates = st.tabs(
        ["Learned interests", "Cadence changes", "Check-ins", "Dates"]
    )
    with learned:
        _learned(cfg, who, data["weights"], data["events"])
    with changes:
        _changes(cfg, who, data["changes"])
    with checkins:
        _checkins(data["checkins"])
    with dates:
        _dates(cfg, who, data["dates"])


def _learned(cfg: Config, who: Client, stored: pd.DataFrame, events: pd.DataFrame) -> None:
    st.caption(
        "How much each interest counts when their digest is ranked (1 = as given). Clicks "
        "raise an interest a little, “more like this” more, “less like this” lowers it; "
        f"between {WEIGHT_MIN:g} and {WEIGHT_MAX:g}. Edit a weight and save to set it."
    )
    known = {r.phrase: r for r in stored.itertuples()}
    rows = [
        {
            "interest": p.lower(),
            "weight": float(known[p.lower()].weight) if p.lower() in known else 1.0,
            "changed by": known[p.lower()].changed_by if p.lower() in known else "",
        }
        for p in who.wanted
    ]
    table = pd.DataFrame(rows, columns=["interest", "weight", "changed by"])
    edited = st.data_editor(
        table, hide_index=True, width="stretch", key=f"weights_{who.id}",
        disabled=["interest", "changed by"],
        column_config={"weight": st.column_config.NumberColumn(
            "weight", min_value=WEIGHT_MIN, max_value=WEIGHT_MAX, step=0.1, format="%.2f")},
    )  # fmt: skip
    changed = {
        r["interest"]: float(r["weight"])
        for r, before in zip(edited.to_dict("records"), rows, strict=True)
        if abs(float(r["weight"]) - before["weight"]) > 1e-9
    }
    may = auth.allowed("curate", who.id)
    if may and st.button("Save weights", key=f"save_weights_{who.id}", disabled=not changed):
        by = auth.require("curate", who.id)
        _write(cfg, lambda db: engagement.set_weights(db, who.id, changed, by, store.utcnow()))
        st.toast("Weights saved.")
        st.rerun()
    if events.empty:
        st.caption("No click or feedback yet.")
    else:
        st.caption("Clicks and feedback, newest first")
        st.dataframe(
            events.assign(title=events["title"].fillna("").map(spreadsheet_safe)),
            hide_index=True, width="stretch",
            column_config={"at": st.column_config.DatetimeColumn(
                "When (UTC)", format="YYYY-MM-DD HH:mm")},
        )  # fmt: skip


def _changes(cfg: Config, who: Client, changes: list) -> None:
    if not changes:
        st.caption(f"No automatic change: {who.name} is {who.cadence}, as set.")
        return
    for c in changes:
        done = f" — undone by {c.undone_by}" if c.undone_at else ""
        cols = st.columns([5, 1])
        cols[0].markdown(
            f"**{c.changed_at:%Y-%m-%d %H:%M}** · {c.previous} → **{c.cadence}** · "
            f"{_md(c.reason)} · {'rule ' + _md(c.rule) if c.rule else 'asked by the client'}"
            f"{_md(done)}"
        )
        may = c.undone_at is None and auth.allowed("curate", who.id)
        if may and cols[1].button("Undo", key=f"undo_{c.id}"):
            by = auth.require("curate", who.id)
            said = _write(cfg, partial(engagement.undo_cadence_change, change_id=c.id,
                                       by=by, now=store.utcnow()))  # fmt: skip
            st.toast(said)
            st.rerun()


def _md(text: str | None) -> str:
    """Text shown in markdown without being read as markdown or HTML."""
    specials = "\\`*_{}[]()<>#+-.!|~$"
    return "".join(f"\\{ch}" if ch in specials else ch for ch in (text or ""))


def _checkins(checkins: list) -> None:
    if not checkins:
        st.caption("No check-in sent yet ([checkins] every_days in the config).")
        return
    table = pd.DataFrame(
        [{"sent": c.sent_at, "question": c.question, "answer": c.answer,
          "comment": spreadsheet_safe(c.comment or ""), "answered": c.answered_at}
         for c in reversed(checkins)]
    )  # fmt: skip
    answered = table.dropna(subset=["answer"]).sort_values("answered")
    if len(answered) > 1:
        over_time = answered.assign(day=answered["answered"].dt.strftime("%Y-%m-%d"))
        st.line_chart(over_time.set_index("day")["answer"], height=180, y_label="answer (1-5)")
    when = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"sent": when, "answered": when})  # fmt: skip


def _dates(cfg: Config, who: Client, dates: list) -> None:
    if dates:
        st.dataframe(
            pd.DataFrame(
                [{"kind": d.kind, "date": d.on_date, "yearly": d.yearly,
                  "note": spreadsheet_safe(d.note),
                  "remind days ahead": d.days_ahead, "tell the client too": d.tell_client,
                  "last reminded for": d.reminded_for} for d in dates]
            ),
            hide_index=True, width="stretch",
        )  # fmt: skip
        gone = st.selectbox(
            "Remove a date", [None, *dates], key=f"remove_date_{who.id}",
            format_func=lambda d: "—" if d is None else f"{d.kind} {d.on_date}",
        )  # fmt: skip
        if gone is not None and st.button("Remove", key=f"remove_{who.id}"):
            auth.require("curate", who.id)
            _write(cfg, lambda db: engagement.remove_date(db, gone.id))
            st.rerun()
    with st.form(f"date_{who.id}"):
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Kind", DATE_KINDS)
        on = c2.date_input("Date", value=date.today())
        ahead = c3.number_input("Remind days ahead", 0, 365, value=7)
        note = st.text_input("Note")
        c1, c2 = st.columns(2)
        yearly = c1.checkbox("Every year")
        tell = c2.checkbox(f"Remind {who.name} too")
        if st.form_submit_button("Add date"):
            auth.require("curate", who.id)
            ident = hashlib.blake2b(
                f"{who.id}\x1f{kind}\x1f{on}\x1f{note}".encode(), digest_size=8
            ).hexdigest()
            d = ClientDate(ident, who.id, kind, on, note, int(ahead), tell, yearly)
            _write(cfg, lambda db: engagement.add_date(db, d))
            st.toast(f"{kind} on {on} added.")
            st.rerun()
