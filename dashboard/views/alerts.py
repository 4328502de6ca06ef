"""Alerts: the rules (editable here), the spikes firing, and every mail sent or waiting."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import auth, downloads, mention_detail, reads
from data import alert_rules, outlets, store, users
from flows.cli import mail_goes_nowhere
from notify import backtest

st.title("Alerts")
mention_detail.ask_actor()
cfg = reads.config()
if why := mail_goes_nowhere(cfg):
    st.warning(why)
rules, edited = reads.rules_in_effect()
active, mails = reads.alerts_overview()
failed = mails[mails["status"] == "failed"]
waiting = mails[mails["status"].isin(["pending", "sending"])]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Rules", len(rules))
c2.metric("Spikes firing now", len(active))
c3.metric("Mail waiting", len(waiting))
c4.metric("Mail failed", len(failed))
if not failed.empty:
    st.error(
        f"{len(failed)} mail(s) could not be delivered and will not be retried; "
        "the reason is in the outbox below."
    )

BACKTEST_DAYS = 90


def _backtest(definition: dict) -> None:
    """How many alerts a rule, as edited and not yet saved, would have sent lately."""
    # A rule still without recipients can be tried before anyone is chosen to receive it.
    trial = {**definition, "recipients": definition["recipients"] or ["nobody@example.com"]}
    try:
        rule = alert_rules.validate(cfg, trial)
    except ValueError as e:
        st.error(f"Not backtested: {e}")
        return
    if rule.kind in ("engagement", "satisfaction"):
        st.info("The backtest replays spike rules; this one acts on clients' clicks and answers.")
        return
    if rule.kind not in ("spike", "competitor"):
        st.info("The backtest replays spike rules; this one fires on single mentions.")
        return
    now = store.utcnow()
    since = timedelta(days=BACKTEST_DAYS)
    with st.spinner("Replaying the last 90 days every 5 minutes…"):
        with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
            series = backtest.store_series(db, rule, cfg.watch, now, since)
        alerts = backtest.backtest(rule, series, now - since)
    per_key = pd.Series([a.key for a in alerts], dtype=object).value_counts()
    which = ", ".join(f"{k} {n}" for k, n in per_key.items())
    st.info(
        f"{rule.name} ({rule.sensitivity}) would have sent {len(alerts)} alert(s) in the last "
        f"{BACKTEST_DAYS} days" + (f": {which}." if which else ".")
    )
    if alerts:
        st.dataframe(
            pd.DataFrame([a.as_json() for a in alerts]).drop(columns="rule"),
            hide_index=True,
            width="stretch",
        )


st.subheader("Rules")
if rules:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "rule": r.name,
                    "kind": r.kind,
                    "watch": ", ".join(r.watch) or "(default)",
                    "delivery": r.delivery,
                    "recipients": ", ".join(r.recipients or r.escalate_to) or "(assignee)",
                    "chat": ", ".join(outlets.shown(u) for u in r.notify) or "—",
                    "quiet hours": f"{r.quiet_hours} {r.timezone}" if r.quiet_hours else "—",
                    "cool-down (h)": r.cooldown_hours,
                    "enabled": r.enabled,
                    "defined in": "dashboard" if r.name in edited else "config file",
                }
                for r in rules
            ]
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.info("No alert rule yet: add one below, or [[alerts]] in your tidings.toml.")

with st.expander("Edit a rule, or add one" if auth.allowed("rules") else "A rule in full"):
    names = [r.name for r in rules]
    choice = st.selectbox("Rule", [*names, "New rule…"], key="rule_choice")
    base = next((r for r in rules if r.name == choice), None)
    d = base.model_dump() if base else {}
    kinds = ["spike", "match", "competitor", "reminder", "engagement", "satisfaction"]
    with st.form("rule"):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name", value=d.get("name", ""), disabled=base is not None)
        kind = c2.selectbox("Kind", kinds, index=kinds.index(d.get("kind", "spike")))
        enabled = c3.checkbox("Enabled", value=d.get("enabled", True))
        watch = st.multiselect(
            "Watched entities (empty: ours, or competitors for a competitor rule)",
            [w.name for w in cfg.watch],
            default=d.get("watch", []),
        )
        recipients = st.text_input(
            "Recipients (comma-separated)", ", ".join(d.get("recipients", []))
        )
        notify = st.text_area(
            "Chat and webhooks (one Apprise URL a line: slack://…, workflows://… for Teams, json://…)",
            "\n".join(d.get("notify", [])),
            height=68,
            help="Write secrets as ${VARIABLE}: the value is read from the environment when a "
            "message is sent, and never stored.",
        )
        c1, c2, c3 = st.columns(3)
        delivery = c1.selectbox(
            "Delivery", ["instant", "hourly", "daily"],
            index=["instant", "hourly", "daily"].index(d.get("delivery", "instant")),
        )  # fmt: skip
        quiet = c2.text_input("Quiet hours", d.get("quiet_hours") or "", placeholder="22:00-07:00")
        zone = c3.text_input("Time zone", d.get("timezone", "UTC"))
        c1, c2, c3, c4 = st.columns(4)
        cooldown = c1.number_input("Cool-down (h)", 0.0, value=float(d.get("cooldown_hours", 6)))
        window = c2.number_input("Window (h)", 1, 168, value=int(d.get("window_hours", 1)))
        minimum = c3.number_input("Min mentions", 1, value=int(d.get("min_mentions", 5)))
        negative = c4.checkbox("Negative only", value=d.get("negative_only", False))
        sensitivities = ["quiet", "normal", "eager"]
        sensitivity = st.radio(
            "Spike sensitivity: quiet alerts only on the largest spikes, eager on smaller ones",
            sensitivities,
            index=sensitivities.index(d.get("sensitivity", "normal")),
            horizontal=True,
        )
        st.caption("Match rules")
        c1, c2, c3 = st.columns(3)
        any_terms = c1.text_input("Any of these words", ", ".join(d.get("any_terms", [])))
        sentiments = ["", "negative", "neutral", "positive"]
        sentiment = c2.selectbox(
            "Sentiment", sentiments, index=sentiments.index(d.get("sentiment") or "")
        )
        reach = c3.number_input("Min reach (0: any)", 0, value=int(d.get("min_reach") or 0))
        st.caption("Reminder rules")
        c1, c2 = st.columns(2)
        sla = c1.number_input("SLA (h)", 0.5, value=float(d.get("sla_hours", 24)))
        escalate = c2.text_input(
            "Escalate to (comma-separated)", ", ".join(d.get("escalate_to", []))
        )
        st.caption("Client rules (they also tell each client's account owner)")
        c1, c2, c3, c4 = st.columns(4)
        quiet_digests = c1.number_input(
            "Digests without a click", 1, 50, value=int(d.get("quiet_digests", 3))
        )
        busy = c2.number_input("Clicks to offer more", 1, 500, value=int(d.get("busy_clicks", 5)))
        low = c3.number_input("Low answer (of 5)", 1, 4, value=int(d.get("low_answer", 2)))
        drop = c4.number_input("Drop (points)", 1, 4, value=int(d.get("drop", 2)))
        save = auth.allowed("rules") and st.form_submit_button("Save rule", type="primary")
        check = st.form_submit_button(
            f"Backtest: alerts it would have sent in the last {BACKTEST_DAYS} days"
        )

    def _list(text: str) -> list[str]:
        return [part.strip() for part in text.split(",") if part.strip()]

    if save or check:
        definition = {
            **d,
            "name": (base.name if base else name.strip()),
            "kind": kind, "enabled": enabled, "watch": watch, "recipients": _list(recipients),
            "notify": [u.strip() for u in notify.splitlines() if u.strip()],
            "delivery": delivery, "quiet_hours": quiet.strip() or None, "timezone": zone.strip(),
            "cooldown_hours": cooldown, "window_hours": window, "min_mentions": minimum,
            "negative_only": negative, "any_terms": _list(any_terms),
            "sentiment": sentiment or None, "min_reach": reach or None, "sla_hours": sla,
            "escalate_to": _list(escalate), "sensitivity": sensitivity,
            "quiet_digests": quiet_digests, "busy_clicks": busy, "low_answer": low, "drop": drop,
        }  # fmt: skip
    if check:
        _backtest(definition)
    if save:
        who = auth.require("rules")
        try:
            rule = alert_rules.validate(cfg, definition)
        except ValueError as e:
            st.error(f"Not saved: {e}")
        else:
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                alert_rules.save(db, rule, who, store.utcnow())
                users.record(db, who, "rule.save", rule.name, store.utcnow())
            st.cache_data.clear()
            st.toast(f"Rule {rule.name} saved.")
            st.rerun()
    if base is not None and base.name in edited:
        in_file = any(r.name == base.name for r in cfg.alerts)
        label = "Back to the config file's version" if in_file else "Delete this rule"
        if auth.allowed("rules") and st.button(label):
            who = auth.require("rules")
            with store.connect(cfg.db_path, cfg.database.lock_timeout_seconds) as db:
                alert_rules.reset(db, base.name)
                users.record(db, who, "rule.reset", base.name, store.utcnow(), label)
            st.cache_data.clear()
            st.rerun()

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
order = {"failed": 0, "pending": 1, "sending": 1}
downloads.offer(mails, "outbox")
st.dataframe(
    mails.sort_values("status", key=lambda s: s.map(order).fillna(2), kind="stable"),
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
