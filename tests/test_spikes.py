"""Spike detection on plain counts, and `tidings alerts backtest` over a CSV and a real store."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from data import store
from data.config import AlertRule
from data.errors import TidingsError
from data.records import Mention, Score
from flows.cli import main
from notify import backtest, rules
from notify.alerts import dry_run
from tests.conftest import WATCH

RULE = AlertRule.model_construct(name="spike", kind="spike")  # every setting default
DAY = 288  # 5-minute steps
HOUR = 12
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def counts(days, per_hour, seed=0, dispersion=0.0, shape=None, weekend=1.0):
    """Mentions per 5-minute step: a daily shape (24 hourly weights), weekends `weekend` times
    busier, and each hour's rate drawn around its mean (negative binomial when dispersion > 0)."""
    rng = np.random.default_rng(seed)
    shape = np.ones(24) if shape is None else np.asarray(shape, dtype=float) / np.mean(shape)
    hours = np.arange(days * 24)
    mean = per_hour * shape[hours % 24] * np.where((hours // 24) % 7 >= 5, weekend, 1.0)
    if dispersion:
        mean = mean * rng.gamma(1 / dispersion, dispersion, len(mean))
    return rng.poisson(np.repeat(mean / HOUR, HOUR))


def alerts(c, rule=RULE, since_day=0):
    series = backtest.StepCounts("term", START + rules.STEP, np.asarray(c))
    return backtest.backtest(rule, [series], START + timedelta(days=since_day))


def burst(c, at, n):
    """Add n mentions spread over the hour ending at step `at`."""
    c = np.array(c)
    c[at - HOUR : at] += n // HOUR
    c[at - 1] += n % HOUR
    return c


DAYTIME = [1, 1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 2, 2, 1]


def test_a_term_with_three_mentions_a_day_spikes_at_eight_in_an_hour_not_at_two():
    c = counts(28, 3 / 24, seed=1)
    assert alerts(c) == []  # four weeks of its own noise: not one alert
    assert rules.spike(RULE, "Nimbus", burst(c, len(c), 8)) is not None
    assert rules.spike(RULE, "Nimbus", burst(c, len(c), 2)) is None


def test_thousands_an_hour_with_overdispersed_noise_alert_only_on_a_real_spike():
    c = counts(42, 2000, seed=2, dispersion=0.05, shape=DAYTIME)
    assert len(alerts(c, since_day=14)) <= 1  # four weeks at ±22 % an hour
    end = len(c) - 4 * HOUR  # mid-afternoon
    spiked = burst(c[:end], end, 3 * int(c[end - HOUR : end].sum()))
    condition = rules.spike(RULE, "Nimbus", spiked)
    assert condition is not None and condition.subject.startswith("4× the usual mentions")
    assert "at this hour and weekday over 4 week(s)" in condition.reason or "over the last 7" in (
        condition.reason
    )


def test_past_spikes_in_the_baseline_do_not_mask_the_next():
    c = counts(35, 20, seed=3, shape=DAYTIME)
    end = len(c) - 6 * HOUR
    past = c[:end]
    for days_ago in (7, 3, 12):  # same hour a week ago, and two other days
        past = burst(past, end - days_ago * DAY, 400)
    assert rules.spike(RULE, "Nimbus", burst(past, end, 400)) is not None


def test_a_busy_weekend_and_a_busy_afternoon_are_usual_not_spikes():
    c = counts(42, 30, seed=4, shape=DAYTIME, weekend=3.0)
    assert alerts(c, since_day=14) == []


def test_no_alert_before_five_days_of_history():
    # two days to know what is usual, three more to know the term's ordinary daily peaks
    c = counts(4, 5, seed=5)
    assert rules.spike(RULE, "Nimbus", burst(c, len(c), 200)) is None
    c = counts(5, 5, seed=5)
    assert rules.spike(RULE, "Nimbus", burst(c, len(c), 200)) is not None


def test_quiet_is_quieter_than_normal_and_eager_louder():
    c = counts(42, 200, seed=6, dispersion=0.3, shape=DAYTIME)
    n = {
        s: len(alerts(c, RULE.model_copy(update={"sensitivity": s}), 14))
        for s in ("quiet", "normal", "eager")
    }
    assert n["quiet"] <= n["normal"] <= n["eager"] and n["quiet"] < n["eager"]


def test_a_backtest_decides_each_step_as_the_live_evaluation_does():
    c = counts(42, 50, seed=7, dispersion=0.2, shape=DAYTIME)
    for day in (20, 30, 38):
        c = burst(c, day * DAY + 14 * HOUR, 600)
    ends = np.arange(28 * DAY, len(c) + 1)
    scores = rules.spike_scores(RULE, c, ends)
    fired = set(ends[scores.fires])
    assert fired  # the bursts
    history = rules.history_steps(RULE)
    for i in [*range(0, len(ends), 97), *np.flatnonzero(scores.fires)]:
        e = ends[i]
        live = rules.spike_scores(RULE, c[max(0, e - history) : e], [min(e, history)])
        assert live.fires[0] == scores.fires[i]
        assert live.observed[0] == scores.observed[i]
        assert np.isclose(live.expected[0], scores.expected[i], equal_nan=True)


def test_negative_binomial_tail():
    def brute(k, mean, alpha):
        r = 1 / alpha
        p = r / (r + mean)
        pmf = [
            math.exp(
                math.lgamma(i + r) - math.lgamma(r) - math.lgamma(i + 1)
                + r * math.log(p) + i * math.log1p(-p)
            )
            for i in range(k)
        ]  # fmt: skip
        return 1 - sum(pmf)

    for k, mean, alpha in [(12, 5, 0.1), (900, 600, 0.05), (10, 3, 0.5), (1, 0.1, 0.01)]:
        assert math.isclose(rules.nb_tail(k, mean, alpha), brute(k, mean, alpha), rel_tol=1e-6)
    poisson = 1 - sum(math.exp(-4) * 4**i / math.factorial(i) for i in range(11))
    assert math.isclose(rules.nb_tail(11, 4, 1e-9), poisson, rel_tol=1e-4)


def test_csv_rows_of_any_bin_size_land_on_the_five_minute_grid():
    text = "when,n\n2026-03-02T02:00Z,7\n2026-03-02T00:00:00,4\n\n2026-03-02 01:00+00:00,0\n"
    s = backtest.csv_series(text, "x.csv", "x")
    assert s.bin == timedelta(hours=1) and s.first_end == datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert s.per_step.sum() == 11 and s.per_step[0] == 4 and s.per_step[24] == 7
    assert len(s.per_step) == 25


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2026-03-02T00:00,4\nyesterday,3\n", "x.csv:2: 'yesterday' is not a timestamp"),
        ("2026-03-02T00:00,4\n2026-03-02T00:05,-1\n", "x.csv:2: '-1' is not a count"),
        ("2026-03-02T00:00,4\n2026-03-02T00:05\n", "x.csv:2: expected timestamp,count"),
        ("timestamp,count\n", "x.csv: no timestamp,count rows"),
    ],
)
def test_bad_csv_is_one_error_naming_file_and_line(text, error):
    with pytest.raises(TidingsError, match=error):
        backtest.csv_series(text, "x.csv", "x")


