"""Passes per minute and mentions per hour with one and with two writer processes, on a
DuckLake (a PostgreSQL catalog on 127.0.0.1, Parquet files in a temporary folder) and on the
embedded DuckDB file; writes its section of bench/RESULTS.md.

Each writer is a long-lived process running pass after pass (`flows.pipeline.run_pass`, as a
worker does), reporting to one shared Prefect server. The sources are RSS feeds on a loopback
server that publish new items at every request, so every pass fetches, scores and stores.
On the DuckDB file a second writer waits for the pass lock; on the lake both store at once.

    .venv/bin/python -m bench.scale [--seconds 90] [--feeds 20] [--items 25]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feedgen import generate_items, render_rss  # noqa: E402
from bench.results import machine, write_section  # noqa: E402
from tests.services import binaries, running_postgres, running_prefect_server  # noqa: E402


def serve_new_items(items: int) -> tuple[ThreadingHTTPServer, str]:
    """/feed/K.xml answers with `items` items never served before (a fresh seed each time)."""
    seeds = itertools.count(1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            with lock:
                seed = next(seeds)
            site = f"site{self.path.rsplit('/', 1)[-1].split('.')[0]}.example"
            body = render_rss(
                generate_items(items, seed, site, end=datetime.now(UTC), days=1, on_topic=0.9),
                site,
                site,
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def write_config(folder: Path, database: str, base: str, feeds: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sources = "".join(
        f'[[sources]]\nid = "feed{k}"\nurl = "{base}/feed/{k}.xml"\n' for k in range(feeds)
    )
    path = folder / "tidings.toml"
    path.write_text(
        f"[database]\n{database}\nlock_timeout_seconds = 600\n"
        '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes", "NimbusNotes"]\n'
        '[[watch]]\nname = "Nimbus Sync"\nterms = ["Nimbus Sync"]\n'
        '[[watch]]\nname = "Quillpad"\nterms = ["Quillpad"]\n' + sources
    )
    return path


def worker(config_path: str, go: str, out: str) -> None:
    """One writer: a warm-up pass, then, from the moment the file `go` names (written once
    every writer is warm), passes until the end it holds; counts the passes done by then."""
    from data.config import load_config
    from flows.pipeline import run_pass

    config = load_config(Path(config_path))
    run_pass(config, force=True, wait=600)  # migrations, the model, Prefect's client: once
    Path(out + ".ready").touch()
    while not Path(go).exists():
        time.sleep(0.1)
    start, end = json.loads(Path(go).read_text())
    passes = mentions = 0
    while time.time() < end:
        report = run_pass(config, force=True, wait=600)
        if time.time() <= end:  # a pass that ends after the window does not count
            passes += 1
            mentions += report.new_mentions
    Path(out).write_text(
        json.dumps({"passes": passes, "mentions": mentions, "seconds": end - start})
    )


def measure(config: Path, writers: int, seconds: float, api: str, folder: Path) -> dict:
    """Counts of `writers` processes over one window of `seconds`, the same for all of them."""
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_LOGGING_LEVEL": "WARNING"}
    outs = [folder / f"writer-{i}.json" for i in range(writers)]
    go = folder / "go.json"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.scale", "--worker", str(config), str(go), str(o)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for o in outs
    ]
    deadline = time.monotonic() + 900
    while not all(Path(f"{o}.ready").exists() for o in outs):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    start = time.time() + 1
    go.write_text(json.dumps([start, start + seconds]))
    for p in processes:
        _, err = p.communicate(timeout=seconds + 900)
        if p.returncode:
            raise SystemExit(f"a writer failed:\n{err[-3000:]}")
    counts = [json.loads(o.read_text()) for o in outs]
    passes = sum(c["passes"] for c in counts)
    mentions = sum(c["mentions"] for c in counts)
    return {
        "passes_per_minute": passes / seconds * 60,
        "mentions_per_hour": mentions / seconds * 3600,
        "passes": passes,
        "mentions": mentions,
        "window": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="timed window")
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=25, help="new items per feed and pass")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    pg = binaries()
    if pg is None:
        raise SystemExit("bench/scale.py needs PostgreSQL's binaries (apt-get install postgresql)")
    server, base = serve_new_items(args.items)
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="tidings-scale-") as tmp,
        running_postgres(pg, "lake1", "lake2") as catalog,
        running_prefect_server(Path(tmp) / "prefect") as api,
    ):
        folder = Path(tmp)
        for store_kind, writers in (("file", 1), ("file", 2), ("lake", 1), ("lake", 2)):
            where = folder / f"{store_kind}-{writers}"
            if store_kind == "file":
                database = f'path = "{where / "tidings.duckdb"}"'
            else:
                words = catalog.replace("dbname=lake1", f"dbname=lake{writers}")
                database = f'url = "ducklake:postgres:{words}"\ndata_path = "{where / "files"}"'
            config = write_config(where, database, base, args.feeds)
            figures = measure(config, writers, args.seconds, api, where)
            rows.append((store_kind, writers, figures))
            print(
                f"{store_kind:4} {writers} writer(s): {figures['passes_per_minute']:.1f} passes/min, "
                f"{figures['mentions_per_hour']:,.0f} mentions/hour "
                f"({figures['passes']} passes, {figures['mentions']} mentions in "
                f"{figures['window']:.0f} s)",
                flush=True,
            )
    server.shutdown()
    name = {"file": "embedded DuckDB file", "lake": "DuckLake (PostgreSQL catalog)"}
    lines = [
        "## Scale-out: writers on DuckLake beside the DuckDB file (bench/scale.py)",
        "",
        f"{args.feeds} RSS feeds on a loopback server, each answering {args.items} new items at "
        f"every request; each writer a long-lived process running pass after pass over one "
        f"{args.seconds:.0f} s window once all are warm (a pass is counted if it ends in it), all reporting to one Prefect server; "
        "PostgreSQL 15 on 127.0.0.1 as the lake's catalog, its Parquet files on the local disk. "
        "On the DuckDB file a second writer waits for the pass lock.",
        "",
        "| store | writers | passes per minute | mentions per hour | passes | mentions |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {name[k]} | {w} | {f['passes_per_minute']:.1f} | {f['mentions_per_hour']:,.0f} "
            f"| {f['passes']} | {f['mentions']} |"
            for k, w, f in rows
        ),
        "",
        f"Machine: {machine()}, shared with other work while it ran. Measured "
        f"{datetime.now(UTC):%Y-%m-%d}. Command: `.venv/bin/python -m bench.scale "
        f"--seconds {args.seconds:.0f} --feeds {args.feeds} --items {args.items}`.",
    ]
    write_section("scale", lines)


if __name__ == "__main__":
    main()
