"""Pipeline throughput and memory, and the pass over unchanged feeds. Prints figures and writes
them into bench/RESULTS.md (its own section, between the pipeline markers); asserts nothing.

    .venv/bin/python bench/pipeline.py [--items 50000 200000] [--feeds 50] [--on-topic 0.3]
                                       [--unchanged 1000] [--results bench/RESULTS.md]

Throughput and memory: the generated feeds are written to files, then read as a pass reads
them, through the pass's own streaming (flows.pipeline.stream_pass → process_batch →
store_pass; files instead of HTTP). Each size runs in a process of its own, so that its peak
memory (max RSS) is its own. Overhead: the first size again one stage after another in one
process (parse, score, store), against feedparser's bare parse time on one core (the anchor).

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
import logging
import multiprocessing.forkserver
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feedgen import generate_items, render_rss  # noqa: E402
from bench.results import RESULTS, busy, machine, write_section  # noqa: E402
from collectors import offload  # noqa: E402
from collectors.rss import read  # noqa: E402
from data import store  # noqa: E402
from data.config import Config, Source, parse_config  # noqa: E402
from data.records import Fetched  # noqa: E402
from flows.pipeline import (  # noqa: E402
    Batch,
    PassReport,
    keep_candidates,
    process_batch,
    score_mentions,
    store_pass,
    stream_pass,
)
from nlp import build_scorer, duplicates, language  # noqa: E402
from nlp.pipeline import as_read, for_scoring  # noqa: E402
from nlp.tokenizer import text_of  # noqa: E402

WATCH = [
    {"name": "Nimbus Notes", "terms": ["Nimbus Notes", "NimbusNotes"]},
    {"name": "Nimbus Sync", "kind": "product", "terms": ["Nimbus Sync"]},
    {"name": "Dana Whitfield", "kind": "person", "terms": ["Dana Whitfield"]},
    {"name": "Quillpad", "kind": "competitor", "terms": ["Quillpad"]},
    {"name": "PaperTrail", "kind": "competitor", "terms": ["PaperTrail app"]},
]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pss_mb(pid: int | str = "self") -> float:
    """A process's proportional set size: its resident memory, each page shared with other
    processes (the workers with their fork server) counted as its share."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except OSError:  # gone (a worker replaced)
        return 0.0
    return next((int(x.split()[1]) / 1024 for x in rollup.splitlines() if x.startswith("Pss:")), 0)


