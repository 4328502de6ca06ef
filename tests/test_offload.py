"""Parse workers hold what parsing needs, not the whole application, and are replaced after a
number of feeds, so that a pass's memory stays flat however many feeds it parses (issue 13)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
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
