"""`tidings serve` and `tidings worker` as Prefect runs them.

`serve`: a Prefect runner serves the deployments (flows.deployments) on their schedules, each
run in a process of its own, and a first pass is asked for at once; with `[prefect] work_pool`,
the pass's deployments go to that pool instead, for its workers. The runner is a process of
its own, in a session of its own (`python -m flows.orchestrator CONFIG`, started by
`start_runner`): a terminal's Ctrl-C reaches `tidings serve` only, which stops the runner, which
cancels the runs in flight in order (their state then says so in the UI), rather than every
run crashing at once.
`worker`: a Prefect process worker on that pool (`prefect worker start --pool NAME` does the
same), so that several processes, here or on other machines, share the passes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from contextlib import suppress

from data.config import Config
from data.errors import TidingsError
from flows.deployments import deploy_to_work_pool, pass_deployment_names, served_deployments


async def serve_deployments(config: Config) -> None:
    """Serve the deployments until SIGTERM or SIGINT, then stop in order: the runner cancels
    the runs in flight (the UI says so) and pauses the schedules nobody serves any more."""
    from prefect.deployments import arun_deployment
    from prefect.runner import Runner

    runner = Runner(name="tidings-serve")
    ids = [await runner.aadd_deployment(d) for d in await served_deployments(config)]
    pooled = await deploy_to_work_pool(config)
    if pooled:
        print(
            f"Passes go to the work pool {config.prefect.work_pool!r} ({len(pooled)} "
            "deployment(s)); start workers with `tidings worker`.",
            flush=True,
        )
    running = asyncio.create_task(runner.start())
    await asyncio.sleep(0)  # the runner sets its own SIGTERM handler (exit mid-loop): ours wins
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stop_asked = asyncio.create_task(stopping.wait())
    try:
        # A first pass now, as the service always did, not one tick later.
        for name in pass_deployment_names(config):
            await arun_deployment(f"tidings-scheduled-pass/{name}", timeout=0)
        await asyncio.wait({running, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()  # the runner stopped by itself: say why
    finally:
        stop_asked.cancel()
        if not running.done():
            with suppress(Exception):
                await finish_runs_in_flight(ids, STOP_GRACE_SECONDS)
            with suppress(Exception):
                await asyncio.wait_for(runner.astop(), 60)
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(running, 60)


STOP_GRACE_SECONDS = 30.0


async def finish_runs_in_flight(deployment_ids: list, grace: float) -> None:
    """Give the runs in progress up to `grace` seconds to end by themselves: a pass ending its
    write is let finish, rather than cancelled mid-way (the runner cancels what remains)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    in_flight = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
        )
    )
    ours = DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids))
    deadline = asyncio.get_running_loop().time() + grace
    said = False
    async with get_client() as client:
        while asyncio.get_running_loop().time() < deadline:
            runs = await client.read_flow_runs(flow_run_filter=in_flight, deployment_filter=ours)
            if not runs:
                return
            if not said:
                print(f"Stopping: {len(runs)} run(s) in progress get {grace:.0f} s to end.")
                said = True
            await asyncio.sleep(1)


def start_runner(config: Config) -> subprocess.Popen:
    """The runner of `tidings serve`, in a session of its own; its output is the service's."""
    cmd = [sys.executable, "-m", "flows.orchestrator", str(config.path)]
    return subprocess.Popen(cmd, start_new_session=True)


def runner_stopped(proc: subprocess.Popen) -> None:
    """Raise if the runner stopped by itself (it says why in its output above)."""
    if proc.poll() is not None:
        raise TidingsError(f"the Prefect runner stopped (exit code {proc.returncode}); see above")


def stop_runner(proc: subprocess.Popen) -> None:
    """Ask the runner to stop (it cancels the runs in flight), bounded in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def start_worker(config: Config, name: str | None = None, limit: int | None = None) -> int:
    """A Prefect process worker on the configured work pool, until Ctrl-C; its exit code."""
    pool = config.prefect.work_pool
    if not pool:
        raise TidingsError(
            f"{config.path}: [prefect] work_pool is not set: name the pool the passes go to "
            '(e.g. work_pool = "tidings") for workers to share them'
        )
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if name:
        cmd += ["--name", name]
    if limit:
        cmd += ["--limit", str(limit)]
    print(f"Worker on pool {pool!r} of {os.environ.get('PREFECT_API_URL')}. Ctrl-C stops.")
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0


def main(argv: list[str]) -> int:
    """`python -m flows.orchestrator CONFIG`: serve the deployments until SIGTERM."""
    from data.config import load_config

    asyncio.run(serve_deployments(load_config(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
