"""CPU-bound parsing off the event loop and off the GIL: a small pool of worker processes, one
per core, shared by every collector of the process. While one feed is parsed, others download
and, on a second core, parse too; a thread would hold the GIL and gain nothing.

A worker holds what parsing needs and nothing more: it does not import the parent's main
module (multiprocessing's default, which for `tidings` or a bench script means Prefect, spaCy,
DuckDB and pyarrow: about 280 MB a worker, for nothing), and it is replaced by a fresh one after
TASKS_PER_WORKER feeds, so that what parsing one big feed left in its heap is returned to the
system instead of staying for the rest of the pass."""

from __future__ import annotations

import asyncio
import atexit
import io
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None
# Work on a body smaller than this is done at once, in this process: parsing a feed of a few
# items takes a millisecond or two, starting the pool (a process per core) about a second,
# which a `tidings run` over a small feed paid in full.
INLINE_BYTES = 8 * 1024

# Feeds a worker parses before a fresh one replaces it. A worker starts in about 0.3 s (it
# imports the collectors), a feed parses in 10 ms to 1 s: a few percent, for a flat pass.
TASKS_PER_WORKER = 64
# How long parsing a body in a worker may take: this, and as much again per MB. A feed parses at
# 1-5 s a MB; a body made to be slow (feedparser reads an RSS author with a regex that takes
# the square of its length: 300 KB of it, half an hour) would otherwise hold its pass as long.
PARSE_SECONDS = 30.0
# What a worker imports before its first feed, once, in the fork server it is forked from.
WORKER_IMPORTS = ["collectors.rss", "collectors.webpage", "collectors.newssearch"]


class _WorkerPopen(popen_forkserver.Popen):
    """Starts a worker from the fork server without the parent's main module.

    multiprocessing asks every child it starts this way to import the parent's `__main__`
    (so that functions defined there unpickle). Ours never are: `run` takes module-level
    functions of the collectors. This is popen_forkserver.Popen._launch (CPython 3.11-3.13) with
    the main module left out of the preparation data."""

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)  # the child's sentinel of its parent, as in _launch
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _WorkerPopen:  # noqa: N802
        return _WorkerPopen(process_obj)


class _WorkerContext(context.ForkServerContext):
    # forkserver: workers never inherit the threads (Prefect's, uvicorn's) of this process.
    Process = _WorkerProcess  # type: ignore[assignment]


def _shared() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        mp_context = _WorkerContext()
        # The fork server is the process's own (one per process); it imports these once, and
        # every worker forked from it shares them. Without this it would import `__main__`.
        mp_context.set_forkserver_preload(WORKER_IMPORTS)
        _pool = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1,
            mp_context=mp_context,
            initializer=_worker_start,
            max_tasks_per_child=TASKS_PER_WORKER,
        )
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the workers, which must not
    # die on their own with a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Stopped(Exception):  # noqa: N818 (what the user reads: "parsing took longer than …")
    """Parsing a body was stopped: it took too long, or its worker kept dying."""


class TooSlow(Stopped):
    """Parsing a body took longer than its time (PARSE_SECONDS a MB): its worker was stopped."""


# Pools a body may break (a worker killed by the OOM killer, or stopped because another body
# parsing beside it took too long) before it is given up for this pass.
ATTEMPTS = 3


async def run(fn: Callable[..., T], *args: object, size: int | None = None) -> T:
    """fn(*args) in a worker process (fn must be a module-level function of an importable
    module, not of `__main__`, and args must pickle). Work on `size` bytes below INLINE_BYTES
    is done here, at once. Work on `size` bytes that takes longer than PARSE_SECONDS and as much
    per MB raises TooSlow, its worker stopped. Where the pool broke under it (a worker killed,
    or stopped for another body's time), it runs again in a new pool, always within its time:
    never in a thread of this process, where nothing could stop it; after ATTEMPTS broken
    pools it raises Stopped, so that one bad moment fails one source, never the pass."""
    global _pool
    if size is not None and size < INLINE_BYTES:
        return fn(*args)
    loop = asyncio.get_running_loop()
    limit = PARSE_SECONDS * (1 + size / 2**20) if size is not None else None
    for _ in range(ATTEMPTS):
        pool = _shared()
        try:
            return await asyncio.wait_for(loop.run_in_executor(pool, partial(fn, *args)), limit)
        except BrokenProcessPool:
            pass
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task was cancelled, not its work by a pool shut down
            # A pool stopped for another body's time cancels the work it had not started.
        except TimeoutError:
            # A running task cannot be cancelled: its workers are stopped. What the others
            # were parsing runs again in a new pool (BrokenProcessPool, above).
            if _pool is pool:
                _pool = None
            for process in list((pool._processes or {}).values()):  # None once shut down
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            raise TooSlow(
                f"parsing took longer than {limit:.0f}s (a body made to be slow?)"
            ) from None
        if _pool is pool:
            _pool = None
    raise Stopped(f"parsing stopped its worker process {ATTEMPTS} times (out of memory?)")


def worker_pids() -> list[int]:
    """The live workers' process ids (none before the first `run`), for the benchmarks."""
    return list(_pool._processes) if _pool is not None else []


def worker_peak_mb() -> float:
    """The largest peak memory (VmHWM) of the live workers, in MB, for the benchmarks."""
    peaks = [0.0]
    for pid in worker_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def shutdown() -> None:
    """Stop the workers (they are started again on the next run)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None