def write_csv(path, c, step=timedelta(minutes=5)):
    rows = [f"{(START + i * step).isoformat()},{n}" for i, n in enumerate(c)]
    path.write_text("timestamp,count\n" + "\n".join(rows) + "\n")


def test_backtest_command_prints_each_alert_of_a_csv_as_json(tmp_path, capsys):
    c = burst(counts(35, 40, seed=8, shape=DAYTIME), 30 * DAY + 15 * HOUR, 500)
    path = tmp_path / "brand.csv"
    write_csv(path, c)
    assert main(["alerts", "backtest", str(path)]) == 0
    out, err = capsys.readouterr()
    found = [json.loads(line) for line in out.splitlines()]
    assert [a["key"] for a in found] == ["brand"]
    at = datetime.fromisoformat(found[0]["at"])
    spike_end = START + (30 * DAY + 15 * HOUR) * rules.STEP
    assert spike_end - timedelta(hours=1) < at <= spike_end  # minutes into the spike
    assert found[0]["observed"] > 1.5 * found[0]["expected"] and 20 < found[0]["expected"] < 100
    assert set(found[0]) >= {"at", "key", "observed", "expected", "reason"}
    assert "spike (normal): 1 alert(s) for 1 key(s)" in err


def test_backtest_of_hourly_counts_and_a_window_shorter_than_the_bins(tmp_path, capsys):
    hourly = counts(35, 40, seed=9).reshape(-1, HOUR).sum(axis=1)
    hourly[30 * 24 + 15] += 500
    path = tmp_path / "hourly.csv"
    write_csv(path, hourly, timedelta(hours=1))
    assert main(["alerts", "backtest", str(path), "--sensitivity", "quiet"]) == 0
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(found) == 1 and found[0]["observed"] > 500
    write_csv(path, hourly[::24], timedelta(days=1))
    assert main(["alerts", "backtest", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: counts are 24 hours apart, longer than rule spike's 1-hour window" in err


def mention(i, when):
    return Mention("forum", f"m{i}", f"https://forum.example/{i}", f"post {i}",
                   "Nimbus Notes again", None, when, None)  # fmt: skip


def store_with_a_spike(tmp_path, now):
    """Two mentions an hour of Nimbus Notes for thirty days, and forty in the hour three days
    ago; a config with a spike rule for ours and one for competitors."""
    rng = np.random.default_rng(10)
    minutes = rng.uniform(0, 24 * 60 * 30, 30 * 24 * 2)
    spike_at = now - timedelta(days=3)
    times = [now - timedelta(minutes=float(m)) for m in minutes]
    times += [spike_at - timedelta(minutes=1 + i) for i in range(40)]
    mentions = [mention(i, t) for i, t in enumerate(times)]
    db_path = tmp_path / "tidings.duckdb"
    with store.connect(db_path) as db:
        store.upsert_mentions(db, mentions, now)
        scores = [Score(m.id, "v", ("Nimbus Notes",), -0.6, "negative") for m in mentions]
        store.upsert_scores(db, scores, now)
    toml = (
        f'[database]\npath = "{db_path}"\n'
        + "".join(
            f'[[watch]]\nname = "{w["name"]}"\nkind = "{w.get("kind", "brand")}"\n'
            f"terms = {json.dumps(w['terms'])}\n"
            for w in WATCH
        )
        + '[[alerts]]\nname = "ours"\nkind = "spike"\nrecipients = ["ops@example.com"]\n'
        + '[[alerts]]\nname = "theirs"\nkind = "competitor"\nrecipients = ["ops@example.com"]\n'
    )
    return toml, spike_at


def test_backtest_over_the_store_finds_the_spike_the_live_rule_fires_on(tmp_path, capsys):
    toml, spike_at = store_with_a_spike(tmp_path, datetime.now(UTC).replace(microsecond=0))
    config = tmp_path / "tidings.toml"
    config.write_text(toml)
    assert main(["--config", str(config), "alerts", "backtest", "--since", "20d"]) == 0
    out, err = capsys.readouterr()
    found = [json.loads(line) for line in out.splitlines()]
    assert {(a["rule"], a["key"]) for a in found} == {("ours", "Nimbus Notes")}
    near = [
        a for a in found if abs(datetime.fromisoformat(a["at"]) - spike_at) < timedelta(hours=1)
    ]
    assert len(near) == 1 and len(found) <= 2  # the spike; at most one bump of two-an-hour noise
    at = datetime.fromisoformat(near[0]["at"])
    assert spike_at - timedelta(minutes=30) < at <= spike_at + timedelta(minutes=5)
    assert f"ours (normal): {len(found)} alert(s) for 2 key(s)" in err
    assert "theirs (normal): 0 alert(s) for 1 key(s)" in err

    from data.config import load_config

    live = dry_run(load_config(config), at)
    fired = {rule.name: [c.key for c in cs] for rule, cs in live}
    assert fired["ours"] == ["Nimbus Notes"]
    assert dry_run(load_config(config), at - rules.STEP)[0][1] == []  # not a step earlier

    assert main(["--config", str(config), "alerts", "backtest", "--rule", "nope"]) == 2
    assert (
        "--rule: no alert rule named 'nope' (spike rules: ours, theirs)" in capsys.readouterr().err
    )


def test_alerts_page_backtests_a_rule_before_it_is_saved(tmp_path, monkeypatch):
    from data import alert_rules
    from data.config import load_config
    from tests.conftest import open_view

    toml, _ = store_with_a_spike(tmp_path, datetime.now(UTC).replace(microsecond=0))
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "alerts")
    at.radio[0].set_value("quiet")
    backtest_button = next(b for b in at.button if b.label.startswith("Backtest"))
    backtest_button.click().run()
    assert not at.exception
    assert at.info[0].value.startswith("ours (quiet) would have sent 1 alert(s) in the last 90")
    assert at.info[0].value.endswith(": Nimbus Notes 1.")
    with store.connect(tmp_path / "tidings.duckdb") as db:  # nothing saved
        assert alert_rules.edits(db) == {}
        (ours, _) = alert_rules.in_effect(load_config(tmp_path / "tidings.toml"), db)
    assert ours.sensitivity == "normal"
