"""How long `tidings demo` takes until a newcomer sees the dashboard.

Each run starts `tidings demo --port P` in a fresh folder, as `make demo` does, and times, from
the moment the command starts:
  pass      the demo's one pipeline pass is done (its summary line is printed)
  seeded    inbox, alerts and client digests are seeded ("Mail the demo sent is in …")
  health    the dashboard answers /_stcore/health
  ready     the Overview shows its figures in headless Chromium (the first "Mentions" value)
then stops the demo with Ctrl-C (SIGINT to its process group), as a person would.

    .venv/bin/python bench/demo.py [--runs 3] [--port 8615]

The figures depend on the machine and on what else runs on it: the machine's cores and load
average are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
MILESTONES = {"pass": "source(s) fetched", "seeded": "Mail the demo sent is in"}


def one_run(port: int, timeout: float = 900) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    tidings = shutil.which("tidings", path=str(Path(sys.executable).parent))
    seen: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        started = time.monotonic()
        proc = subprocess.Popen(
            [tidings, "demo", "--port", str(port)],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        output: list[str] = []

        def read() -> None:
            for line in proc.stdout:
                output.append(line)
                for name, text in MILESTONES.items():
                    if text in line and name not in seen:
                        seen[name] = time.monotonic() - started

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = started + timeout
            while "health" not in seen:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the demo stopped or hung:\n" + "".join(output[-30:]))
                try:
                    url = f"http://127.0.0.1:{port}/_stcore/health"
                    with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback)
                        if r.status == 200:
                            seen["health"] = time.monotonic() - started
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_test_id("stMetricValue").first.wait_for(timeout=timeout * 1000)
                seen["ready"] = time.monotonic() - started
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            reader.join(timeout=5)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8615)
    args = parser.parse_args()
    names = ["pass", "seeded", "health", "ready"]
    runs = []
    for i in range(args.runs):
        seen = one_run(args.port)
        runs.append(seen)
        print(f"run {i + 1}: " + ", ".join(f"{n} {seen[n]:.1f} s" for n in names if n in seen))
    print(
        f"\n{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    for n in names:
        values = [r[n] for r in runs if n in r]
        if values:
            print(
                f"{n:>7}: median {statistics.median(values):5.1f} s  "
                f"(min {min(values):.1f}, max {max(values):.1f}, {len(values)} runs)"
            )


if __name__ == "__main__":
    main()
