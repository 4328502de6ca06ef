"""Past one machine: two worker processes run passes at once over the same sources into one
DuckLake (a PostgreSQL catalog on 127.0.0.1, Parquet files in tmp_path), and the dashboard
reads the union of what they stored, no mention lost or doubled: the same as one pass over
every item into the embedded DuckDB file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from werkzeug import Request, Response

from data import database, store
from data.config import load_config
from data.errors import ConfigError
from data.records import Mention
from data.store import MentionFilter
from nlp import duplicates
from tests.conftest import DEMO_FEEDS, WATCH, make_config
from tests.services import binaries, running_postgres, running_prefect_server

FEEDS = ["app-reviews.xml", "community-forum.xml", "startup-news.xml"]
PG = binaries()
pytestmark = pytest.mark.skipif(
    PG is None,
    reason="PostgreSQL's binaries are absent (Debian: apt-get install postgresql; make test "
    "installs it as root)",
)


@pytest.fixture(scope="module")
def catalog():
    with running_postgres(PG, "tidings", "scratch") as words:
        yield words


@pytest.fixture(scope="module")
def scratch_lake(catalog, tmp_path_factory) -> database.Lake:
    """A lake of the tests of the store's concurrency: its catalog is a database of its own."""
    words = catalog.replace("dbname=tidings", "dbname=scratch")
    return database.lake_from_config(f"ducklake:postgres:{words}", tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    with running_prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield url


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


def start_pass(config: Path, api: str) -> subprocess.Popen:
    """`tidings run --all` in a process of its own, as a worker on another machine runs it,
    reporting to the shared Prefect server."""
    env = {**os.environ, "PREFECT_API_URL": api, "TIDINGS_CONFIG": str(config)}
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
    catalog, prefect_api, httpserver, tmp_path, monkeypatch
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

    workers = [start_pass(lake_toml, prefect_api) for _ in (1, 2)]
    single = start_pass(file_toml, prefect_api)
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
    for process in [start_pass(lake_toml, prefect_api) for _ in (1, 2)]:
        finish(process)
    again = dashboard_reads(lake_toml, monkeypatch)
    assert again == on_lake


def served_counts(httpserver, prefix: str) -> list[int]:
    counts: dict[str, int] = defaultdict(int)
    for request, _ in httpserver.log:
        if request.path.startswith(prefix):
            counts[request.path] += 1
    return list(counts.values())


def some_mentions(n: int) -> list[Mention]:
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    return [
        Mention("blog", f"post-{i}", f"https://blog.example/{i}", f"Post {i}", "Nimbus Notes",
                None, at - timedelta(hours=i))
        for i in range(n)
    ]  # fmt: skip


def test_two_writers_storing_the_same_mentions_at_once_store_them_once(scratch_lake):
    lake = scratch_lake
    mentions, now = some_mentions(20), datetime.now(UTC)
    with store.connect(lake) as db:
        before = store.totals(db)["mentions"]
    first, second = database.open_lake(lake), database.open_lake(lake)
    for db in (first, second):  # both read the lake before either commits
        db.begin()
        database.claim_writes(db)
        assert store.upsert_mentions(db, mentions, now) == len(mentions)
    first.commit()
    with pytest.raises(duckdb.Error) as lost:
        second.commit()
    assert database.is_conflict(lost.value)
    second.close()

    def store_again() -> int:
        with store.connect(lake) as db:
            db.begin()
            database.claim_writes(db)
            n = store.upsert_mentions(db, mentions, now)
            db.commit()
            return n

    assert database.retry_conflicts(store_again) == 0  # run again: all stored already
    with store.connect(lake) as db:
        total, distinct = db.execute("SELECT count(*), count(DISTINCT id) FROM mentions").fetchone()
    assert total == distinct == before + len(mentions)


def test_without_claiming_two_writers_would_both_insert_the_same_mention(scratch_lake):
    """Why claim_writes exists: DuckLake lets two inserts commit side by side."""
    lake = scratch_lake
    mention = some_mentions(1)
    first, second = database.open_lake(lake), database.open_lake(lake)
    for db in (first, second):
        db.begin()
        store.upsert_mentions(db, [replace(mention[0], native_id="unclaimed")], datetime.now(UTC))
    first.commit()
    second.commit()
    with store.connect(lake) as db:
        (n,) = db.execute(
            "SELECT count(*) FROM mentions WHERE id = ?",
            [replace(mention[0], native_id="unclaimed").id],
        ).fetchone()
    assert n == 2


ANNOUNCEMENT = (
    "Quillpad announced on Tuesday that its offline editor now keeps a full version history "
    "for every shared notebook, with restores by paragraph and a weekly export to plain files."
)


def test_a_copy_joins_the_story_another_worker_just_stored_whatever_its_date(
    catalog, scratch_lake, tmp_path
):
    """Two workers at once: one stores an article published weeks ago, the other its copy
    published today. The copy joins the article's story, as it would in one pass (where copies
    group whatever their dates): a head stored within the window is a candidate, not only one
    published within it."""
    from flows.pipeline import store_pass
    from nlp import build_scorer

    words = catalog.replace("dbname=tidings", "dbname=scratch")
    lake = {"url": f"ducklake:postgres:{words}", "data_path": scratch_lake.data_path}
    config = make_config(tmp_path, [], database=lake)
    assert config.db_path == scratch_lake
    now = datetime.now(UTC)
    old = Mention("forum", "old-announcement", "https://forum.example/q/1", "Quillpad history",
                  ANNOUNCEMENT, None, now - timedelta(days=duplicates.WINDOW_DAYS + 10))  # fmt: skip
    copy = Mention("blog", "copy-announcement", "https://blog.example/q/9", "Quillpad news",
                   "Via the forum: " + ANNOUNCEMENT, None, now - timedelta(hours=1))  # fmt: skip
    scorer = build_scorer(config.watch)
    for worker in ([old], [copy]):  # the second runs on a snapshot holding the first's rows
        store_pass(config, [], [], scorer.score(worker), {}, now)
    with store.connect(config.db_path) as db:
        keys = dict(
            db.execute(
                "SELECT id, story_key FROM mentions WHERE id IN (?, ?)", [old.id, copy.id]
            ).fetchall()
        )
    assert keys == {old.id: store.story_key(old), copy.id: store.story_key(old)}


def test_migrations_are_translated_for_ducklake():
    sql = (
        "CREATE TABLE t (\n    id VARCHAR PRIMARY KEY,   -- a PRIMARY KEY comment\n"
        "    tags VARCHAR[] NOT NULL DEFAULT [],\n    ok BOOLEAN DEFAULT false,\n"
        "    token VARCHAR NOT NULL UNIQUE,\n    PRIMARY KEY (id, token)\n);\n"
        "CREATE INDEX t_token ON t (token);\nALTER TABLE t ADD COLUMN n INTEGER DEFAULT 0;"
    )
    assert database.for_lake(sql) == (
        "CREATE TABLE t (\n    id VARCHAR,   \n    tags VARCHAR[] NOT NULL,\n"
        "    ok BOOLEAN DEFAULT 'false',\n    token VARCHAR NOT NULL\n);\n\n"
        "ALTER TABLE t ADD COLUMN n INTEGER DEFAULT 0;"
    )


def test_what_a_migration_does_to_a_duckdb_file_alone_is_left_out_of_a_lake():
    sql = (
        "CREATE TABLE a (id VARCHAR);\n-- lake: skip\nCREATE TABLE b AS FROM a;\n"
        "DROP TABLE a;\n-- lake: end\nCREATE TABLE c (id VARCHAR);"
    )
    assert database.for_lake(sql) == "CREATE TABLE a (id VARCHAR);\n\nCREATE TABLE c (id VARCHAR);"
    # Migration 024 drops the keys of a DuckDB file's big tables, which a lake never had.
    migrations = Path(__file__).resolve().parent.parent / "data" / "migrations"
    keys_off = next(migrations.glob("*_keys_off_big_tables.sql")).read_text()
    assert database.for_lake(keys_off).strip() == ""


@pytest.mark.parametrize(
    ("url", "data_path", "error"),
    [
        ("postgres:dbname=x", "/lake", "expected 'ducklake:postgres:"),
        ("ducklake:postgres:dbname=x password=secret", "/lake", "set $PGPASSWORD"),
        ("ducklake:postgres:dbname=x", None, "needs data_path"),
    ],
)
def test_a_bad_database_url_is_a_one_line_config_error(tmp_path, url, data_path, error):
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n' + (f'data_path = "{data_path}"\n' if data_path else "")
    )
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "database" in str(e.value) and error in str(e.value)
    assert "secret" not in str(e.value)


