"""Tidings run as a Prefect pipeline: `tidings serve` brings up a local Prefect server and serves
the pass, the alerts and the digests as deployments on the configured schedules; `tidings run`
uses that server (else a temporary one) and ends quietly; workers on a process work pool share
the passes. Everything on 127.0.0.1, against a real Prefect server started for the test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from data.config import parse_config
from flows.deployments import sources_of_group
from tests.conftest import DEMO_FEEDS
from tests.services import (
    TIDINGS,
    TIMEOUT,
    ctrl_c,
    ctrl_c_as_in_a_terminal,
    mentions_per_source,
    start,
    write_config,
)
from tests.test_serve import wait_for_line


def feed(httpserver, name: str) -> str:
    body = (DEMO_FEEDS / f"{name}.xml").read_bytes()
    httpserver.expect_request(f"/{name}.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    return httpserver.url_for(f"/{name}.xml")


def _api(config_path: Path) -> str:
    from data.config import load_config

    return load_config(config_path).prefect.api_url


def post(url: str, body: dict | None = None) -> list[dict]:
    r = httpx.post(url, json=body or {}, timeout=30)
    r.raise_for_status()
    return r.json()


def server_processes(port: int) -> list[str]:
    """Command lines of the processes serving Prefect on this port."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in cmd]
        if "server" in args and "--port" in args and str(port) in args:
            found.append(" ".join(args))
    return found


def scheduled_runs(url: str, deployment_id: str) -> list[dict]:
    """The deployment's runs the server has scheduled, waiting for its scheduler's first
    round (at its start, then every minute) at most a generous time."""
    give_up = time.monotonic() + TIMEOUT
    while True:
        runs = post(
            f"{url}/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [deployment_id]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
            },
        )
        if runs or time.monotonic() > give_up:
            return runs
        time.sleep(2)


def test_sources_split_into_groups_each_source_in_exactly_one():
    config = parse_config(
        {"sources": [{"id": f"s{i}", "url": f"https://x.example/{i}"} for i in range(40)]}
    )
    groups = [sources_of_group(config.sources, g, 3) for g in range(3)]
    ids = [s.id for group in groups for s in group]
    assert sorted(ids) == sorted(s.id for s in config.sources)
    assert all(groups)  # 40 sources: every group has a share
    fewer = sources_of_group(config.sources[:20], 1, 3)
    assert {s.id for s in fewer} <= {s.id for s in groups[1]}  # a source keeps its group


