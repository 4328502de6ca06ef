"""Past one machine: two worker processes run passes at once over the same sources into one
DuckLake (a PostgreSQL catalog on 127.0.0.1, Parquet files in tmp_path), and the dashboard
reads the union of what they stored, no mention lost or doubled: the same as one pass over
every item into the embedded DuckDB file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from werkzeug import Request, Response

from data import database, store
from data.config import load_config
from data.store import MentionFilter
from tests.conftest import DEMO_FEEDS, WATCH
from tests.postgres import binaries, running_postgres

FEEDS = ["app-reviews.xml", "community-forum.xml", "startup-news.xml"]
PG = binaries()
pytestmark = pytest.mark.skipif(
    PG is None,
    reason="PostgreSQL's binaries are absent (Debian: apt-get install postgresql; make test "
    "installs it as root)",
)


@pytest.fixture(scope="module")
def catalog():
    with running_postgres(PG) as words:
        yield words


def halves(body: bytes) -> tuple[bytes, bytes]:
    """The feed with its first two thirds of items, and with its last two thirds: what two
    workers fetching it a moment apart see of a feed that moves on."""
    items = re.findall(rb"<item>.*?</item>", body, re.S)
    head, tail = body.split(items[0], 1)[0], body.rsplit(items[-1], 1)[1]
    third = len(items) // 3
    return (
        head + b"".join(items[: 2 * third]) + tail,
        head + b"".join(items[third:]) + tail,
    )


def serve_moving_feeds(httpserver) -> None:
    """/moving/NAME alternates between the feed's two halves, request by request; /full/NAME is
    the whole feed."""
    served: dict[str, int] = defaultdict(int)
    bodies = {n: (DEMO_FEEDS / n).read_bytes() for n in FEEDS}

    def moving(request: Request) -> Response:
        name = request.path.rsplit("/", 1)[1]
        served[name] += 1
        body = halves(bodies[name])[served[name] % 2]
        return Response(body, content_type="application/rss+xml")

    for name in FEEDS:
        httpserver.expect_request(f"/moving/{name}").respond_with_handler(moving)
        httpserver.expect_request(f"/full/{name}").respond_with_data(
            bodies[name], content_type="application/rss+xml"
        )


def write_config(folder: Path, database_section: str, base: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    watch = "".join(
        f'[[watch]]\nname = "{w["name"]}"\nterms = {w["terms"]!r}\n'.replace("'", '"')
        for w in WATCH
    )
    sources = "".join(
        f'[[sources]]\nid = "{n.removesuffix(".xml")}"\nurl = "{base}/{n}"\n' for n in FEEDS
    )
    path = folder / "tidings.toml"
    path.write_text(
        f"[database]\n{database_section}\nlock_timeout_seconds = 60\n"
        "[http]\ntimeout_seconds = 10\n" + watch + sources
    )
    return path


def start_pass(config: Path, home: Path) -> subprocess.Popen:
    """`tidings run --all` in a process of its own, as a worker on another machine runs it."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "TIDINGS_CONFIG": str(config)}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "tidings"), "run", "--all"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out[-3000:]
    return out


def dashboard_reads(config: Path, monkeypatch) -> dict:
    """What the dashboard's overview and mentions list read, through dashboard/reads.py."""
    from dashboard import reads

    monkeypatch.setenv("TIDINGS_CONFIG", str(config))
    reads.st.cache_data.clear()
    everything = MentionFilter(limit=10_000)
    listed = reads.mentions(everything)
    ranked = reads.sources_ranked(everything)
    return {
        "summary": reads.summary(everything),
        "count": reads.mention_count(everything),
        "ids": list(listed["id"]),
        "per_source": dict(zip(ranked["source"], ranked["mentions"], strict=True)),
        "per_day": reads.per_day(everything)[["day", "term", "mentions"]].to_dict("records"),
    }


def test_two_workers_fill_one_ducklake_and_the_dashboard_reads_the_union(
    catalog, httpserver, tmp_path, monkeypatch
):
    serve_moving_feeds(httpserver)
    base = httpserver.url_for("").rstrip("/")
    lake_toml = write_config(
        tmp_path / "lake",
        f'url = "ducklake:postgres:{catalog}"\ndata_path = "{tmp_path / "lake-files"}"',
        f"{base}/moving",
    )
    file_toml = write_config(
        tmp_path / "file", f'path = "{tmp_path / "tidings.duckdb"}"', f"{base}/full"
    )
    lake = load_config(lake_toml).db_path
    assert isinstance(lake, database.Lake)
    with store.connect(lake):  # the schema, as `tidings init` or the first worker makes it
        pass

    workers = [start_pass(lake_toml, tmp_path / f"prefect-{i}") for i in (1, 2)]
    single = start_pass(file_toml, tmp_path / "prefect-file")
    for process in [*workers, single]:
        finish(process)
    # Each worker saw one half of each feed: together, every item.
    assert all(n % 2 == 0 and n >= 2 for n in served_counts(httpserver, "/moving/"))

    with store.connect(lake) as db:
        total, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
        readings, read_ids = db.execute(
            "SELECT count(*), count(DISTINCT mention_id) FROM readings"
        ).fetchone()
        runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
        states = db.execute("SELECT count(*), count(DISTINCT id) FROM sources").fetchone()
    assert total == distinct > 100  # nothing doubled
    assert readings == read_ids == distinct
    assert runs == 2 and states == (len(FEEDS), len(FEEDS))

    on_lake = dashboard_reads(lake_toml, monkeypatch)
    in_file = dashboard_reads(file_toml, monkeypatch)
    assert len(on_lake["ids"]) == len(set(on_lake["ids"])) == on_lake["count"]
    assert set(on_lake["ids"]) == set(in_file["ids"])  # nothing lost
    for key in ("summary", "count", "per_source", "per_day"):
        assert on_lake[key] == in_file[key], key

    # Both workers again: every item is stored already, nothing is added or doubled.
    for process in [start_pass(lake_toml, tmp_path / f"prefect-{i}") for i in (1, 2)]:
        finish(process)
    again = dashboard_reads(lake_toml, monkeypatch)
    assert again == on_lake


def served_counts(httpserver, prefix: str) -> list[int]:
    counts: dict[str, int] = defaultdict(int)
    for request, _ in httpserver.log:
        if request.path.startswith(prefix):
            counts[request.path] += 1
    return list(counts.values())
