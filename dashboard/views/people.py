"""People (admins only): who may sign in, with which role, and the log of what people did."""

import pandas as pd
import streamlit as st

from dashboard import auth, reads, signin
from data import store, users

st.title("People")
auth.require("users")  # the page is listed for admins only; a typed address is refused too
cfg = reads.config()
with store.connect(cfg.db_path, min(reads.READ_WAIT, cfg.database.lock_timeout_seconds)) as db:
    everyone = users.everyone(db)
    assigned = {u.email: sorted(users.clients_of(db, u.email)) for u in everyone}
    log = users.audit(db)
rows = [
    {
        "email": u.email,
        "role": u.role,
        "signs in with": "password" if u.has_password else "single sign-on",
        "clients (agents)": ", ".join(assigned[u.email]),
        "added (UTC)": u.created_at,
    }
    for u in everyone
] + [
    {"email": p.email.lower(), "role": p.role, "signs in with": "single sign-on ([[users]])"}
    for p in cfg.users
    if p.email.lower() not in assigned
]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(
    "Add people with `tidings users add EMAIL --role viewer|agent|admin` (a password is "
    "asked) or `--no-password` for single sign-on; `tidings users clients EMAIL ID…` assigns "
    "clients to an agent. People signing in by single sign-on who are not listed are "
    + ("viewers." if cfg.sign_in.unknown == "viewer" else "refused.")
)

if everyone:
    with st.form("role"):
        c1, c2, c3 = st.columns([3, 2, 1])
        email = c1.selectbox("Person", [u.email for u in everyone])
        role = c2.selectbox("Role", users.ROLES)
        change = c3.form_submit_button("Set role")
        remove = c3.form_submit_button("Remove")
    if change or remove:
        who = auth.require("users")
        now = store.utcnow()
        if email == who and (remove or role != "admin"):
            st.error("Not changed: ask another admin to change or remove your own account.")
        else:
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                if remove:
                    users.remove(db, email)
                else:
                    users.set_role(db, email, role, now)
                users.record(
                    db, who, "user.remove" if remove else "user.role", email, now,
                    "" if remove else role,
                )  # fmt: skip
            st.cache_data.clear()
            signin._team.clear()
            st.toast(f"{email}: {'removed' if remove else f'now {role}'}.")
            st.rerun()

st.subheader("What people did")
st.dataframe(
    pd.DataFrame(log, columns=["when (UTC)", "who", "action", "subject", "detail"]),
    hide_index=True,
    width="stretch",
)
