"""Sources: each configured source's health, last error and next fetch."""

import json
from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import downloads, reads
from flows.server import prefect_ui_url
from nlp import RULES_VERSION, model

st.title("Sources")
cfg = reads.config()
st.caption(
    f"Every pass, alert evaluation and digest run, with its logs and schedule: "
    f"[the Prefect UI]({prefect_ui_url(cfg)}) (while `tidings serve` runs)."
)
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
# What needs a person comes first, where the table opens, not below its own scroll.
RANK = {"needs credentials": 0, "failing": 1, "error": 2, "never fetched": 3, "ok": 4}
table = (
    table.assign(rank=table["health"].map(RANK).fillna(3))
    .sort_values(["rank", "source"], kind="stable")
    .drop(columns="rank")
    .reset_index(drop=True)
)
failing = table[table["health"].isin(["error", "failing", "needs credentials"])]
ok = int((table["health"] == "ok").sum())
c1, c2, c3 = st.columns(3)
c1.metric("Sources", len(table))
c2.metric("Healthy", ok)
c3.metric("Failing", len(failing))
# Source ids are config-validated ([A-Za-z0-9_.-]); error texts stay in the table, as data.
locked = failing[failing["health"] == "needs credentials"]
if not locked.empty:
    st.warning(
        f"Needs credentials: {', '.join(locked['source'])}. The source refused us (401/403); "
        "the last error says which environment variables to set, then restart Tidings."
    )
broken = failing[failing["health"] != "needs credentials"]
if not broken.empty:
    st.error(
        f"Failing: {', '.join(broken['source'])}. They are listed first in the table below, "
        "with the last error of each."
    )
odd = table[table["skipped_last_fetch"].fillna(0) > 0]
if not odd.empty:
    st.info(
        "Items skipped for an unexpected shape on the last fetch: "
        + ", ".join(f"{r.source} ({int(r.skipped_last_fetch)})" for r in odd.itertuples())
        + ". A source that changed its API shows up here first."
    )
    for r in odd.itertuples():
        samples = json.loads(r.unexpected_samples) if isinstance(r.unexpected_samples, str) else []
        if samples:
            with st.expander(f"{r.source}: the first {len(samples)} skipped item(s), as received"):
                st.caption("Copy them into a bug report: they show what the source sends now.")
                for sample in samples:
                    st.code(sample, language=None, wrap_lines=True)
guessed = table[table["encoding_guessed"].notna()]
if not guessed.empty:
    st.info(
        "Character encoding guessed (the source declares none that fits its text): "
        + ", ".join(f"{r.source} ({r.encoding_guessed})" for r in guessed.itertuples())
        + ". If its texts look garbled, ask the site to declare its charset."
    )
undated = table[table["dates_unknown"].fillna(0) > 0]
if not undated.empty:
    st.info(
        "Items whose date could not be read: "
        + ", ".join(f"{r.source} ({int(r.dates_unknown)})" for r in undated.itertuples())
        + ". They are kept, marked as of unknown date, and count in no spike."
    )

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
        "dates_unknown",
        "encoding_guessed",
        "items_last_fetch",
        "skipped_last_fetch",
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
        "dates_unknown": st.column_config.NumberColumn(
            "Dates unknown", format="%d", help="Mentions stored without a date we could read"
        ),
        "encoding_guessed": st.column_config.TextColumn(
            "Encoding guessed", help="Detected from the text: the source declared none that fits"
        ),
        "items_last_fetch": st.column_config.NumberColumn("Items last fetch", format="%d"),
        "skipped_last_fetch": st.column_config.NumberColumn(
            "Skipped (bad shape)", format="%d", help="Items that did not look as the API should"
        ),
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
downloads.offer(table, "sources")

st.subheader("Model")
current = model.current(cfg.models_dir)
meta = current.meta
trained_at = datetime.fromisoformat(meta["trained_at"]) if meta.get("trained_at") else None
learned = meta.get("sentiment_corrections", 0) + meta.get("intent_corrections", 0)
st.caption(
    f"Mentions are scored with {RULES_VERSION}+{current.version}"
    + (f", trained {trained_at:%Y-%m-%d %H:%M} UTC with {learned} correction(s)."
       if trained_at else ", the model shipped with Tidings.")
)  # fmt: skip
pending = reads.corrections_since(trained_at)
if pending:
    st.info(
        f"{pending} correction(s) made since the model was trained. "
        "`tidings train --rescore` learns from them and re-scores the stored mentions."
    )
