"""Curation: each client's next digest before it goes; remove, pin or add items, write a
note, send now or leave it to the schedule."""

import subprocess
import sys

import streamlit as st

from dashboard import auth, mention_detail, reads
from data import clients, store, users

st.title("Curation")
mention_detail.ask_actor()
cfg = reads.config()
everyone = [c for c in reads.all_clients() if c.status == "active"]
if not everyone:
    st.info("No active client. Add clients on the Clients page.")
    st.stop()

by_id = {c.id: c for c in everyone}
chosen = st.selectbox(
    "Client", list(by_id), format_func=lambda i: f"{by_id[i].name} <{by_id[i].email}>",
    key="curation_client",
)  # fmt: skip
client = by_id[chosen]
may_curate = auth.allowed("curate", client.id)
if not may_curate:
    st.caption("Only admins, and agents this client is assigned to, curate and send it.")
picks, due, note, recent = reads.next_digest(client.id)
st.caption(
    f"{client.cadence.capitalize()} digest, up to {client.max_items} item(s); "
    f"interests: {', '.join(client.interests)}. "
    + ("Due now." if due[0] else f"Not due: {due[1]}.")
)


def act(mention_id: str, action: str | None) -> None:
    try:
        who = auth.require("curate", client.id)
    except users.Forbidden as e:  # a callback: said as a toast, never a traceback
        st.toast(str(e))
        return
    with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
        clients.curate(db, client.id, mention_id, action, store.utcnow())
        users.record(db, who, f"digest.{action or 'unpin'}", client.id, store.utcnow(), mention_id)
    st.cache_data.clear()


if not picks:
    st.info("Nothing relevant and new for this client: no digest would be sent.")
for p in picks:
    a = p.article
    with st.container(border=True):
        left, right = st.columns([5, 1])
        left.text(a["title"] or "(untitled)")  # internet text, shown as text
        left.caption(f"{a['source']} · {a['published']:%Y-%m-%d} · {p.why}")
        if a["url"]:
            left.link_button("Open ↗", a["url"])
        if not may_curate:
            continue
        if p.pinned:
            right.button("Unpin", key=f"unpin-{a['id']}", on_click=act, args=(a["id"], None))
        else:
            right.button("Pin", key=f"pin-{a['id']}", on_click=act, args=(a["id"], "pin"))
        right.button("Remove", key=f"rm-{a['id']}", on_click=act, args=(a["id"], "remove"))

with st.form("add") if may_curate else auth.hidden("curation-add"):
    shown = {p.article["id"] for p in picks}
    options = {a["id"]: a["title"] for a in recent if a["id"] not in shown}
    extra = st.selectbox(
        "Add an item", list(options), format_func=lambda i: options[i][:100], index=None,
        placeholder="recent articles and mentions",
    )  # fmt: skip
    if may_curate and st.form_submit_button("Add") and extra:
        act(extra, "pin")
        st.rerun()

with st.form("note") if may_curate else auth.hidden("curation-note"):
    text = st.text_area("Personal note at the top of the digest", value=note)
    if may_curate and st.form_submit_button("Save note"):
        who = auth.require("curate", client.id)
        with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
            clients.set_note(db, client.id, text, store.utcnow())
            users.record(db, who, "digest.note", client.id, store.utcnow())
        st.cache_data.clear()
        st.toast("Note saved.")

if may_curate and st.button("Send now", type="primary", disabled=not picks):
    who = auth.require("curate", client.id)
    # Sending is the push flow's job: run it as the CLI does, not from inside Streamlit.
    with st.spinner("Sending…"):
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "--config", str(cfg.path), "push",
             "--client", client.id, "--now"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    st.cache_data.clear()
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode == 0 and any(
        line.startswith(f"{client.id}: digest queued") for line in lines
    ):
        with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
            users.record(db, who, "digest.send", client.id, store.utcnow(), client.email)
        st.success(f"Digest sent to {client.email}.")
    else:
        st.warning("Not sent: " + (lines[0] if lines else done.stderr.strip()[-300:]))
