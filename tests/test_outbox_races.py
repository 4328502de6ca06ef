"""Two workers evaluating the same alert rule, or the same client's digest, at the same moment
queue and send one mail between them: on the DuckDB file (two threads, each with its own
connections) and on a DuckLake (a PostgreSQL catalog on 127.0.0.1, Parquet files in tmp_path),
with a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from data import clients, store
from data.clients import Client
from data.records import Mention, Score
from notify import alerts, push
from tests.conftest import make_config
from tests.services import binaries, running_postgres

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
PG = binaries()
LAKES = ("alerts", "digests")  # a catalog database per test on a lake


@pytest.fixture(scope="module")
def catalog():
    if PG is None:
        pytest.skip("PostgreSQL's binaries are absent (Debian: apt-get install postgresql)")
    with running_postgres(PG, *LAKES) as words:
        yield words


@pytest.fixture(params=["file", "lake"])
def database(request, tmp_path) -> Callable[[str], dict]:
    """The `[database]` section of a test's store: a DuckDB file, or a lake of its own."""

    def section(name: str) -> dict:
        if request.param == "file":
            return {"path": str(tmp_path / "tidings.duckdb"), "lock_timeout_seconds": 30}
        words = request.getfixturevalue("catalog").replace("dbname=alerts", f"dbname={name}")
        return {
            "path": str(tmp_path / "tidings.duckdb"),
            "url": f"ducklake:postgres:{words}",
            "data_path": str(tmp_path / "lake"),
        }

    return section


def config_for(tmp_path, smtp, database: dict, **sections):
    return make_config(
        tmp_path,
        [{"id": "industry-blog", "url": "https://blog.example/feed", "knowledge": True}],
        database=database,
        smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none",
              "sender": "Tidings <t@example.com>"},
        **sections,
    )  # fmt: skip


def at_once(monkeypatch, module, decides: str, work: Callable[[], object]) -> list[object]:
    """Run `work` in two threads at once, each pausing once after `module.decides` (what is
    due, read in its transaction) until the other has decided too: two workers deciding at the
    same moment, before either writes. Returns both results; raises what either raised."""
    barrier = threading.Barrier(2, timeout=120)
    decide = getattr(module, decides)
    paused = threading.local()

    def decide_then_wait(*args, **kwargs):
        decided = decide(*args, **kwargs)
        if not getattr(paused, "once", False):
            paused.once = True
            barrier.wait()
        return decided

    monkeypatch.setattr(module, decides, decide_then_wait)
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as e:  # noqa: BLE001 — handed to the test's thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker never finished"
    if errors:
        raise errors[0]
    return results


def outbox_ids(config) -> list[str]:
    with store.connect(config.db_path) as db:
        return [i for (i,) in db.execute("SELECT id FROM outbox").fetchall()]


def test_two_workers_evaluating_one_alert_rule_at_once_send_one_mail(
    tmp_path, smtp, database, monkeypatch
):
    rule = {"name": "negative-spike", "kind": "spike", "negative_only": True,
            "recipients": ["ops@example.com"]}  # fmt: skip
    config = config_for(tmp_path, smtp, database("alerts"), alerts=[rule])
    past = [NOW - timedelta(days=7 * w, minutes=20) for w in range(1, 5)]
    spike = [NOW - timedelta(minutes=3 + i) for i in range(12)]
    mentions = [
        Mention("forum", f"m{i}", f"https://forum.example/{i}", f"post {i}",
                "Nimbus Notes lost my notes", None, when, None)
        for i, when in enumerate(past + spike)
    ]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, mentions, NOW)
        store.upsert_scores(
            db, [Score(m.id, "v", ("Nimbus Notes",), -0.6, "negative") for m in mentions], NOW
        )
    reports = at_once(monkeypatch, alerts, "evaluate", lambda: alerts.run_alerts(config, NOW))
    assert sum(r.queued for r in reports) == 1
    assert len(outbox_ids(config)) == 1
    assert [m["Subject"] for m in smtp.messages] == [
        "14× the usual negative mentions of Nimbus Notes in the last hour"
    ]


def test_two_workers_pushing_one_clients_digest_at_once_send_one_mail(
    tmp_path, smtp, database, monkeypatch
):
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    config = config_for(
        tmp_path, smtp, database("digests"), push={"base_url": "https://feeds.example.com"}
    )
    articles = [
        Mention("industry-blog", f"a{i}", f"https://blog.example/{i}", title, title, "Editor",
                monday - timedelta(hours=5))
        for i, title in enumerate(["Remote work policies that actually work in 2026",
                                   "Security basics for remote work"])
    ]  # fmt: skip
    alice = Client(id="alice", name="Alice", email="alice@example.com",
                   interests=["remote work"], hour=8)  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, articles, monday, knowledge=frozenset({"industry-blog"}))
        clients.save(db, alice, monday - timedelta(days=30))
    reports = at_once(monkeypatch, push, "next_digests", lambda: push.push_digests(config, monday))
    assert sum(len(r.sent_to) for r in reports) == 1
    assert len(outbox_ids(config)) == 1
    assert [m["X-Envelope-To"] for m in smtp.messages] == ["alice@example.com"]
    with store.connect(config.db_path) as db:
        (deliveries,) = db.execute("SELECT count(*) FROM deliveries").fetchone()
    assert deliveries == 2  # each article delivered once


def test_alert_and_digest_deployments_run_one_flow_run_at_a_time(tmp_path, prefect_server):
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.deployments import ALERTS, DIGESTS, served_deployments

    config = make_config(tmp_path, [])

    async def limits() -> dict[str, int]:
        found = {}
        async with get_client() as client:
            for d in await served_deployments(config):
                if d.name in (ALERTS, DIGESTS):
                    applied = await client.read_deployment(await d.aapply())
                    found[d.name] = applied.global_concurrency_limit.limit
        return found

    assert asyncio.run(limits()) == {ALERTS: 1, DIGESTS: 1}
