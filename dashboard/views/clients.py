"""Clients: who gets the knowledge feed, what they care about, and what they were sent."""

import pandas as pd
import streamlit as st

from dashboard import auth, mention_detail, reads, return_path
from data import clients, store, users
from data.clients import Client
from notify.push import feed_url

st.title("Clients")
mention_detail.ask_actor()
cfg = reads.config()
everyone = reads.all_clients()

safe = clients.spreadsheet_safe  # the table's own CSV download must not carry formulas

if everyone:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "name": safe(c.name),
                    "email": safe(c.email),
                    "status": c.status,
                    "cadence": c.cadence,
                    "owner": safe(c.owner),
                    "interests": safe("; ".join(c.interests)),
                    "items per digest": c.max_items,
                    "emails per week": c.max_emails_per_week,
                    "id": safe(c.id),
                }
                for c in everyone
            ]
        ),  # fmt: skip
        hide_index=True,
        width="stretch",
    )
    st.download_button(
        "Download clients (CSV)", clients.export_csv(everyone), "clients.csv", "text/csv",
        help="The columns an import reads (never the clients' private link tokens).",
    )  # fmt: skip
else:
    st.info("No client yet. Add one below, or import a CSV file.")

editor = st.expander("Add or edit a client", expanded=not everyone)
with editor if auth.allowed("clients") else auth.hidden("client-editor"):
    ids = [c.id for c in everyone]
    choice = st.selectbox("Client", [*ids, "New client…"], key="client_choice")
    base = next((c for c in everyone if c.id == choice), None)
    d = base.model_dump() if base else {}
    cadences = ["instant", "daily", "weekly", "fortnightly"]
    with st.form("client"):
        c1, c2, c3 = st.columns(3)
        cid = c1.text_input("Id", d.get("id", ""), disabled=base is not None)
        name = c2.text_input("Name", d.get("name", ""))
        email = c3.text_input("Email", d.get("email", ""))
        interests = st.text_input(
            "Interests (comma-separated; -word excludes)", ", ".join(d.get("interests", []))
        )
        c1, c2 = st.columns(2)
        liked = c1.text_input("Sources they like", ", ".join(d.get("liked_sources", [])))
        disliked = c2.text_input("Sources they dislike", ", ".join(d.get("disliked_sources", [])))
        c1, c2, c3, c4 = st.columns(4)
        cadence = c1.selectbox(
            "Cadence", cadences, index=cadences.index(d.get("cadence", "weekly"))
        )
        weekday = c2.selectbox(
            "Weekday (weekly)", range(7), index=d.get("weekday", 0),
            format_func=lambda i: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i],
        )  # fmt: skip
        hour = c3.number_input("Hour (their time)", 0, 23, value=d.get("hour", 8))
        zone = c4.text_input("Time zone", d.get("timezone", "UTC"))
        c1, c2, c3 = st.columns(3)
        max_items = c1.number_input("Items per digest", 1, 50, value=d.get("max_items", 5))
        per_week = c2.number_input("Emails per week", 1, 50, value=d.get("max_emails_per_week", 3))
        statuses = list(clients.STATUSES)
        gone = d.get("status") == "unsubscribed"  # only the client or Resubscribe below undo it
        status = c3.selectbox(
            "Status", statuses, index=statuses.index(d.get("status", "active")), disabled=gone,
            help="The client unsubscribed: see Resubscribe below." if gone else None,
        )  # fmt: skip
        c1, c2 = st.columns(2)
        owner = c1.text_input(
            "Account owner's email", d.get("owner", ""),
            help="Told when the client stops reading, answers a check-in poorly, or a date "
            "of theirs comes.",
        )  # fmt: skip
        others = c2.checkbox(
            "Digest says how often others are talking about each interest",
            value=d.get("others_talking", False),
        )
        saved = st.form_submit_button("Save client", type="primary")

    def _list(text: str) -> list[str]:
        return [p.strip() for p in text.split(",") if p.strip()]

    if saved:
        who = auth.require("clients")
        try:
            client = Client.model_validate(
                {
                    **d, "id": base.id if base else cid.strip(), "name": name.strip(),
                    "email": email.strip(), "interests": _list(interests),
                    "liked_sources": _list(liked), "disliked_sources": _list(disliked),
                    "cadence": cadence, "weekday": weekday, "hour": hour, "timezone": zone.strip(),
                    "max_items": max_items, "max_emails_per_week": per_week, "status": status,
                    "owner": owner.strip(), "others_talking": others,
                }
            )  # fmt: skip
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                clients.save(db, client, store.utcnow(), who)
                users.record(db, who, "client.save", client.id, store.utcnow())
        except ValueError as e:  # pydantic's ValidationError is a ValueError
            st.error(f"Not saved: {clients.describe(e)}")
        else:
            st.cache_data.clear()
            st.toast(f"{client.name} saved.")
            st.rerun()

    if gone and base is not None:
        st.warning(
            f"{base.name} unsubscribed. Subscribe them again only if they asked you to: "
            "the change is logged with your name."
        )
        asked = st.checkbox(f"{base.name} asked to be subscribed again", key="resubscribe_asked")
        if st.button(f"Resubscribe {base.name}", key="resubscribe", disabled=not asked):
            who = auth.require("clients")
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                clients.resubscribe(db, base.id, f"{who} (dashboard)", store.utcnow())
            st.cache_data.clear()
            st.toast(f"{base.name} is subscribed again.")
            st.rerun()

