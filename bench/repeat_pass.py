"""Passes over unchanged, templated feeds that send no ETag: the second pass must cost what is
new (nothing), not what was already stored. Runs the real pass (Prefect flow, HTTP on
127.0.0.1, a DuckDB file in a temp dir) twice and prints each pass's time and the process's
peak memory, and writes them into bench/RESULTS.md (its own section). Asserts nothing.

    .venv/bin/python bench/repeat_pass.py [--feeds 50] [--items 200]

Anchor (issue 10, same workload, before this change): second pass 94 s and 6.1 GB.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import machine, write_section  # noqa: E402
from data.config import parse_config  # noqa: E402
from flows.pipeline import run_pass  # noqa: E402

TEMPLATE = (
    "Deal of the day at {shop}: Nimbus Notes {plan} plan for {price} a year. Free shipping on "
    "orders over 50 dollars, terms and conditions apply, offer valid while stocks last, see the "
    "store for details and more offers on note-taking apps every day of the week."
)


def templated_feed(feed: int, items: int) -> bytes:
    rng = random.Random(feed)
    now = datetime.now(UTC)
    entries = []
    for i in range(items):
        text = TEMPLATE.format(
            shop=f"Shop {feed}",
            plan=rng.choice(["Basic", "Plus", "Pro", "Team"]),
            price=f"${rng.randint(10, 99)}.{rng.randint(0, 99):02d}",
        )
        when = format_datetime(now - timedelta(minutes=feed * items + i))
        entries.append(
            f"<item><title>{escape(text[:60])}</title>"
            f"<link>http://127.0.0.1/shop{feed}/deal{i}</link>"
            f"<guid>shop{feed}-deal{i}</guid><pubDate>{when}</pubDate>"
            f"<description>{escape(text)}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Shop {feed}</title>'
        f"{''.join(entries)}</channel></rss>"
    ).encode()


def serve(bodies: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — the http.server protocol
            body = bodies.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()  # no ETag, no Last-Modified: every pass gets the whole feed
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def reset_peak() -> None:
    """Start this process's resident-memory high-water mark (VmHWM) again from what it holds
    now (Linux: writing 5 to clear_refs), so that a pass's own peak can be read after it."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_since_reset_mb() -> float:
    """This process's VmHWM: its most resident memory since the last reset_peak()."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--items", type=int, default=200, help="items per feed")
    args = ap.parse_args()
    bodies = {f"/{f}.xml": templated_feed(f, args.items) for f in range(args.feeds)}
    server = serve(bodies)
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "database": {"path": str(Path(tmp) / "bench.duckdb")},
                "watch": [{"name": "Nimbus Notes", "terms": ["Nimbus Notes"]}],
                "sources": [
                    {"id": f"shop{f}", "url": f"http://127.0.0.1:{port}/{f}.xml"}
                    for f in range(args.feeds)
                ],
            },
            Path(tmp) / "tidings.toml",
        )
        print(f"{args.feeds} feeds × {args.items} templated items, no ETag, on 127.0.0.1")
        rows = []
        for name in ("first pass", "second pass"):
            reset_peak()
            started = time.perf_counter()
            report = run_pass(config, force=True)
            took = time.perf_counter() - started
            own = peak_since_reset_mb()
            print(f"{name}: {took:6.1f} s, peak RSS {own:6.0f} MB — {report.summary()}")
            rows.append(f"| {name} | {took:.1f} s | {own:.0f} MB | {report.summary()} |")
    server.shutdown()
    write_section("repeat-pass", [
        "## A second pass over unchanged feeds (`bench/repeat_pass.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}: {args.feeds} feeds of "
        f"{args.items} templated items each, sending no ETag, served on 127.0.0.1; the real pass "
        "(Prefect flow, DuckDB file) run twice in one process. Peak RSS is the process's "
        "(Prefect and spaCy included): its most resident memory during the pass (its "
        "high-water mark, reset before each pass). Anchor (issue 10, the same workload before a "
        "pass left out what was stored): second pass 94 s and 6.1 GB. Goal: time proportional "
        "to new items, < 500 MB.",
        "",
        "| pass | time | peak RSS in this pass | report |",
        "| --- | --- | --- | --- |",
        *rows,
    ])  # fmt: skip


if __name__ == "__main__":
    main()
