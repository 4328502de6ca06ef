"""Sources: each configured source's health, last error and next fetch."""

import pandas as pd
import streamlit as st

from dashboard import reads

st.title("Sources")
cfg = reads.config()
health = reads.source_health()
configured = pd.DataFrame(
    [{"source": s.id, "kind": s.kind, "url": str(s.url), "every (min)": s.interval_minutes,
      "enabled": s.enabled} for s in cfg.sources]
)  # fmt: skip
if configured.empty:
    st.info("No source is configured. Add [[sources]] to your tidings.toml.")
    st.stop()

table = configured.merge(health, on="source", how="left")
table["health"] = table["health"].fillna("never fetched")
failing = table[table["health"].isin(["error", "failing"])]
ok = int((table["health"] == "ok").sum())
c1, c2, c3 = st.columns(3)
c1.metric("Sources", len(table))
c2.metric("Healthy", ok)
c3.metric("Failing", len(failing))
if not failing.empty:
    # Source ids are config-validated ([A-Za-z0-9_.-]); error texts stay in the table, as data.
    names = ", ".join(failing["source"])
    st.error(f"Failing: {names}. The last error of each is in the table below.")

st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_order=[
        "source",
        "health",
        "last_error",
        "kind",
        "mentions",
        "items_last_fetch",
        "last_success_at",
        "last_attempt_at",
        "next_fetch_at",
        "consecutive_failures",
        "every (min)",
        "enabled",
        "url",
    ],
    column_config={
        "source": "Source",
        "health": "Health",
        "kind": "Kind",
        "mentions": st.column_config.NumberColumn("Mentions stored", format="%d"),
        "items_last_fetch": st.column_config.NumberColumn("Items last fetch", format="%d"),
        "last_success_at": st.column_config.DatetimeColumn(
            "Last success (UTC)", format="YYYY-MM-DD HH:mm"
        ),
        "last_attempt_at": st.column_config.DatetimeColumn(
            "Last attempt (UTC)", format="YYYY-MM-DD HH:mm"
        ),
        "next_fetch_at": st.column_config.DatetimeColumn(
            "Next fetch (UTC)", format="YYYY-MM-DD HH:mm"
        ),
        "consecutive_failures": st.column_config.NumberColumn("Failures in a row", format="%d"),
        "last_error": st.column_config.TextColumn("Last error", width="large"),
        "url": st.column_config.LinkColumn("URL"),
    },
)
