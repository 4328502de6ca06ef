"""Alert rules end to end: a real DuckDB file, a real SMTP server on 127.0.0.1 (aiosmtpd)."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from data import inbox, outbox, store
from data.records import Mention, Score
from flows.cli import main
from notify.alerts import run_alerts
from notify.email import send_pending
from tests.conftest import Inbox, make_config

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)  # a Friday


def config_with(tmp_path, smtp, *rules):
    return make_config(
        tmp_path,
        [],
        smtp={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "sender": "Tidings <t@example.com>",
        },
        dashboard={"base_url": "https://tidings.example.com"},
        alerts=list(rules),
    )


def add(config, mentions, label="negative", collected=NOW):
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, mentions, collected)
        store.upsert_scores(
            db,
            [
                Score(m.id, "v", ("Nimbus Notes",), -0.6 if label == "negative" else 0.6, label)
                for m in mentions
            ],
            collected,
        )


def mention(i, when, text="Nimbus Notes lost my notes", reach=None, author=None, title=None):
    return Mention(
        "forum",
        f"m{i}",
        f"https://forum.example/{i}",
        title or f"post {i}",
        text,
        author,
        when,
        reach,
    )


def baseline_and_spike(config, spike=12):
    past = [mention(f"w{w}", NOW - timedelta(days=7 * w, minutes=20)) for w in range(1, 5)]
    now = [mention(f"n{i}", NOW - timedelta(minutes=3 + i)) for i in range(spike)]
    add(config, past + now)


SPIKE = {
    "name": "negative-spike",
    "kind": "spike",
    "negative_only": True,
    "recipients": ["ops@example.com"],
}


def test_a_spike_fires_exactly_one_alert_and_a_second_evaluation_does_not(tmp_path, smtp):
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    first = run_alerts(config, NOW)
    assert [c.key for c in first.fired] == ["Nimbus Notes"] and first.sent.sent == 1
    assert run_alerts(config, NOW + timedelta(minutes=5)).fired == []
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "14× the usual negative mentions of Nimbus Notes in the last hour"
    assert msg["X-Envelope-To"] == "ops@example.com" and msg["Message-ID"].endswith("@tidings>")
    text = msg.get_body(("plain",)).get_content()
    assert "usually 0.9 at this hour and weekday over 4 week(s)" in text
    # The mail shows the mentions behind the spike (three, each linked to its dashboard page),
    # none from the weeks before.
    assert text.count("Original:  https://forum.example/n") == 3
    assert "/mentions?id=" in text and "forum.example/w1" not in text


def test_a_cleared_spike_can_fire_again_after_its_cool_down(tmp_path, smtp):
    config = config_with(tmp_path, smtp, {**SPIKE, "cooldown_hours": 1})
    baseline_and_spike(config)
    assert run_alerts(config, NOW).fired
    assert not run_alerts(config, NOW + timedelta(hours=2)).fired  # cleared: window is quiet
    add(config, [mention(f"later{i}", NOW + timedelta(hours=3, minutes=-i - 1)) for i in range(12)])
    assert run_alerts(config, NOW + timedelta(hours=3)).fired
    assert len(smtp.messages) == 2


def test_normal_levels_do_not_fire(tmp_path, smtp):
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config, spike=2)
    assert run_alerts(config, NOW).fired == [] and smtp.messages == []


def test_quiet_hours_hold_a_mail_and_release_it_after(tmp_path, smtp):
    rule = {**SPIKE, "quiet_hours": "22:00-07:00", "timezone": "Europe/London"}
    config = config_with(tmp_path, smtp, rule)
    late = datetime(2026, 11, 20, 23, 15, tzinfo=UTC)  # 23:15 in London in November
    past = [mention(f"w{w}", late - timedelta(days=7 * w, minutes=20)) for w in range(1, 5)]
    add(config, past + [mention(f"n{i}", late - timedelta(minutes=2 + i)) for i in range(10)])
    report = run_alerts(config, late)
    assert len(report.fired) == 1 and report.queued == 1 and report.sent.sent == 0
    assert send_pending(config, late + timedelta(hours=7)).sent == 0  # 06:15 London
    assert smtp.messages == []
    assert send_pending(config, datetime(2026, 11, 21, 7, 1, tzinfo=UTC)).sent == 1
    assert len(smtp.messages) == 1


def test_a_reminder_fires_after_its_sla_and_not_before_then_escalates(tmp_path, smtp):
    rule = {
        "name": "open-complaints",
        "kind": "reminder",
        "sla_hours": 24,
        "escalate_to": ["boss@example.com"],
    }
    config = config_with(tmp_path, smtp, rule)
    m = mention(1, NOW - timedelta(hours=1))
    add(config, [m])
    with store.connect(config.db_path) as db:
        inbox.update(db, [m.id], "ana@example.com", NOW, assignee="sam@example.com")
    assert run_alerts(config, NOW + timedelta(hours=23)).fired == []
    remind = run_alerts(config, NOW + timedelta(hours=25))
    assert [c.key for c in remind.fired] == [f"{m.id}:remind"]
    assert run_alerts(config, NOW + timedelta(hours=26)).fired == []
    escalate = run_alerts(config, NOW + timedelta(hours=49))
    assert [c.key for c in escalate.fired] == [f"{m.id}:escalate"]
    to = [msg["X-Envelope-To"] for msg in smtp.messages]
    assert to == ["sam@example.com", "boss@example.com, sam@example.com"]
    subject = smtp.messages[0]["Subject"]
    assert subject == f"Reminder: “{m.title}”, assigned to you 25 hours ago, is still open"
    assert smtp.messages[1]["Subject"].startswith(f"Escalation: “{m.title}”, assigned to sam@")
    with store.connect(config.db_path) as db:
        inbox.update(db, [m.id], "sam@example.com", NOW + timedelta(hours=50), status="responded")
    assert run_alerts(config, NOW + timedelta(hours=100)).fired == []


def test_a_reminder_naming_no_lead_escalates_to_the_teams_admins(tmp_path, smtp):
    from data import users

    config = config_with(tmp_path, smtp, {"name": "open", "kind": "reminder", "sla_hours": 24})
    m = mention(1, NOW - timedelta(hours=1))
    add(config, [m])
    with store.connect(config.db_path) as db:
        users.add(db, "lead@example.com", "admin", None, NOW)
        users.add(db, "sam@example.com", "agent", None, NOW)
        inbox.update(db, [m.id], "lead@example.com", NOW, assignee="sam@example.com")
    escalate = run_alerts(config, NOW + timedelta(hours=49))
    assert [c.key for c in escalate.fired] == [f"{m.id}:escalate"]
    assert [msg["X-Envelope-To"] for msg in smtp.messages] == ["lead@example.com, sam@example.com"]


def test_server_refusing_then_accepting_ends_with_exactly_one_mail(tmp_path, smtp):
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    smtp.refuse = "451 4.3.0 Try again later"
    first = run_alerts(config, NOW)
    assert first.sent.retrying == 1 and smtp.messages == []
    smtp.refuse = None
    assert send_pending(config, NOW + timedelta(seconds=30)).sent == 0  # its retry is not due yet
    assert send_pending(config, NOW + timedelta(minutes=5)).sent == 1
    assert send_pending(config, NOW + timedelta(hours=5)).sent == 0
    assert len(smtp.messages) == 1


def test_a_permanent_refusal_is_kept_as_failed(tmp_path, smtp):
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    smtp.refuse = "550 5.1.1 No such user"
    assert run_alerts(config, NOW).sent.failed == 1
    with store.connect(config.db_path) as db:
        row = outbox.outbox_view(db).iloc[0]
    assert row["status"] == "failed" and "550" in row["last_error"]


def test_server_down_keeps_mail_for_later(tmp_path, smtp):
    config = config_with(tmp_path, smtp, SPIKE)
    config = config.model_copy(update={"smtp": config.smtp.model_copy(update={"port": 9})})
    baseline_and_spike(config)
    report = run_alerts(config, NOW)
    assert report.sent.retrying == 1 and "127.0.0.1:9" in report.sent.error


def test_match_rule_names_the_big_unhappy_author_and_escapes_html(tmp_path, smtp):
    rule = {"name": "big-complaints", "kind": "match", "sentiment": "negative", "min_reach": 1000,
            "any_terms": ["refund"], "recipients": ["care@example.com"]}  # fmt: skip
    config = config_with(tmp_path, smtp, rule)
    big = mention(
        1,
        NOW,
        "I want a refund from Nimbus Notes <script>alert(1)</script>",
        12000,
        "@bigco",
        "<b>Refund</b> now",
    )
    small = mention(2, NOW, "refund please, Nimbus Notes", 10, "@nobody")
    add(config, [big, small], collected=NOW - timedelta(minutes=10))
    report = run_alerts(config, NOW)
    assert [c.key for c in report.fired] == [big.id]
    msg = smtp.messages[0]
    assert msg["Subject"] == "“refund” negative mention of Nimbus Notes by @bigco (reach 12,000)"
    html = msg.get_body(("html",)).get_content()
    assert "&lt;b&gt;Refund&lt;/b&gt;" in html and "<b>Refund" not in html
    assert f"https://tidings.example.com/mentions?id={big.id}" in html
    assert run_alerts(config, NOW + timedelta(minutes=5)).fired == []


def test_match_rule_on_an_intent(tmp_path, smtp):
    rule = {
        "name": "churn",
        "kind": "match",
        "intents": ["churn_risk"],
        "recipients": ["cs@example.com"],
    }
    config = config_with(tmp_path, smtp, rule)
    leaving, happy = (
        mention(1, NOW, "Cancelling Nimbus Notes today"),
        mention(2, NOW, "Nimbus Notes is fine"),
    )
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [leaving, happy], NOW - timedelta(minutes=5))
        store.upsert_scores(db, [
            Score(leaving.id, "v", ("Nimbus Notes",), -0.3, "negative", "en", {"churn_risk": 0.8, "complaint": 0.3}),
            Score(happy.id, "v", ("Nimbus Notes",), 0.3, "positive", "en", {"churn_risk": 0.0}),
        ], NOW)  # fmt: skip
    report = run_alerts(config, NOW)
    assert [c.key for c in report.fired] == [leaving.id]
    assert report.fired[0].subject.startswith("Churn risk mention of Nimbus Notes")
    assert report.fired[0].reason == "intent is churn_risk"


def test_comparison_with_a_competitor(tmp_path, smtp):
    rule = {"name": "versus", "kind": "competitor", "recipients": ["pm@example.com"]}
    config = config_with(tmp_path, smtp, rule)
    m = mention(1, NOW, "Nimbus Notes vs Quillpad")
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [m], NOW - timedelta(minutes=5))
        store.upsert_scores(
            db, [Score(m.id, "v", ("Nimbus Notes", "Quillpad"), 0.0, "neutral")], NOW
        )
    report = run_alerts(config, NOW)
    assert [c.subject for c in report.fired] == [
        "Compared with a competitor: Nimbus Notes, Quillpad in one mention"
    ]


def test_hourly_digest_gathers_alerts_into_one_mail(tmp_path, smtp):
    rule = {**SPIKE, "delivery": "hourly", "sensitivity": "eager"}  # 6 against 1 a week
    match = {
        "name": "refunds",
        "kind": "match",
        "any_terms": ["lost"],
        "delivery": "hourly",
        "recipients": ["ops@example.com"],
    }
    config = config_with(tmp_path, smtp, rule, match)
    baseline_and_spike(config, spike=6)
    report = run_alerts(config, NOW)
    assert (
        len(report.fired) == 7 and report.queued == 2
    )  # one digest per rule; old ones are not news
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert subjects == [
        "Hourly digest: 1 alert(s) from negative-spike",
        "Hourly digest: 6 alert(s) from refunds",
    ]
    add(
        config,
        [mention("x", NOW + timedelta(minutes=10), "lost again")],
        collected=NOW + timedelta(minutes=10),
    )
    assert run_alerts(config, NOW + timedelta(minutes=20)).queued == 0  # next digest in an hour
    assert run_alerts(config, NOW + timedelta(minutes=70)).queued == 1


def test_dry_run_says_what_would_fire_and_changes_nothing(tmp_path, smtp, capsys):
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{config.db_path}"\n'
        '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
        '[[alerts]]\nname = "negative-spike"\nkind = "spike"\nnegative_only = true\nrecipients = ["ops@example.com"]\n'
    )
    # The recorded spike is at NOW; the command evaluates at the real time, so shift the data.
    with store.connect(config.db_path) as db:
        shift = store.utcnow() - NOW
        db.execute("UPDATE mentions SET published = published + ?::INTERVAL", [shift])
    assert main(["--config", str(path), "alerts", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "negative-spike (spike) would fire: 14× the usual negative mentions of Nimbus Notes" in out
    )
    assert "why: 12 negative mentions in the last hour" in out and "to: ops@example.com" in out
    with store.connect(config.db_path) as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM alert_state").fetchone()[0] == 0
    assert smtp.messages == []


def test_alert_rules_are_validated(tmp_path):
    from data.config import parse_config
    from data.errors import ConfigError

    with pytest.raises(ConfigError, match=r"alerts\[0\]: unknown timezone 'Mars/Base'"):
        parse_config({"alerts": [{**SPIKE, "timezone": "Mars/Base"}]})
    with pytest.raises(ConfigError, match=r"alerts\[0\]: a spike rule needs recipients"):
        parse_config({"alerts": [{**SPIKE, "recipients": []}]})
    with pytest.raises(ConfigError, match=r"alerts\[0\]: quiet_hours: 25:00"):
        parse_config({"alerts": [{**SPIKE, "quiet_hours": "25:00-07:00"}]})
    with pytest.raises(ConfigError, match=r"alerts\[0\].watch: 'Acme' is not a \[\[watch\]\] name"):
        parse_config({"alerts": [{**SPIKE, "watch": ["Acme"]}]})


def test_alerts_page_shows_rules_spikes_and_failed_mail(tmp_path, smtp, monkeypatch):
    from tests.conftest import open_view

    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    smtp.refuse = "550 5.1.1 No such user"
    run_alerts(config, NOW)
    toml = (
        f'[database]\npath = "{config.db_path}"\n[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
        '[[alerts]]\nname = "negative-spike"\nkind = "spike"\nnegative_only = true\nrecipients = ["ops@example.com"]\n'
    )
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "alerts")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Rules": "1",
        "Spikes firing now": "1",
        "Mail waiting": "0",
        "Mail failed": "1",
    }
    assert "could not be delivered" in at.error[0].value
    mails = at.dataframe[2].value
    assert mails["status"].tolist() == ["failed"] and "550" in mails["last_error"].iloc[0]


def test_rules_edited_on_the_dashboard_take_effect(tmp_path, smtp, monkeypatch):
    from data import alert_rules
    from tests.conftest import open_view

    config = config_with(tmp_path, smtp, {**SPIKE, "recipients": ["old@example.com"]})
    baseline_and_spike(config)
    toml = (
        f'[database]\npath = "{config.db_path}"\n[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
        '[[alerts]]\nname = "negative-spike"\nkind = "spike"\nnegative_only = true\nrecipients = ["old@example.com"]\n'
    )
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "alerts")
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Recipients (comma-separated)"].input("not-an-address")
    at.button[0].click().run()
    assert (
        at.error[0].value == "Not saved: recipients[0]: not an email address (got 'not-an-address')"
    )
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Recipients (comma-separated)"].input("new@example.com, lead@example.com")
    form_inputs["Quiet hours"].input("")
    at.button[0].click().run()
    assert not at.exception
    with store.connect(config.db_path) as db:
        (rule,) = alert_rules.in_effect(config, db)
    assert rule.recipients == ["new@example.com", "lead@example.com"]
    run_alerts(config, NOW)
    assert smtp.messages[0]["X-Envelope-To"] == "new@example.com, lead@example.com"
    assert "dashboard" in at.dataframe[0].value["defined in"].tolist()


def test_login_uses_the_password_from_the_environment_and_never_shows_it(tmp_path, monkeypatch):
    from aiosmtpd.smtp import AuthResult

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"tidings" and auth_data.password == b"s3cret-pw"
        return AuthResult(success=ok)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Inbox()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    handler.port = port
    try:
        config = config_with(tmp_path, handler, SPIKE)
        config = config.model_copy(
            update={"smtp": config.smtp.model_copy(update={"username": "tidings"})}
        )
        baseline_and_spike(config)
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "wrong-pw")
        refused = run_alerts(config, NOW)
        assert refused.sent.sent == 0 and handler.messages == []
        assert "wrong-pw" not in refused.sent.error  # (aiosmtpd drops the session after a refusal)
        with store.connect(config.db_path) as db:
            db.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?",
                [NOW.replace(tzinfo=None)],
            )
        monkeypatch.setenv("TIDINGS_SMTP_PASSWORD", "s3cret-pw")
        assert send_pending(config, NOW + timedelta(minutes=1)).sent == 1
        assert len(handler.messages) == 1
        with store.connect(config.db_path) as db:
            stored = " ".join(
                str(v) for row in db.execute("SELECT * FROM outbox").fetchall() for v in row
            )
        assert "s3cret-pw" not in stored and "wrong-pw" not in stored
    finally:
        controller.stop()
