"""Ctrl-C during `tidings run` and `tidings push` stops everything it started (the feed
parsers' worker processes, the temporary Prefect server), says so in one line, exits 0 and keeps
what was stored; a run that ends normally prints no traceback. Each command is the real one, a
process of its own, against servers on 127.0.0.1; nothing is timed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from werkzeug import Request, Response

from data import store
from data.config import load_config
from tests.conftest import DEMO_FEEDS
from tests.services import TIMEOUT, ctrl_c, mentions_per_source, start, write_config
from tests.test_demo import free_port

# The runs store each source's items in a batch of their own, as they arrive.
RUN = {"pipeline": "batch_size = 1", "http": "timeout_seconds = 120\nmax_attempts = 1"}


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (also those that left its session), with its command line."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = command_line(child)
                todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def still_alive(processes: dict[int, str]) -> list[str]:
    """Those of `processes` still running (a pid reused by another program does not count)."""
    alive = []
    for pid, cmd in processes.items():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and command_line(pid) == cmd:
            alive.append(f"{pid}: {cmd}")
    return alive


def wait_until(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"never {what}")
        time.sleep(0.2)


def test_a_stopped_stream_finishes_the_batch_being_written_and_starts_nothing_more():
    from data.config import Source
    from data.records import Fetched
    from flows.pipeline import Batch, PassReport, stream_pass
    from tests.test_pass_batches import fetched

    written: list[list[str]] = []

    async def main() -> PassReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def collect(source: Source) -> Fetched:
            if source.id == "slow":  # a source that answers only when the pass is stopped
                await stop.wait()
            return fetched(source.id, 2)

        def process(batch: Batch) -> PassReport:
            loop.call_soon_threadsafe(stop.set)  # Ctrl-C while the first batch is written
            written.append([m.id for m in batch.mentions])
            return PassReport(new_mentions=len(batch.mentions))

        sources = [Source(id=i, url=f"http://127.0.0.1/{i}.xml") for i in ("a", "b", "slow")]
        return await stream_pass(sources, collect, process, batch_size=2, in_flight=3, stop=stop)

    report = asyncio.run(main())
    assert len(written) == 1 and report.new_mentions == 2  # the batch begun is written whole
    assert report.interrupted


@pytest.fixture
def slow_feed(httpserver):
    """A feed that answers only when the test ends: a pass waits on it until stopped."""
    release = threading.Event()

    def answer(request: Request) -> Response:
        release.wait(TIMEOUT)
        return Response(b"", status=503)

    httpserver.expect_request("/slow.xml").respond_with_handler(answer)
    yield httpserver.url_for("/slow.xml")
    release.set()


def test_ctrl_c_during_a_run_stops_everything_exits_0_and_keeps_what_was_stored(
    httpserver, slow_feed, tmp_path
):
    # A feed big enough to be parsed by the worker processes, then one that never answers.
    body = (DEMO_FEEDS / "app-reviews.xml").read_bytes()
    httpserver.expect_request("/reviews.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    config = write_config(
        tmp_path, {"reviews": httpserver.url_for("/reviews.xml"), "slow": slow_feed}, **RUN
    )
    proc = start(["run", "--all"], tmp_path, stderr=subprocess.PIPE)
    # The reviews are stored (a batch of their own) while the slow feed is still awaited.
    db = tmp_path / "t.duckdb"
    wait_until(lambda: db.exists() and reviews_stored(config), proc, "stored the reviews")
    children = descendants(proc.pid)
    assert any("prefect" in cmd and "server" in cmd for cmd in children.values()), children
    assert any("multiprocessing" in cmd for cmd in children.values()), children  # parsers
    out, err = ctrl_c(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out, err
    said = own_lines(err)
    assert len(said) == 1 and "interrupted" in said[0], err
    assert "Crash detected" not in err, err  # the run ends Cancelled in the Prefect UI
    assert not still_alive(children), "left running after Ctrl-C"
    assert mentions_per_source(config)["reviews"] > 0  # the store opens, with what the pass stored


def own_lines(stderr: str) -> list[str]:
    """The lines Tidings wrote to stderr, not Prefect's log lines of the run."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not re.match(r"\d\d:\d\d:\d\d\.\d+ \| ", line)
    ]


def reviews_stored(config_path: Path) -> bool:
    """Whether the pass stored the reviews yet (without holding the store open: the pass
    writes to it)."""
    try:
        return mentions_per_source(config_path, lock_timeout=1).get("reviews", 0) > 0
    except Exception:  # noqa: BLE001 — locked by the pass, or not created yet
        return False


def test_a_run_that_ends_normally_says_nothing_but_its_log_and_leaves_nothing_running(
    httpserver, tmp_path
):
    body = (DEMO_FEEDS / "app-reviews.xml").read_bytes()
    httpserver.expect_request("/reviews.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    config = write_config(tmp_path, {"reviews": httpserver.url_for("/reviews.xml")}, **RUN)
    proc = start(["run"], tmp_path, stderr=subprocess.PIPE)
    wait_until(lambda: any("multiprocessing" in c for c in descendants(proc.pid).values()),
               proc, "started the feed parsers")  # fmt: skip
    children = descendants(proc.pid)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "1 source(s) fetched" in out
    # Prefect's log lines of the run, and nothing else: no traceback, no "Error flushing".
    assert not own_lines(err) and " | ERROR " not in err, err
    assert not still_alive(children), "left running after the run"
    assert mentions_per_source(config)["reviews"] > 0


@pytest.fixture
def silent_smtp():
    """A mail server that takes the connection and never greets: sending waits on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s


def test_ctrl_c_during_a_push_stops_everything_exits_0_and_keeps_the_queued_digest(
    tmp_path, silent_smtp
):
    from data import clients
    from data.clients import Client
    from data.records import Mention

    config = tmp_path / "tidings.toml"
    config.write_text(
        f'[database]\npath = "{tmp_path / "t.duckdb"}"\n'
        f"[prefect]\nport = {free_port()}\n"
        f"[push]\nport = {free_port()}\n"
        f'[smtp]\nhost = "127.0.0.1"\nport = {silent_smtp.getsockname()[1]}\n'
        'security = "none"\nsender = "News <n@example.com>"\ntimeout_seconds = 120\n'
        '[[sources]]\nid = "blog"\nurl = "https://blog.example/feed"\nknowledge = true\n'
    )
    now = store.utcnow()
    with store.connect(load_config(config).db_path) as db:
        article = Mention(
            "blog", "a1", "https://blog.example/1", "Remote work policies that work",
            "Remote work policies that work", "Editor", now,
        )  # fmt: skip
        store.upsert_mentions(db, [article], now, knowledge=frozenset({"blog"}))
        alice = Client(id="alice", name="Alice", email="alice@example.com",
                       interests=["remote work"])  # fmt: skip
        clients.save(db, alice, now)
    proc = start(["push", "--client", "alice", "--now"], tmp_path, stderr=subprocess.PIPE)
    silent_smtp.settimeout(TIMEOUT)
    connection, _ = silent_smtp.accept()  # the digest is queued, its mail being sent
    with connection:
        children = descendants(proc.pid)
        out, err = ctrl_c(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out, err
    said = own_lines(err)
    assert len(said) == 1 and "interrupted" in said[0], err
    assert any("prefect" in cmd and "server" in cmd for cmd in children.values()), children
    assert not still_alive(children), "left running after Ctrl-C"
    with store.connect(load_config(config).db_path, 60) as db:
        mails = db.execute("SELECT recipients, status FROM outbox").fetchall()
    assert mails and mails[0][0] == ["alice@example.com"]  # queued, sent by the next push
