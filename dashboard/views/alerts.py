"""Alerts: the rules, what is firing, and every mail sent or waiting, failures first."""

import pandas as pd
import streamlit as st

from dashboard import reads

st.title("Alerts")
cfg = reads.config()
if not cfg.alerts:
    st.info("No alert rule yet. Add [[alerts]] to your tidings.toml (see the README).")
    st.stop()

active, mails = reads.alerts_overview()
failed = mails[mails["status"] == "failed"]
waiting = mails[mails["status"].isin(["pending", "sending"])]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rules", len(cfg.alerts))
c2.metric("Spikes firing now", len(active))
c3.metric("Mail waiting", len(waiting))
c4.metric("Mail failed", len(failed))
if not failed.empty:
    st.error(
        f"{len(failed)} mail(s) could not be delivered and will not be retried; "
        "the reason is in the outbox below."
    )

st.subheader("Rules")
st.dataframe(
    pd.DataFrame(
        [
            {
                "rule": r.name,
                "kind": r.kind,
                "watch": ", ".join(r.watch) or "(default)",
                "delivery": r.delivery,
                "recipients": ", ".join(r.recipients or r.escalate_to) or "(assignee)",
                "quiet hours": f"{r.quiet_hours} {r.timezone}" if r.quiet_hours else "—",
                "cool-down (h)": r.cooldown_hours,
                "enabled": r.enabled,
            }
            for r in cfg.alerts
        ]
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Spikes firing now")
if active.empty:
    st.caption("No spike is firing.")
else:
    st.dataframe(
        active,
        hide_index=True,
        width="stretch",
        column_config={
            "about": "Watched term",
            "last_fired_at": st.column_config.DatetimeColumn(
                "Fired (UTC)", format="YYYY-MM-DD HH:mm"
            ),
        },
    )

st.subheader("Outbox")
st.dataframe(
    mails.sort_values(
        "status", key=lambda s: s.map({"failed": 0, "pending": 1, "sending": 1}).fillna(2)
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "created_at": st.column_config.DatetimeColumn("Queued (UTC)", format="YYYY-MM-DD HH:mm"),
        "not_before": st.column_config.DatetimeColumn(
            "Held until (UTC)", format="YYYY-MM-DD HH:mm"
        ),
        "sent_at": st.column_config.DatetimeColumn("Sent (UTC)", format="YYYY-MM-DD HH:mm"),
        "recipients": st.column_config.ListColumn("To"),
        "last_error": st.column_config.TextColumn("Last error", width="large"),
    },
)
