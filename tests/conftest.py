from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiosmtpd.controller import Controller

from collectors.http import Http
from data.config import Config, Source, parse_config
from data.config import Http as HttpSettings
from data.records import Fetched, SourceState
from flows.demo import shift_times

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DEMO_FEEDS = ROOT / "data" / "demo" / "recorded"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

WATCH = [
    {"name": "Nimbus Notes", "terms": ["Nimbus Notes", "NimbusNotes"]},
    {"name": "Nimbus Sync", "kind": "product", "terms": ["Nimbus Sync"]},
    {"name": "Quillpad", "kind": "competitor", "terms": ["Quillpad"]},
]


def make_config(tmp_path: Path, sources: list[dict], **sections: dict) -> Config:
    """A config whose database lives in tmp_path; fast HTTP settings for tests."""
    raw = {
        "database": {"path": str(tmp_path / "tidings.duckdb"), "lock_timeout_seconds": 5},
        "http": {
            "timeout_seconds": 2,
            "max_attempts": 3,
            "max_retry_after_seconds": 5,
            "backoff_seconds": 0.1,
        },
        "watch": WATCH,
        "sources": sources,
        **sections,
    }
    return parse_config(raw, tmp_path / "tidings.toml")


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver binds 'localhost' by default; tests only ever use 127.0.0.1."""
    return ("127.0.0.1", 0)


@pytest.fixture
def demo_feed() -> bytes:
    return (DEMO_FEEDS / "app-reviews.xml").read_bytes()


@pytest.fixture(autouse=True)
def _no_stray_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_CONFIG", raising=False)
    monkeypatch.delenv("TIDINGS_DASHBOARD_PASSWORD", raising=False)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


ANCHOR = datetime(2026, 11, 20, 12, tzinfo=UTC)  # "now" when the fixtures were recorded
SHIFT = (datetime.now(UTC) - ANCHOR) // timedelta(seconds=1) * timedelta(seconds=1)  # per session


def recorded(relative: str) -> bytes:
    """A recorded API answer from tests/fixtures, its timestamps moved as if recorded now."""
    body = (FIXTURES / relative).read_bytes()
    if relative.endswith(".xml"):
        return re.sub(
            rb"<pubDate>([^<]+)</pubDate>",
            lambda m: (
                b"<pubDate>"
                + format_datetime(parsedate_to_datetime(m[1].decode()) + SHIFT).encode()
                + b"</pubDate>"
            ),
            body,
        )
    return json.dumps(shift_times(json.loads(body), SHIFT)).encode()


def open_view(
    monkeypatch: pytest.MonkeyPatch, config_file: Path, toml: str, name: str, **query: str
) -> AppTest:
    """A dashboard page (dashboard/views/NAME.py) under AppTest, run once, with the config
    `toml` written to `config_file` and the page's query parameters `query`."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    config_file.write_text(toml)
    monkeypatch.setenv("TIDINGS_CONFIG", str(config_file))
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "views" / f"{name}.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def fast_source(kind: str, base_url: str | None, **extra: object) -> Source:
    return Source.model_validate(
        {"id": kind, "kind": kind, "base_url": base_url, "requests_per_minute": 60_000, **extra}
    )


def collect_with(
    collect, source: Source, queries=("Nimbus Notes",), state: SourceState | None = None
):
    """Run a collector once (one attempt: retries are the pass's, see `fetch_as_a_pass_does`),
    with a fast-failing HTTP client, against whatever source says."""
    settings = HttpSettings(timeout_seconds=2, max_attempts=2, max_retry_after_seconds=2)

    async def go():
        async with Http(settings) as http:
            return await collect(
                http, source, state or SourceState(source=source.id), list(queries)
            )

    return asyncio.run(go())


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    """Prefect's test harness (a server of its own), for the tests that run Prefect tasks; the
    module's only, so that no later test finds a Prefect API configured."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def fetch_as_a_pass_does(
    source: Source,
    settings: HttpSettings,
    queries: tuple[str, ...] = ("Nimbus Notes",),
    state: SourceState | None = None,
) -> tuple[Fetched, list[str]]:
    """Fetch a source in the pass's task, with Prefect's retries as `settings` say (needs a
    Prefect server: the `prefect_server` fixture). Returns what it fetched and the names of
    its task run's states, oldest first."""
    from prefect import flow

    from collectors.http import Attempts
    from flows.pipeline import collect_source
    from flows.retries import fetch_retries

    @flow
    async def fetch_one() -> tuple[Fetched, list[str]]:
        async with Http(settings) as http:
            state_ = state or SourceState(source=source.id)
            fetch = collect_source.with_options(**fetch_retries(settings))
            run = await fetch(
                http, source, state_, list(queries), Attempts(settings.max_attempts),
                return_state=True,
            )  # fmt: skip
        return await run.aresult(), await task_run_history(run.state_details.task_run_id)

    return asyncio.run(fetch_one())


async def task_run_history(task_run_id: object, timeout: float = 120) -> list[str]:
    """The names of a finished task run's states, oldest first, once the server has them all
    (task runs report their states to the server as events, a moment later)."""
    from prefect.client.orchestration import get_client

    deadline = asyncio.get_running_loop().time() + timeout
    async with get_client() as client:
        while True:
            history = await client.read_task_run_states(task_run_id)
            if (history and history[-1].is_final()) or asyncio.get_running_loop().time() > deadline:
                return [s.name for s in history]
            await asyncio.sleep(0.2)


class Inbox:
    """An SMTP server's handler that keeps what it is sent, or refuses while told to."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


@contextmanager
def smtp_server(handler: Inbox) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (a free port, as `handler.port`) for the duration."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp():
    with smtp_server(Inbox()) as handler:
        yield handler
