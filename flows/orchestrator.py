"""`tidings serve` and `tidings worker` as Prefect runs them.

`serve`: a Prefect runner in this process serves the deployments (flows.deployments) on
their schedules, each run in a process of its own, and a first pass is asked for at once;
with `[prefect] work_pool`, the pass's deployments go to that pool instead, for its workers.
`worker`: a Prefect process worker on that pool (`prefect worker start --pool NAME` does the
same), so that several processes, here or on other machines, share the passes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress

from data.config import Config
from data.errors import TidingsError
from flows.deployments import deploy_to_work_pool, pass_deployment_names, served_deployments

CHECK_SECONDS = 1.0


async def serve_deployments(config: Config, check: Callable[[], None]) -> None:
    """Serve the deployments until cancelled (Ctrl-C), calling `check` every second (it raises
    to stop the service, as when the dashboard stopped)."""
    from prefect.deployments import arun_deployment
    from prefect.runner import Runner

    runner = Runner(name="tidings-serve")
    served = await served_deployments(config)
    for deployment in served:
        await runner.aadd_deployment(deployment)
    pooled = await deploy_to_work_pool(config)
    if pooled:
        print(
            f"Passes go to the work pool {config.prefect.work_pool!r} ({len(pooled)} "
            "deployment(s)); start workers with `tidings worker`.",
            flush=True,
        )
    running = asyncio.create_task(runner.start())
    # The Runner sets its own SIGTERM handler (exiting mid-loop); ours stops in order.
    if threading.current_thread() is threading.main_thread():
        await asyncio.sleep(0)
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        # A first pass now, as the service always did, not one tick later.
        for name in pass_deployment_names(config):
            flow_name = "tidings-scheduled-pass"
            await arun_deployment(f"{flow_name}/{name}", timeout=0)
        while not running.done():
            check()
            await asyncio.sleep(CHECK_SECONDS)
        running.result()  # the runner stopped by itself: say why
    finally:
        if not running.done():
            with suppress(Exception):
                await asyncio.wait_for(runner.astop(), 30)
            running.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(running, 30)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
