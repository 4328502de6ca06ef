"""Chat and webhook outlets: alert rules' `notify` URLs delivered through the outbox by
Apprise to a real webhook receiver on 127.0.0.1, with mail's guarantees."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from data import store
from data.config import parse_config
from data.errors import ConfigError
from flows.cli import main
from notify.alerts import run_alerts
from notify.email import send_pending
from tests.test_alerts import NOW, SPIKE, baseline_and_spike, config_with

SECRET = "s3cr3t-hook-token"


@pytest.fixture
def hook(httpserver, monkeypatch):
    """A webhook URL whose secret part comes from the environment."""
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    return f"json://127.0.0.1:{httpserver.port}/hooks/${{HOOK_TOKEN}}"


def posts(httpserver):
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.method == "POST"]


def test_a_spike_alert_reaches_the_webhook_and_the_mailbox_exactly_once(
    tmp_path, smtp, httpserver, hook
):
    httpserver.expect_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    config = config_with(tmp_path, smtp, {**SPIKE, "notify": [hook]})
    baseline_and_spike(config)
    report = run_alerts(config, NOW)
    assert report.queued == 2 and report.sent.sent == 2
    subject = "14× the usual negative mentions of Nimbus Notes in the last hour"
    [message] = posts(httpserver)
    assert message["title"] == subject
    assert "usually 0.9 at this hour and weekday" in message["message"]
    assert [m["Subject"] for m in smtp.messages] == [subject]
    # Evaluating again, or sending what is pending again, sends nothing twice.
    run_alerts(config, NOW + timedelta(minutes=5))
    assert send_pending(config, NOW + timedelta(hours=1)).sent == 0
    assert len(posts(httpserver)) == 1 and len(smtp.messages) == 1
    # The store keeps the reference to the secret, never its value.
    with store.connect(config.db_path) as db:
        rows = db.execute("SELECT target, last_error FROM outbox").fetchall()
    assert SECRET not in repr(rows) and ("json://127.0.0.1:" in repr(rows))


def test_a_rule_may_notify_chat_only(tmp_path, smtp, httpserver, hook):
    httpserver.expect_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    config = config_with(tmp_path, smtp, {**SPIKE, "recipients": [], "notify": [hook]})
    baseline_and_spike(config)
    assert run_alerts(config, NOW).sent.sent == 1
    assert len(posts(httpserver)) == 1 and smtp.messages == []


def test_quiet_hours_hold_the_chat_message_until_they_end(tmp_path, smtp, httpserver, hook):
    httpserver.expect_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    rule = {**SPIKE, "quiet_hours": "22:00-07:00", "timezone": "Europe/London", "notify": [hook]}
    config = config_with(tmp_path, smtp, rule)
    late = datetime(2026, 11, 20, 23, 15, tzinfo=UTC)
    from tests.test_alerts import add, mention

    past = [mention(f"w{w}", late - timedelta(days=7 * w, minutes=20)) for w in range(1, 5)]
    add(config, past + [mention(f"n{i}", late - timedelta(minutes=2 + i)) for i in range(10)])
    assert run_alerts(config, late).sent.sent == 0
    assert send_pending(config, late + timedelta(hours=7)).sent == 0  # 06:15 in London
    assert posts(httpserver) == []
    assert send_pending(config, datetime(2026, 11, 21, 7, 1, tzinfo=UTC)).sent == 2
    assert len(posts(httpserver)) == 1 and len(smtp.messages) == 1


def test_a_refusing_webhook_is_retried_then_delivered_once_without_leaking_the_secret(
    tmp_path, smtp, httpserver, hook
):
    httpserver.expect_ordered_request(f"/hooks/{SECRET}", method="POST").respond_with_data(
        "busy", status=503
    )
    httpserver.expect_ordered_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    config = config_with(tmp_path, smtp, {**SPIKE, "recipients": [], "notify": [hook]})
    baseline_and_spike(config)
    first = run_alerts(config, NOW)
    assert first.sent.sent == 0 and first.sent.retrying == 1
    with store.connect(config.db_path) as db:
        (error,) = db.execute("SELECT last_error FROM outbox").fetchone()
    assert error.startswith("json://127.0.0.1/…") and SECRET not in error
    assert send_pending(config, NOW + timedelta(minutes=1)).sent == 0  # backing off
    assert send_pending(config, NOW + timedelta(minutes=5)).sent == 1
    assert send_pending(config, NOW + timedelta(hours=5)).sent == 0
    assert len(posts(httpserver)) == 2  # the refused one, then the one accepted


def test_a_missing_variable_is_said_and_nothing_is_sent(tmp_path, smtp, httpserver, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    url = f"json://127.0.0.1:{httpserver.port}/hooks/${{NO_SUCH_TOKEN}}"
    config = config_with(tmp_path, smtp, {**SPIKE, "recipients": [], "notify": [url]})
    baseline_and_spike(config)
    assert run_alerts(config, NOW).sent.retrying == 1
    with store.connect(config.db_path) as db:
        (error,) = db.execute("SELECT last_error FROM outbox").fetchone()
    assert error == "json://127.0.0.1/…: environment variable NO_SUCH_TOKEN is not set"
    assert posts(httpserver) == []


def test_hourly_digest_goes_to_chat_too(tmp_path, smtp, httpserver, hook):
    httpserver.expect_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    rule = {**SPIKE, "delivery": "hourly", "sensitivity": "eager", "notify": [hook]}
    config = config_with(tmp_path, smtp, rule)
    baseline_and_spike(config, spike=6)
    assert run_alerts(config, NOW).sent.sent == 2
    assert [p["title"] for p in posts(httpserver)] == [
        "Hourly digest: 1 alert(s) from negative-spike"
    ]


@pytest.mark.parametrize(
    "url, problem",
    [
        (
            "bogus://example.com/x",
            "bogus:///…: not a service Apprise knows (e.g. json://, slack://, "
            "mailto://, ntfy://, discord://, workflows:// for Teams)",
        ),
        ("slack://only-one-part", "slack:///…: Apprise cannot read this URL (check its parts)"),
        ("json://exa mple.com/", "a notify URL is one line without spaces"),
    ],
)
def test_a_bad_notify_url_is_one_line_naming_the_rule_and_key(url, problem):
    with pytest.raises(ConfigError) as e:
        parse_config({"alerts": [{**SPIKE, "notify": ["json://127.0.0.1/ok", url]}]})
    assert str(e.value) == f"<config>: alerts[0].notify: item 2 of rule 'negative-spike': {problem}"


def test_the_command_line_reports_a_bad_url_in_one_line(tmp_path, capsys):
    path = tmp_path / "tidings.toml"
    path.write_text(
        '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
        '[[alerts]]\nname = "team-chat"\nkind = "spike"\nnotify = ["slak://T1/B2/C3"]\n'
    )
    assert main(["--config", str(path), "alerts", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"tidings: error: {path}: alerts[0].notify: item 1 of rule 'team-chat': "
        "slak:///…: not a service Apprise knows (e.g. json://, slack://, mailto://, ntfy://, "
        "discord://, workflows:// for Teams)"
    )


def test_a_chat_url_added_on_the_alerts_page_takes_effect(
    tmp_path, smtp, httpserver, hook, monkeypatch
):
    from data import alert_rules
    from tests.conftest import open_view

    httpserver.expect_request(f"/hooks/{SECRET}", method="POST").respond_with_data("ok")
    config = config_with(tmp_path, smtp, SPIKE)
    baseline_and_spike(config)
    toml = (
        f'[database]\npath = "{config.db_path}"\n[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
        '[[alerts]]\nname = "negative-spike"\nkind = "spike"\nnegative_only = true\nrecipients = ["ops@example.com"]\n'
    )
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "alerts")
    [area] = [t for t in at.text_area if t.label.startswith("Chat and webhooks")]
    area.input("bogus://hooks.example/T1")
    at.button[0].click().run()
    assert at.error[0].value == (
        "Not saved: notify: item 1 of rule 'negative-spike': bogus:///…: not a service Apprise "
        "knows (e.g. json://, slack://, mailto://, ntfy://, discord://, workflows:// for Teams)"
    )
    [area] = [t for t in at.text_area if t.label.startswith("Chat and webhooks")]
    area.input(hook)
    at.button[0].click().run()
    assert not at.exception and not at.error
    with store.connect(config.db_path) as db:
        (rule,) = alert_rules.in_effect(config, db)
        stored = db.execute("SELECT definition FROM alert_rules").fetchone()[0]
    assert rule.notify == [hook] and SECRET not in stored
    assert run_alerts(config, NOW).sent.sent == 2
    assert len(posts(httpserver)) == 1
    assert "json://127.0.0.1/…" in at.dataframe[0].value["chat"].tolist()
