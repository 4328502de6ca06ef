"""Services started on 127.0.0.1 for tests and benches: a throw-away PostgreSQL cluster (a
DuckLake's catalog), a Prefect server that workers on several machines share, and the `tidings`
command itself in a session of its own, with a config of its own.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (made
by Debian's package) and lives in a folder of its own that user can reach (pytest's tmp_path
is root's alone).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from data import store
from data.config import load_config

USER = "tidings"  # the cluster's superuser, trusted on 127.0.0.1 only
TIMEOUT = 300  # seconds: generous, so a loaded two-core machine passes; nothing is timed
TIDINGS = str(Path(sys.executable).parent / "tidings")


def binaries() -> Path | None:
    """Debian's PostgreSQL binaries (initdb, pg_ctl, postgres), the newest version, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_postgres(bin_dir: Path, *dbnames: str) -> Iterator[str]:
    """Start a cluster, create the databases (default: tidings), yield the libpq words that
    reach the first ("dbname=… host=… port=… user=…"; the others by their dbname); stop the
    cluster and remove its files after."""
    dbnames = dbnames or ("tidings",)
    root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
    if root:
        shutil.chown(folder, "postgres", "postgres")

    def run(*args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if root else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    data = folder / "data"
    port = _free_port()
    run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8")
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
        "-w", "-t", "120", "start")  # fmt: skip
    try:
        for name in dbnames:
            run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, name)
        yield f"dbname={dbnames[0]} host=127.0.0.1 port={port} user={USER}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def running_prefect_server(home: Path) -> Iterator[str]:
    """A Prefect server on 127.0.0.1 (its database in `home`) that every worker process of a
    test reports to, as workers on several machines share one: yield its API URL."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false"}  # fmt: skip
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).parent / "prefect"
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Prefect server did not start: see {home / 'server.log'}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


def write_config(folder: Path, sources: Mapping[str, str] | None = None, **sections: str) -> Path:
    """`folder`/tidings.toml: the database in `folder`, free ports for the push endpoint and the
    Prefect server, the watched name Nimbus Notes and one feed a source (id: URL). Each keyword
    is a section's lines (`http="max_attempts = 1"`), added to it or making it."""
    lines = {
        "database": f'path = "{folder / "t.duckdb"}"',
        "push": f"port = {_free_port()}",
        "prefect": f"port = {_free_port()}",
    }
    for name, more in sections.items():
        lines[name] = f"{lines[name]}\n{more}" if name in lines else more
    text = "".join(f"[{name}]\n{body.strip()}\n" for name, body in lines.items())
    text += '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes", "NimbusNotes"]\n'
    text += "".join(
        f'[[sources]]\nid = "{i}"\nurl = "{url}"\n' for i, url in (sources or {}).items()
    )
    path = folder / "tidings.toml"
    path.write_text(text)
    return path


def start(args: list[str], cwd: Path, stderr: int = subprocess.STDOUT) -> subprocess.Popen:
    """`tidings ARGS` in a session of its own, as a terminal runs it in its own process group;
    its output piped (its errors with it, unless `stderr` says otherwise). Ctrl-C reaches it
    as in a terminal even when the tests run in a background job (which ignores SIGINT, and
    so would every process it starts)."""
    return subprocess.Popen(
        [TIDINGS, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True,
        start_new_session=True, preexec_fn=ctrl_c_as_in_a_terminal,
    )  # fmt: skip


def ctrl_c_as_in_a_terminal() -> None:
    """In a child, before it runs: SIGINT as a terminal leaves it (not ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ctrl_c(proc: subprocess.Popen) -> tuple[str, str | None]:
    """What a terminal's Ctrl-C does: SIGINT to the whole process group; its output."""
    import pytest  # here: the benches use this module without pytest

    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"still running {TIMEOUT} s after Ctrl-C:\n{proc.communicate()}")


def mentions_per_source(config_path: Path, lock_timeout: float = 60) -> dict[str, int]:
    """How many mentions the store at `config_path`'s database holds, per source."""
    with store.connect(load_config(config_path).db_path, lock_timeout) as db:
        rows = db.execute("SELECT source, count(*) FROM mentions GROUP BY source").fetchall()
    return dict(rows)
