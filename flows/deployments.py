"""The flows `tidings serve` and the workers run on schedules, as Prefect deployments.

- `pass` every `[pipeline] tick_minutes`: a pass over the sources that are due;
- `alerts` every `[prefect] alerts_minutes` and `digests` every `[prefect] digests_minutes`:
  the alert rules and the client digests on the clock (reminders, quiet hours, digest slots),
  besides after every pass.

Served by `tidings serve` itself (one process starts each run), or, with `[prefect] work_pool`,
the pass is split into `pass_groups` deployments (each a share of the sources) whose runs
any worker of that pool picks (`tidings worker`, on this machine or others).

Every run takes the store's pass lock (flows.pipeline.pass_lock), so with the embedded DuckDB
file one run writes at a time whichever process runs it: a scheduled pass finding another
running is skipped (the next tick comes soon); a pool's group pass waits up to one tick for
its turn; alerts and digests are skipped while a pass runs, since the pass runs them itself.
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import TYPE_CHECKING

from prefect import flow, get_run_logger

from data import store
from data.config import Config, Source, load_config
from data.errors import PassRunningError, TidingsError

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

PASS, ALERTS, DIGESTS = "pass", "alerts", "digests"
# The alert and digest deployments run one flow run at a time, whichever worker or server runs
# them (a run due meanwhile waits for its slot). Their writes are also claimed in the store
# (data.outbox.enqueue), which covers the evaluations that follow each pass on any worker.
ONE_AT_A_TIME = 1


def sources_of_group(sources: list[Source], group: int, groups: int) -> list[Source]:
    """The share of the sources that group `group` (of `groups`) collects. A source stays in
    its group whatever sources are added or removed around it (a hash of its id decides)."""
    if groups <= 1:
        return list(sources)
    return [s for s in sources if zlib.crc32(s.id.encode()) % groups == group]


def group_config(config: Config, group: int, groups: int) -> Config:
    return config.model_copy(update={"sources": sources_of_group(config.sources, group, groups)})


def say(line: str) -> None:
    """A line for the person watching `tidings serve`, as the service always printed them."""
    print(f"[{store.utcnow():%Y-%m-%d %H:%M}Z] {line}", flush=True)


@flow(name="tidings-scheduled-pass", validate_parameters=False)
async def scheduled_pass(
    config_path: str, group: int = 0, groups: int = 1, wait_seconds: float = 0.0
) -> str:
    """A pass over the due sources of one group, under the pass lock. A pass that finds another
    running is skipped; one that fails fails its run (the UI shows why), and the next tick
    tries again."""
    from flows.cli import NOTHING_REACHED, nothing_reached
    from flows.limits import with_prefect_host_limits
    from flows.pipeline import pass_lock, pass_once
    from flows.server import api_client

    log = get_run_logger()
    try:
        with api_client():  # one client for the host limits and the pass, not one each
            config = with_prefect_host_limits(group_config(load_config(config_path), group, groups))
            with pass_lock(config.db_path, wait_seconds):
                report = await pass_once(config)
    except PassRunningError as e:
        log.info("Pass skipped: %s", e)
        say(f"pass skipped: {e}")
        return "skipped"
    except TidingsError as e:
        say(f"pass skipped: {e}")
        raise
    except Exception as e:
        from flows.pipeline import one_line_error

        say(f"pass failed, will try again next tick: {one_line_error(e)}")
        raise
    offline = nothing_reached(report.sources_fetched, list(report.errors.values()))
    line = report.summary() + (f"\n  {NOTHING_REACHED}" if offline else "")
    say(line if groups == 1 else f"group {group + 1} of {groups}: {line}")
    return line


@flow(name="tidings-alerts", validate_parameters=False)
def scheduled_alerts(config_path: str) -> str:
    """The alert rules, on the clock; skipped while a pass runs (it evaluates them itself)."""
    from flows.pipeline import alerts_task, pass_lock

    config = load_config(config_path)
    try:
        with pass_lock(config.db_path):
            summary = alerts_task(config).summary()
    except PassRunningError:
        summary = "skipped: a pass is running, and evaluates them when it is done"
    get_run_logger().info("Alerts: %s", summary)
    return summary


@flow(name="tidings-digests", validate_parameters=False)
def scheduled_digests(config_path: str) -> str:
    """The client digests that are due, on the clock; skipped while a pass runs (it sends
    them itself)."""
    from flows.pipeline import pass_lock, push_task

    config = load_config(config_path)
    try:
        with pass_lock(config.db_path):
            summary = push_task(config).summary()
    except PassRunningError:
        summary = "skipped: a pass is running, and sends them when it is done"
    get_run_logger().info("Client digests: %s", summary)
    return summary


def pass_deployment_names(config: Config) -> list[str]:
    groups = config.prefect.pass_groups
    return [PASS] if groups == 1 else [f"{PASS}-{g + 1}-of-{groups}" for g in range(groups)]


async def served_deployments(config: Config) -> list[RunnerDeployment]:
    """What `tidings serve` runs itself: the pass (unless workers run it), alerts, digests."""
    path = str(config.path)
    every = config.prefect
    deployments = [
        await scheduled_alerts.ato_deployment(
            ALERTS,
            interval=timedelta(minutes=every.alerts_minutes),
            parameters={"config_path": path},
            paused=False,
            concurrency_limit=ONE_AT_A_TIME,
            description="The alert rules, on the clock (besides after every pass).",
        ),
        await scheduled_digests.ato_deployment(
            DIGESTS,
            interval=timedelta(minutes=every.digests_minutes),
            parameters={"config_path": path},
            paused=False,
            concurrency_limit=ONE_AT_A_TIME,
            description="The client digests that are due.",
        ),
    ]
    if not every.work_pool:
        deployments = await _pass_deployments(config) + deployments
    return deployments


async def _pass_deployments(config: Config) -> list[RunnerDeployment]:
    from prefect.deployments.runner import EntrypointType

    groups = config.prefect.pass_groups
    pool = config.prefect.work_pool
    tick = config.pipeline.tick_minutes
    return [
        await scheduled_pass.ato_deployment(
            name,
            interval=timedelta(minutes=tick),
            parameters={
                "config_path": str(config.path),
                "group": g,
                "groups": groups,
                # Group passes queue for the store (one tick at most); a single served pass
                # is skipped when one is running, as the service always did.
                "wait_seconds": tick * 60.0 if pool or groups > 1 else 0.0,
            },
            paused=False,
            work_pool_name=pool,
            # Workers import the flow from the installed package, wherever it was deployed from.
            entrypoint_type=EntrypointType.MODULE_PATH,
            description=f"A pass over the due sources of group {g + 1} of {groups}.",
        )
        for g, name in enumerate(pass_deployment_names(config))
    ]


async def deploy_to_work_pool(config: Config) -> list[str]:
    """Create the work pool (a `process` pool) if it is missing, and register the pass's
    deployments in it, each on the pass's schedule. Returns their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    pool = config.prefect.work_pool
    if not pool:
        return []
    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass
    names = []
    for deployment in await _pass_deployments(config):
        await deployment.aapply(work_pool_name=pool)
        names.append(f"{deployment.flow_name}/{deployment.name}")
    return names