class WholePass:
    """The peak of the memory of the whole pass: this process, its parse workers and the fork
    server they come from, added up (proportional set sizes, sampled every 0.1 s)."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            server = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
            pids = ["self", *offload.worker_pids(), *([server] if server else [])]
            self.peak = max(self.peak, sum(pss_mb(p) for p in pids))

    def __enter__(self) -> WholePass:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- throughput and memory, one size per process ---------------------------------------------


def write_feeds(folder: Path, items: int, feeds: int, on_topic: float) -> list[Path]:
    """The generated feeds, written one at a time (the bench holds none of them)."""
    per_feed = items // feeds
    paths = []
    for seed in range(feeds):
        path = folder / f"{seed}.xml"
        site = f"site{seed}.example"
        path.write_bytes(
            render_rss(generate_items(per_feed, seed, site, days=30, on_topic=on_topic),
                       f"Site {seed}", site)
        )  # fmt: skip
        paths.append(path)
    return paths


def bench_config(folder: Path, name: str, feeds: int) -> Config:
    return parse_config(
        {
            "database": {"path": str(folder / f"{name}.duckdb")},
            "watch": WATCH,
            "sources": [
                {"id": f"site{i}", "url": f"http://127.0.0.1/{i}.xml"} for i in range(feeds)
            ],
        }
    )


def streamed(config: Config, paths: list[Path]) -> dict:
    """The pass as flows.pipeline streams it (stream_pass → process_batch → store_pass), the
    feeds read from files instead of HTTP: each body parsed in the worker processes, its items
    prefiltered, then scored and stored in batches while the next feeds parse."""
    scorer = build_scorer(config.watch, config.models_dir)
    sources = list(config.sources)
    spent = {"score": 0.0, "store": 0.0, "batches": 0}
    log = logging.getLogger("bench")

    async def collect(source: Source) -> Fetched:
        body = paths[int(source.id.removeprefix("site"))].read_bytes()
        feed = await offload.run(read, body, source.id, None, "application/rss+xml", None)
        return keep_candidates(Fetched(source.id, feed.mentions), source, scorer)

    def score(config: Config, mentions: list) -> tuple:
        t0 = time.perf_counter()
        try:
            return score_mentions(config, mentions)
        finally:
            spent["score"] += time.perf_counter() - t0

    def store_batch(*args: object, **kwargs: object) -> PassReport:
        t0 = time.perf_counter()
        try:
            return store_pass(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent["store"] += time.perf_counter() - t0
            spent["batches"] += 1

    def process(batch: Batch) -> PassReport:
        return process_batch(
            config, batch, sources, {}, started, Counter(), log, score, store_batch
        )

    started = store.utcnow()
    t0 = time.perf_counter()
    report = asyncio.run(stream_pass(sources, collect, process, config.pipeline.batch_size))
    return {
        "whole_s": time.perf_counter() - t0,
        "stream_score_s": spent["score"],
        "stream_store_s": spent["store"],
        "batches": spent["batches"],
        "stored": report.new_mentions,
        "seen": report.items_seen,
    }


def stages(config: Config, paths: list[Path]) -> dict:
    """The same work one stage after another in this process, for the overhead against bare
    parsing: parse + prefilter every feed, then score every candidate, then store them."""
    scorer = build_scorer(config.watch, config.models_dir)
    by_id = {s.id: s for s in config.sources}

    async def parse_all() -> list:  # in the worker processes, as a pass parses
        return await asyncio.gather(
            *(offload.run(read, p.read_bytes(), f"site{i}", None, "application/rss+xml", None)
              for i, p in enumerate(paths))
        )  # fmt: skip

    fetched = [
        keep_candidates(Fetched(f"site{i}", feed.mentions), by_id[f"site{i}"], scorer)
        for i, feed in enumerate(asyncio.run(parse_all()))
    ]
    offload.shutdown()
    mentions = [m for f in fetched for m in f.mentions]
    size = config.pipeline.batch_size
    t0 = time.perf_counter()
    scored = []
    for i in range(0, len(mentions), size):
        scored += score_mentions(config, mentions[i : i + size])[0]
    score_s = time.perf_counter() - t0
    steps = where_scoring_goes(config, mentions)
    with store.connect(config.db_path):
        pass  # migrations, outside the timing
    t0 = time.perf_counter()
    for i in range(0, len(scored), size):
        store_pass(config, [], [], scored[i : i + size], {}, store.utcnow(), record=False)
    return {
        "candidates": len(mentions),
        "scored": len(scored),
        "score_s": score_s,
        "store_s": time.perf_counter() - t0,
        "steps": steps,
    }


def where_scoring_goes(config: Config, mentions: list) -> dict[str, float]:
    """Seconds each step of scoring takes over these mentions, one step at a time over all of
    them: the tokenizer, each spaCy component, then the per-mention readings (language,
    intents, per-term sentiment, the MinHash for near-duplicates), two of them alone."""
    scorer = build_scorer(config.watch, config.models_dir)
    texts = [for_scoring(as_read(m.title, m.text)) for m in mentions]
    out = {}
    t0 = time.perf_counter()
    docs = [scorer.nlp.make_doc(t) for t in texts]
    out["tokenizer"] = time.perf_counter() - t0
    for name, component in scorer.nlp.pipeline:
        t0 = time.perf_counter()
        docs = [component(d) for d in docs]
        out[name.removeprefix("tidings_")] = time.perf_counter() - t0
    docs = [d for d in docs if d._.watch_terms]
    t0 = time.perf_counter()
    for d in docs:
        scorer._score("", d)
    out["per-mention readings"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in docs:
        language.detect(text_of(d))
    out["… of which language"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for d in docs:
        duplicates.signature(d)
    out["… of which MinHash"] = time.perf_counter() - t0
    return out


def throughput(items: int, feeds: int, on_topic: float, bare: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_feeds(folder, items, feeds, on_topic)
        out: dict = {
            "items": sum(p.read_bytes().count(b"<item>") for p in paths),
            "feed_mb": sum(p.stat().st_size for p in paths) / 2**20,
            "generated_mb": peak_mb(),
        }
        config = bench_config(folder, "streamed", feeds)
        with store.connect(config.db_path):
            pass  # migrations, outside the timing
        with WholePass() as whole:
            out |= streamed(config, paths)
        out |= {"peak_mb": peak_mb(), "worker_mb": offload.worker_peak_mb(), "sum_mb": whole.peak}
        offload.shutdown()
        if bare:
            started = time.perf_counter()
            for path in paths:
                feedparser.parse(path.read_bytes())
            out["bare_s"] = time.perf_counter() - started
            out |= stages(bench_config(folder, "stages", feeds), paths)
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
        f"{r['items']:,} items in {r['feed_mb']:.0f} MB of RSS files ({r['generated_mb']:.0f} MB "
        "RSS once generated)"
    )
    print(
        f"  streamed pass, parse→prefilter→score→store: {r['items'] / r['whole_s']:8,.0f} "
        f"items/s ({r['whole_s']:.1f} s, {r['batches']} batches, {r['stored']:,} stored; score "
        f"{r['stream_score_s']:.1f} s and store {r['stream_store_s']:.1f} s beside the parsing)"
    )
    print(
        f"  peak memory: this process {r['peak_mb']:.0f} MB (largest parse worker "
        f"{r['worker_mb']:.0f} MB); the whole pass, processes added up, {r['sum_mb']:.0f} MB"
    )
    if "bare_s" in r:
        print(
            f"  bare feedparser.parse, one core: {r['items'] / r['bare_s']:8,.0f} items/s "
            f"({r['bare_s']:.1f} s); one stage after another in one process: score "
            f"{r['score_s']:.1f} s ({r['scored']:,} of {r['candidates']:,} candidates, "
            f"{r['scored'] / r['score_s']:,.0f}/s), store {r['store_s']:.1f} s = "
            f"{(r['score_s'] + r['store_s']) / r['bare_s']:.0%} of bare parsing"
        )
        print("  scoring's steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["steps"].items()))


def report(sizes: list[dict], unchanged: dict | None, argv: str) -> str:
    lines = [
        "## Pipeline (`bench/pipeline.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}, with `bench/pipeline.py {argv}`"
        f" ({busy()}; the machine is shared with other work)."
        " Generated feeds (bench/feedgen.py) written to files, then read as a pass reads them"
        " (flows.pipeline.stream_pass: parsed in the worker processes, prefiltered, scored and"
        " stored in batches while the next feeds parse); each size in a process of its own,"
        " which holds no feed but those in flight. Peak memory: the pass's process, its most"
        " resident memory (ru_maxrss, the figure the goal was set against), and the whole pass:"
        " that process, its parse workers and their fork server added up (proportional set"
        " sizes, so that a page they share counts once; sampled every 0.1 s). Overhead and scoring"
        " rate: the same work one stage after another in one process, after the streamed pass.",
        "",
        "| what | figure | anchor, same run | goal |",
        "| --- | --- | --- | --- |",
    ]
    first = sizes[0]
    if "bare_s" in first:
        spent = first["score_s"] + first["store_s"]
        lines += [
            f"| scoring + storing {first['items']:,} items ({first['scored']:,} about watched "
            f"terms) | {first['score_s']:.1f} s + {first['store_s']:.1f} s = "
            f"{spent / first['bare_s']:.0%} of bare parsing | bare feedparser on one core: "
            f"{first['bare_s']:.1f} s | ≤ 25 % |",
            f"| scoring inside the pipeline | {first['scored'] / first['score_s']:,.0f} "
            "mentions/s (one process) | — | ≥ 2,000 per core |",
            "| where one post at a time would spend it (each step alone over the same "
            "candidates, as `tidings score` reads a text; a pass reads a batch as arrays) | "
            + ", ".join(f"{k} {v:.1f} s" for k, v in first["steps"].items())
            + " | — | — |",
        ]
    for r in sizes:
        goal = "< 500 MB at 50 k items" if r["items"] <= 60_000 else "flat beyond 50 k"
        anchor = (
            f"bare feedparser on one core: {first['items'] / first['bare_s']:,.0f} items/s"
            if "bare_s" in first
            else "—"
        )
        lines += [
            f"| streamed pass over {r['items']:,} items: parse → prefilter → score → store | "
            f"{r['items'] / r['whole_s']:,.0f} items/s ({r['whole_s']:.0f} s, {r['batches']} "
            f"batches, {r['stored']:,} stored) | {anchor} | — |",
            f"| peak memory, {r['items']:,} items | {r['peak_mb']:,.0f} MB the pass's process "
            f"(largest parse worker {r['worker_mb']:,.0f} MB); {r['sum_mb']:,.0f} MB the whole "
            "pass, its processes added up | the process once the feeds were generated (its "
            f"imports, Prefect, spaCy, DuckDB, pyarrow): "
            f"{r['generated_mb']:,.0f} MB (the feeds: {r['feed_mb']:,.0f} MB, in files) | {goal} |",
        ]
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