def test_keyed_writes_repeated_on_a_lake_keep_one_row_per_key(scratch_lake):
    from data import corrections, outbox

    now = datetime.now(UTC)
    mail = outbox.Mail(
        "mail-1", "alert", "spike", ("a@example.com",), "Spike", "t", "<p>t</p>", now
    )
    with store.connect(scratch_lake) as db:
        for fired in (now - timedelta(hours=1), now):  # the second write replaces the first
            assert outbox.enqueue(db, [mail], now) == (1 if fired != now else 0)
            outbox.save_alert_states(db, [outbox.AlertState("spike", "Nimbus", True, fired)])
            outbox.add_events(db, [("event-1", "spike", "Spike", {"n": 1})], now)
            corrections.import_labelled(db, [corrections.Labelled("so slow", "negative")], "f", now)
        counts = db.execute(
            "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM alert_state), "
            "(SELECT count(*) FROM alert_events), (SELECT count(*) FROM imported_labels)"
        ).fetchone()
        (last_fired,) = db.execute("SELECT last_fired_at FROM alert_state").fetchone()
    assert counts == (1, 1, 1, 1)
    assert last_fired == now.replace(tzinfo=None)


def test_an_unreachable_catalog_is_a_one_line_error_naming_the_lake(tmp_path):
    from data.errors import TidingsError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lake = database.lake_from_config(
        f"ducklake:postgres:dbname=x host=127.0.0.1 port={port} user=x connect_timeout=5",
        tmp_path / "files",
    )
    with pytest.raises(TidingsError) as e:
        with store.connect(lake):
            pass
    message = str(e.value)
    assert f"port={port}" in message and "cannot open the lake" in message
    assert "\n" not in message
