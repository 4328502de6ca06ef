"""CPU-bound parsing off the event loop and off the GIL: a small pool of worker processes, one
per core, shared by every collector of the process. While one feed is parsed, others download
and, on a second core, parse too; a thread would hold the GIL and gain nothing."""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_pool: ProcessPoolExecutor | None = None
# Work on a body smaller than this is done at once, in this process: parsing a feed of a few
# items takes a millisecond or two, starting the pool (a process per core) about a second,
# which a `tidings run` over a small feed paid in full.
INLINE_BYTES = 8 * 1024


def _shared() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # forkserver: workers never inherit the threads (Prefect's, uvicorn's) of this process.
        context = multiprocessing.get_context("forkserver")
        _pool = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1, mp_context=context, initializer=_worker_start
        )
        atexit.register(_pool.shutdown, wait=False, cancel_futures=True)
    return _pool


def _worker_start() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the workers, which must not
    # die on their own with a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def run(fn: Callable[..., T], *args: object, size: int | None = None) -> T:
    """fn(*args) in a worker process (fn and args must pickle); in a thread if the pool broke
    (a worker killed by the OOM killer, say), so that one bad moment never fails a pass. Work on
    `size` bytes below INLINE_BYTES is done here, at once."""
    global _pool
    if size is not None and size < INLINE_BYTES:
        return fn(*args)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_shared(), partial(fn, *args))
    except BrokenProcessPool:
        _pool = None
        return await asyncio.to_thread(fn, *args)


def worker_peak_mb() -> float:
    """The largest peak memory (VmHWM) of the live workers, in MB, for the benchmarks."""
    peaks = [0.0]
    for pid in _pool._processes if _pool is not None else {}:
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
