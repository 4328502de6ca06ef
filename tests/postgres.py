"""A throw-away PostgreSQL cluster on 127.0.0.1, for a DuckLake catalog in tests and benches.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (made
by Debian's package) and lives in a folder of its own that user can reach (pytest's tmp_path
is root's alone).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "tidings"  # the cluster's superuser, trusted on 127.0.0.1 only


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
def running_postgres(bin_dir: Path, dbname: str = "tidings") -> Iterator[str]:
    """Start a cluster, create `dbname`, yield the libpq words that reach it ("dbname=… host=…
    port=… user=…"); stop the cluster and remove its files after."""
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
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, dbname)
        yield f"dbname={dbname} host=127.0.0.1 port={port} user={USER}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