importer = st.expander("Import clients from CSV")
with importer if auth.allowed("clients") else auth.hidden("client-import"):
    st.caption(
        "A header row with id, name, email, interests (separated by ';') and optionally cadence, "
        "weekday (0 = Monday), hour, timezone, max_items, max_emails_per_week, status; "
        "UTF-8 text, one client per line. A row with a problem is left out (the report says "
        "which and why), the others are imported; a file with an unknown column is not "
        "imported at all. Tokens are never imported, and an import never resubscribes a client "
        "who unsubscribed."
    )
    upload = st.file_uploader("CSV file", type=["csv"])
    if upload is not None and st.button("Import"):
        who = auth.require("clients")
        try:
            text = clients.decode_csv(upload.getvalue(), upload.name)
        except clients.CsvFileError as e:
            st.error(str(e))
        else:
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                db.begin()  # all the valid rows, or none if anything stops the import
                saved_n, report = clients.import_csv(db, text, store.utcnow(), by=who)
                users.record(db, who, "clients.import", upload.name, store.utcnow(),
                             f"{saved_n} imported, {len(report)} problem(s)")  # fmt: skip
                db.commit()
            st.cache_data.clear()
            st.success(f"{saved_n} client(s) imported.")
            if report:
                st.warning(f"{len(report)} problem(s):")
                st.dataframe(pd.DataFrame({"problem": report}), hide_index=True, width="stretch")

if everyone:
    st.subheader("What a client received")
    by_id = {c.id: c for c in everyone}
    who = by_id[
        st.selectbox(
            "Client", list(by_id), format_func=lambda i: f"{by_id[i].name} <{by_id[i].email}>",
            key="who",
        )
    ]  # fmt: skip
    st.caption(f"Personal feed: {feed_url(cfg, who)}")
    sent = reads.client_history(who.id)
    if sent.empty:
        st.caption("Nothing sent yet.")
    else:
        st.dataframe(
            sent.assign(title=sent["title"].fillna("").map(safe)),
            hide_index=True,
            width="stretch",
            column_config={
                "delivered_at": st.column_config.DatetimeColumn(
                    "When (UTC)", format="YYYY-MM-DD HH:mm"
                ),
                "channels": st.column_config.ListColumn("Channels"),
                "url": st.column_config.LinkColumn("Link", display_text="open ↗"),
            },
        )

    return_path.show(cfg, who)
