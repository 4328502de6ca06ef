"""Parse workers hold what parsing needs, not the whole application, and are replaced after a
number of feeds, so that a pass's memory stays flat however many feeds it parses (issue 13)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from collectors import offload

ROOT = Path(__file__).resolve().parent.parent

# A main module that notes, in its folder, every process that imports it.
MAIN = """
import asyncio, json, os, sys
from pathlib import Path
Path(sys.argv[1], f"imported-by-{os.getpid()}").touch()
sys.path.insert(0, sys.argv[2])
from collectors import offload

async def pids():
    return await asyncio.gather(*(offload.run(os.getpid) for _ in range(4)))

if __name__ == "__main__":
    print(json.dumps({"parent": os.getpid(), "workers": asyncio.run(pids())}))
"""


def test_a_parse_worker_does_not_import_the_main_module_of_its_parent(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(MAIN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["parent"] not in out["workers"]  # the work ran in worker processes
    imported = sorted(p.name for p in tmp_path.glob("imported-by-*"))
    assert imported == [f"imported-by-{out['parent']}"]


def test_a_worker_is_replaced_after_its_share_of_feeds(monkeypatch):
    monkeypatch.setattr(offload, "TASKS_PER_WORKER", 2)
    offload.shutdown()

    async def one_at_a_time() -> list[int]:
        return [await offload.run(os.getpid) for _ in range(6)]

    try:
        pids = asyncio.run(one_at_a_time())
    finally:
        offload.shutdown()
    assert os.getpid() not in pids
    # Six feeds, two per worker: at least three workers, whatever the number of cores.
    assert len(set(pids)) >= 3


def test_work_beside_a_body_too_slow_is_stopped_too_never_left_to_run_in_a_thread(monkeypatch):
    """A body over its time stops the pool's workers; what the other workers were parsing ran
    again in a thread of the pass, where nothing could stop it: two slow bodies in one pass
    held it for as long as the second took (a body made to be slow: half an hour)."""
    monkeypatch.setattr(offload, "PARSE_SECONDS", 1.0)
    offload.shutdown()

    async def two_slow_and_one_quick() -> list:
        slow = [offload.run(time.sleep, 3600, size=20_000) for _ in range(2)]
        quick = offload.run(os.getpid, size=20_000)
        return await asyncio.wait_for(
            asyncio.gather(*slow, quick, return_exceptions=True), timeout=120
        )

    try:
        first, second, quick = asyncio.run(two_slow_and_one_quick())
    finally:
        offload.shutdown()
    assert isinstance(first, offload.TooSlow) and isinstance(second, offload.TooSlow)
    assert quick != os.getpid()  # in a worker process, not a thread of this one


def test_a_body_that_keeps_killing_its_worker_fails_alone(monkeypatch):
    """A worker killed under a body (the OOM killer) breaks its pool: the body runs again in a
    new pool, and after ATTEMPTS broken pools its source fails in one line; the next runs."""
    offload.shutdown()

    async def deadly_then_quick() -> tuple:
        try:
            await offload.run(os._exit, 9, size=20_000)
        except offload.Stopped as e:
            return str(e), await offload.run(os.getpid, size=20_000)
        raise AssertionError("a worker that died returned")

    try:
        message, pid = asyncio.run(asyncio.wait_for(deadly_then_quick(), timeout=120))
    finally:
        offload.shutdown()
    assert (
        message == f"parsing stopped its worker process {offload.ATTEMPTS} times (out of memory?)"
    )
    assert pid != os.getpid()
