from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.config import Config, parse_config

ROOT = Path(__file__).resolve().parent.parent
DEMO_FEEDS = ROOT / "data" / "demo" / "feeds"
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
        "http": {"timeout_seconds": 2, "max_attempts": 3, "max_retry_after_seconds": 5},
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