def test_serve_schedules_deployments_runs_a_pass_and_ctrl_c_leaves_no_server(httpserver, tmp_path):
    config = write_config(
        tmp_path,
        {"reviews": feed(httpserver, "app-reviews")},
        prefect="alerts_minutes = 7\ndigests_minutes = 11",
    )
    url = _api(config)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    proc = start(["serve", "--no-dashboard"], tmp_path)
    try:
        wait_for_line(proc, "source(s) fetched")  # the first pass, run by the served deployment
        deployments = {d["name"]: d for d in post(f"{url}/deployments/filter")}
        every = {
            name: [s["schedule"].get("interval") for s in d["schedules"]]
            for name, d in deployments.items()
        }
        assert every == {"pass": [300.0], "alerts": [420.0], "digests": [660.0]}
        vacuum = httpx.get(f"{url}/admin/settings", timeout=30).json()["server"]["services"]
        assert {"flow_runs"} <= set(vacuum["db_vacuum"]["enabled"])  # old runs are forgotten
        assert vacuum["db_vacuum"]["retention_period"] in (30 * 86400, 30 * 86400.0, "P30D")
        runs = post(f"{url}/flow_runs/filter")
        passes = [r for r in runs if r["deployment_id"] == deployments["pass"]["id"]]
        # The filter's order is the server's: the scheduler's next pass may come first.
        assert any(r["state_type"] in ("COMPLETED", "RUNNING") for r in passes), passes
        # The server's scheduler puts the next passes on the calendar (with SQLAlchemy 2.1 it
        # failed at each attempt, and only the first pass ever ran).
        assert scheduled_runs(url, deployments["pass"]["id"]), "no pass was ever scheduled"
        assert mentions_per_source(config).get("reviews", 0) > 0

        # `tidings run` beside it uses this server: its run is in the same history.
        before = len(post(f"{url}/flow_runs/filter"))
        done = subprocess.run(
            [TIDINGS, "run", "--all"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "1 source(s) fetched" in done.stdout
        assert len(post(f"{url}/flow_runs/filter")) > before
    finally:
        output, _ = ctrl_c(proc)
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
    assert not server_processes(port), "the Prefect server outlived `tidings serve`"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=5)


def test_run_without_a_server_uses_a_temporary_one_and_ends_quietly(httpserver, tmp_path):
    config = write_config(tmp_path, {"reviews": feed(httpserver, "app-reviews")})
    done = subprocess.run(
        [TIDINGS, "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "1 source(s) fetched" in done.stdout
    assert mentions_per_source(config)["reviews"] > 0
    # Its server is gone with it, and its log kept beside the database.
    assert (tmp_path / "prefect" / "server.log").exists()
    assert not [p for p in server_processes(0) if str(tmp_path) in p]


def test_two_workers_on_a_process_pool_share_the_passes(httpserver, tmp_path):
    import asyncio

    from data.config import load_config
    from flows.deployments import deploy_to_work_pool
    from flows.pipeline import pass_lock
    from flows.server import prefect_server

    names = ["reviews", "forum", "blog", "press", "status", "jobs"]
    url = feed(httpserver, "app-reviews")
    # Six sources on one feed (ids differ, so their mentions do): two groups share them.
    path = write_config(
        tmp_path,
        {n: f"{url}?{n}" for n in names},
        prefect='work_pool = "tidings-test"\npass_groups = 2',
    )
    config = load_config(path)
    assert all(sources_of_group(config.sources, g, 2) for g in range(2))
    env = {
        **os.environ,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
    }
    workers: list[subprocess.Popen] = []
    with prefect_server(config, long_lived=True) as server:
        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment

        deployed = asyncio.run(deploy_to_work_pool(config))
        assert sorted(deployed) == [
            "tidings-scheduled-pass/pass-1-of-2",
            "tidings-scheduled-pass/pass-2-of-2",
        ]
        try:
            for i in (1, 2):
                workers.append(
                    subprocess.Popen(
                        [
                            TIDINGS,
                            "--config",
                            str(path),
                            "worker",
                            "--name",
                            f"w{i}",
                            "--limit",
                            "1",
                        ],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        start_new_session=True,
                        preexec_fn=ctrl_c_as_in_a_terminal,
                    )
                )
            # While the test holds the store's pass lock, each run waits in it, Running; each
            # worker takes one run at most, so two runs Running at once are two workers'.
            with pass_lock(config.db_path):
                runs = [
                    run_deployment(name, timeout=0, parameters={"wait_seconds": TIMEOUT})
                    for name in deployed
                ]
                states = wait_for_states(server.api_url, runs, {"RUNNING"}, workers)
            assert set(states) == {"RUNNING"}
            assert wait_for_states(server.api_url, runs, {"COMPLETED"}, workers) == [
                "COMPLETED",
                "COMPLETED",
            ]

            async def pool_workers() -> set[str]:
                async with get_client() as client:
                    return {w.name for w in await client.read_workers_for_work_pool("tidings-test")}

            assert {"w1", "w2"} <= asyncio.run(pool_workers())
        finally:
            for w in workers:
                os.killpg(w.pid, signal.SIGINT)
            outputs = [w.communicate(timeout=120)[0] for w in workers]
        for w, out in zip(workers, outputs, strict=True):
            assert w.returncode == 0, out
    assert set(mentions_per_source(path)) == set(names)


def wait_for_states(
    api_url: str, runs: list, wanted: set[str], workers: list[subprocess.Popen]
) -> list[str]:
    """The runs' state types once all are in `wanted` (a failed run fails the test)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        states = [
            httpx.get(f"{api_url}/flow_runs/{r.id}", timeout=30).json()["state_type"] for r in runs
        ]
        if all(s in wanted for s in states):
            return states
        if any(s in ("FAILED", "CRASHED", "CANCELLED") for s in states):
            pytest.fail(f"a run ended {states}")
        for w in workers:
            if w.poll() is not None:
                pytest.fail(f"a worker stopped:\n{w.communicate()[0]}")
        time.sleep(1)
    pytest.fail(f"runs never reached {wanted}: {states}")


def test_per_host_caps_are_prefect_concurrency_limits_changed_in_its_ui(tmp_path):
    from data.config import load_config
    from flows.limits import with_prefect_host_limits
    from flows.server import prefect_server

    path = write_config(
        tmp_path,
        {"a": "https://a.example/feed.xml", "b": "https://b.example:8443/feed.xml"},
        http='per_host = 3\nhosts = { "b.example" = 1 }',
    )
    config = load_config(path)
    with prefect_server(config, long_lived=True) as server:
        applied = with_prefect_host_limits(config)
        limits = {d["name"]: d for d in post(f"{server.api_url}/v2/concurrency_limits/filter")}
        assert {n: d["limit"] for n, d in limits.items()} == {
            "tidings-host:a.example": 3,
            "tidings-host:b.example": 1,
        }
        assert applied.http.hosts == {"b.example": 1}
        # As a person would in the UI's Concurrency page: a.example to 1, b.example off.
        base = f"{server.api_url}/v2/concurrency_limits"
        httpx.patch(f"{base}/tidings-host:a.example", json={"limit": 1}, timeout=30)
        httpx.patch(
            f"{base}/tidings-host:b.example", json={"limit": 5, "active": False}, timeout=30
        )
        again = with_prefect_host_limits(config)
        assert again.http.hosts == {"a.example": 1, "b.example": 1}  # b off: the configured 1
        kept = {d["name"]: d["limit"] for d in post(f"{base}/filter")}
        assert kept["tidings-host:a.example"] == 1  # never overwritten by the config's 3


def test_serve_refuses_a_prefect_server_other_machines_reach_without_a_password(
    tmp_path, capsys, monkeypatch
):
    from flows.cli import main

    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    path = write_config(tmp_path, prefect='address = "0.0.0.0"')
    assert main(["--config", str(path), "serve", "--no-dashboard"]) == 2
    err = capsys.readouterr().err
    assert "prefect.address is '0.0.0.0'" in err and "PREFECT_SERVER_API_AUTH_STRING" in err
    assert err.count("\n") == 1 and not (tmp_path / "prefect").exists()


@pytest.mark.parametrize(
    ("pool", "served_passes"), [(None, ["pass-1-of-2", "pass-2-of-2"]), ("p", [])]
)
def test_each_group_of_sources_has_its_pass_deployment_on_the_tick(tmp_path, pool, served_passes):
    import asyncio

    from data.config import load_config
    from flows.deployments import served_deployments

    extra = "pass_groups = 2\n" + (f'work_pool = "{pool}"' if pool else "")
    path = write_config(
        tmp_path, {"a": "https://a.example/f", "b": "https://b.example/f"}, prefect=extra
    )
    served = asyncio.run(served_deployments(load_config(path)))
    names = [d.name for d in served]
    assert names == [*served_passes, "alerts", "digests"]  # with a pool, workers run the passes
    for d in served:
        assert d.parameters["config_path"] == str(path)
        if d.name.startswith("pass"):
            assert d.schedules[0].schedule.interval.total_seconds() == 300
            assert d.parameters["groups"] == 2 and d.parameters["wait_seconds"] == 300
    assert [d.parameters["group"] for d in served if d.name.startswith("pass")] == list(
        range(len(served_passes))
    )
