"""Pipeline throughput and memory, and the pass over unchanged feeds. Prints figures and writes
them into bench/RESULTS.md (its own section, between the pipeline markers); asserts nothing.

    .venv/bin/python bench/pipeline.py [--items 50000 200000] [--feeds 50] [--on-topic 0.3]
                                       [--unchanged 1000] [--results bench/RESULTS.md]

Throughput: feedparser's bare parse rate against the whole parse → score → store path, on the
same generated feeds, in one run (the anchor: bare feedparser on one core). Each size runs in
a process of its own, so that its peak memory (max RSS) is its own; the generated feeds the
bench holds in memory are counted in it and printed beside it.

Unchanged feeds: `--unchanged N` feeds on a loopback server that sends an ETag and answers a
matching If-None-Match with 304, as most feeds do between two posts. The real pass
(`flows.pipeline.run_pass`, Prefect flow) runs twice; the second one, where every feed answers
304, is timed, and the server counts the most requests it had in flight at once (the pass
allows `http.per_host` per host; all N feeds are on one host here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feedgen import generate_items, render_rss  # noqa: E402
from bench.results import RESULTS, machine, write_section  # noqa: E402
from collectors import offload  # noqa: E402
from collectors.rss import parse_feed  # noqa: E402
from data import store  # noqa: E402
from data.config import parse_config  # noqa: E402
from data.records import Fetched  # noqa: E402
from flows.pipeline import keep_candidates, store_pass  # noqa: E402
from nlp import build_scorer  # noqa: E402

WATCH = [
    {"name": "Nimbus Notes", "terms": ["Nimbus Notes", "NimbusNotes"]},
    {"name": "Nimbus Sync", "kind": "product", "terms": ["Nimbus Sync"]},
    {"name": "Dana Whitfield", "kind": "person", "terms": ["Dana Whitfield"]},
    {"name": "Quillpad", "kind": "competitor", "terms": ["Quillpad"]},
    {"name": "PaperTrail", "kind": "competitor", "terms": ["PaperTrail app"]},
]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- throughput and memory, one size per process ---------------------------------------------


def throughput(items: int, feeds: int, on_topic: float, bare: bool) -> dict:
    per_feed = items // feeds
    bodies = [
        render_rss(
            generate_items(per_feed, seed, f"site{seed}.example", days=30, on_topic=on_topic),
            f"Site {seed}",
            f"site{seed}.example",
        )
        for seed in range(feeds)
    ]
    out: dict = {
        "items": sum(b.count(b"<item>") for b in bodies),
        "feed_mb": sum(map(len, bodies)) / 2**20,
        "generated_mb": peak_mb(),
    }
    if bare:
        started = time.perf_counter()
        for body in bodies:
            feedparser.parse(body)
        out["bare_s"] = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "database": {"path": str(Path(tmp) / "bench.duckdb")},
                "watch": WATCH,
                "sources": [
                    {"id": f"site{i}", "url": f"http://127.0.0.1/{i}.xml"} for i in range(feeds)
                ],
            }
        )
        scorer = build_scorer(config.watch, config.models_dir)
        with store.connect(config.db_path):
            pass  # migrations, outside the timing
        by_id = {s.id: s for s in config.sources}
        started = t0 = time.perf_counter()

        async def parse_all() -> list[list]:
            return await asyncio.gather(
                *(offload.run(parse_feed, b, f"site{i}") for i, b in enumerate(bodies))
            )

        # As the flow's collect tasks: every feed parsed in the worker processes (one per
        # core), then what may be about a watched entity kept.
        fetched = [
            keep_candidates(Fetched(f"site{i}", ms), by_id[f"site{i}"], scorer)
            for i, ms in enumerate(asyncio.run(parse_all()))
        ]
        out["parse_s"] = time.perf_counter() - t0
        out["parsed_mb"] = peak_mb()
        t0 = time.perf_counter()
        mentions = [m for f in fetched for m in f.mentions]
        scored = []
        size = config.pipeline.batch_size
        for i in range(0, len(mentions), size):
            scored += scorer.score(mentions[i : i + size])
        out["score_s"] = time.perf_counter() - t0
        out["scored_mb"] = peak_mb()
        t0 = time.perf_counter()
        report = store_pass(config, list(config.sources), fetched, scored, {}, store.utcnow())
        out["store_s"] = time.perf_counter() - t0
        out["whole_s"] = time.perf_counter() - started
    out |= {
        "candidates": len(mentions),
        "scored": len(scored),
        "stored": report.new_mentions,
        "worker_mb": offload.worker_peak_mb(),
        "peak_mb": peak_mb(),
    }
    offload.shutdown()
    return out


# --- a pass over unchanged feeds (304) ---------------------------------------------------------


def serve_unchanged(bodies: dict[str, bytes]) -> tuple[ThreadingHTTPServer, dict]:
    """Feeds with ETags; a request naming the current ETag gets 304 and no body."""
    seen = {"requests": 0, "not_modified": 0, "in_flight": 0, "most_in_flight": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 — the http.server protocol
            with lock:
                seen["requests"] += 1
                seen["in_flight"] += 1
                seen["most_in_flight"] = max(seen["most_in_flight"], seen["in_flight"])
            try:
                body = bodies.get(self.path)
                etag = f'"{self.path}-v1"'
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.headers.get("If-None-Match") == etag:
                    with lock:
                        seen["not_modified"] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
            finally:
                with lock:
                    seen["in_flight"] -= 1

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def unchanged_pass(feeds: int, per_feed: int = 10) -> dict:
    from flows.pipeline import run_pass

    now = datetime.now(UTC)
    bodies = {
        f"/{i}.xml": render_rss(
            generate_items(per_feed, i, f"site{i}.example", end=now, days=5, on_topic=0.3),
            f"Site {i}",
            f"site{i}.example",
        )
        for i in range(feeds)
    }
    server, seen = serve_unchanged(bodies)
    port = server.server_address[1]
    out: dict = {"feeds": feeds, "items": feeds * per_feed}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = parse_config(
                {
                    "database": {"path": str(Path(tmp) / "bench.duckdb")},
                    "watch": WATCH,
                    "sources": [
                        {"id": f"site{i}", "url": f"http://127.0.0.1:{port}/{i}.xml"}
                        for i in range(feeds)
                    ],
                },
                Path(tmp) / "tidings.toml",
            )
            out["per_host"] = config.http.per_host
            for name in ("first", "second"):
                before = dict(seen)
                seen["most_in_flight"] = 0
                started = time.perf_counter()
                report = run_pass(config, force=True)
                out[f"{name}_s"] = time.perf_counter() - started
                out[f"{name}_requests"] = seen["requests"] - before["requests"]
                out[f"{name}_304"] = seen["not_modified"] - before["not_modified"]
                out[f"{name}_most_in_flight"] = seen["most_in_flight"]
                out[f"{name}_summary"] = report.summary()
    finally:
        server.shutdown()
    out["peak_mb"] = peak_mb()
    return out


# --- orchestration and the report ------------------------------------------------------------


def child(args: list[str]) -> dict:
    """Run this script in a process of its own; its last line is a JSON object."""
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench/pipeline.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def print_throughput(r: dict) -> None:
    print(
        f"{r['items']:,} items ({r['feed_mb']:.0f} MB of RSS held by the bench; "
        f"{r['generated_mb']:.0f} MB RSS once generated)"
    )
    if "bare_s" in r:
        print(f"  bare feedparser.parse, one core: {r['items'] / r['bare_s']:8,.0f} items/s "
              f"({r['bare_s']:.1f} s)")  # fmt: skip
    print(
        f"  whole parse→score→store:        {r['items'] / r['whole_s']:8,.0f} items/s "
        f"({r['whole_s']:.1f} s): parse+clean+prefilter {r['parse_s']:.1f} s "
        f"({r['candidates']:,} kept), score {r['score_s']:.1f} s ({r['scored']:,}, "
        f"{r['scored'] / r['score_s'] if r['score_s'] else 0:,.0f}/s), store {r['store_s']:.1f} s"
    )
    print(
        f"  peak memory {r['peak_mb']:.0f} MB (parsed {r['parsed_mb']:.0f}, scored "
        f"{r['scored_mb']:.0f}); largest parse worker {r['worker_mb']:.0f} MB"
    )


def report(sizes: list[dict], unchanged: dict | None, argv: str) -> str:
    lines = [
        "## Pipeline (`bench/pipeline.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, with `bench/pipeline.py {argv}`."
        " Generated feeds (bench/feedgen.py) parsed in the worker processes, prefiltered, scored"
        " and stored as a pass does; each size in a process of its own.",
        "",
        "| what | figure | anchor, same run | goal |",
        "| --- | --- | --- | --- |",
    ]
    first = sizes[0]
    if "bare_s" in first:
        share = (first["score_s"] + first["store_s"]) / first["bare_s"]
        lines.append(
            f"| scoring + storing {first['items']:,} items | {first['score_s'] + first['store_s']:.1f}"
            f" s = {share:.0%} of bare parsing | bare feedparser on one core: {first['bare_s']:.1f} s"
            " | ≤ 25 % |"
        )
        lines.append(
            f"| whole parse → score → store, {first['items']:,} items | "
            f"{first['items'] / first['whole_s']:,.0f} items/s | bare feedparser: "
            f"{first['items'] / first['bare_s']:,.0f} items/s | — |"
        )
    lines.append(
        f"| scoring inside the pipeline | {first['scored'] / first['score_s']:,.0f} mentions/s "
        f"(one process) | — | ≥ 2,000 per core |"
    )
    for r in sizes:
        goal = "< 500 MB at 50 k items" if r["items"] <= 60_000 else "flat beyond 50 k"
        lines.append(
            f"| peak memory, {r['items']:,} items | {r['peak_mb']:,.0f} MB (largest parse "
            f"worker {r['worker_mb']:,.0f} MB) | the generated feeds held by the bench: "
            f"{r['feed_mb']:,.0f} MB | {goal} |"
        )
    if unchanged:
        u = unchanged
        lines.append(
            f"| a pass over {u['feeds']:,} unchanged feeds on a loopback server (all 304) | "
            f"{u['second_s']:.1f} s ({u['second_304']:,} of {u['second_requests']:,} requests "
            f"answered 304; at most {u['second_most_in_flight']} in flight, per_host "
            f"{u['per_host']}) | the first pass (all 200, {u['items']:,} items, Prefect's "
            f"start included): {u['first_s']:.1f} s | < 20 s, politeness kept |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--on-topic", type=float, default=0.3, help="share about the watchlist")
    ap.add_argument("--unchanged", type=int, default=1000, help="feeds answering 304; 0: none")
    ap.add_argument("--results", default=str(RESULTS), help="'' to write none")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size
    ap.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--unchanged-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        print(json.dumps(throughput(args.one, args.feeds, args.on_topic, args.bare)))
        return
    if args.unchanged_child:
        print(json.dumps(unchanged_pass(args.unchanged)))
        return
    sizes = []
    for i, n in enumerate(args.items):
        extra = ["--bare"] if i == 0 else []  # the anchor once: bare parsing is the slow part
        r = child(["--one", str(n), "--feeds", str(args.feeds), "--on-topic",
                   str(args.on_topic), *extra])  # fmt: skip
        print_throughput(r)
        sizes.append(r)
    unchanged = None
    if args.unchanged:
        unchanged = child(["--unchanged-child", "--unchanged", str(args.unchanged)])
        u = unchanged
        print(
            f"{u['feeds']:,} feeds, first pass {u['first_s']:.1f} s ({u['first_summary']}); "
            f"second pass {u['second_s']:.1f} s ({u['second_summary']}); at most "
            f"{u['second_most_in_flight']} requests in flight (per_host {u['per_host']})"
        )
    if args.results:
        argv = (
            f"--items {' '.join(map(str, args.items))} --feeds {args.feeds} "
            f"--on-topic {args.on_topic} --unchanged {args.unchanged}"
        )
        write_section("pipeline", report(sizes, unchanged, argv), Path(args.results))
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
