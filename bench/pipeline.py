"""Pipeline throughput: feedparser's bare parse rate against the whole parse → score → store
path, on the same generated feeds, in one run. Prints figures; asserts nothing.

    .venv/bin/python bench/pipeline.py [--items 50000] [--feeds 50] [--on-topic 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feedgen import generate_items, render_rss  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument(
        "--on-topic", type=float, default=0.3, help="share of items about the watchlist"
    )
    args = ap.parse_args()

    per_feed = args.items // args.feeds
    bodies = [
        render_rss(
            generate_items(per_feed, seed, f"site{seed}.example", days=30, on_topic=args.on_topic),
            f"Site {seed}",
            f"site{seed}.example",
        )
        for seed in range(args.feeds)
    ]
    n_items = sum(b.count(b"<item>") for b in bodies)
    mb = sum(map(len, bodies)) / 1e6
    print(
        f"feeds: {args.feeds}, items: {n_items:,} ({mb:.1f} MB of RSS), "
        f"on-topic share {args.on_topic}"
    )
    print(f"peak RSS after generating: {peak_mb():.0f} MB")

    started = time.perf_counter()
    for body in bodies:
        feedparser.parse(body)
    bare = time.perf_counter() - started
    print(f"bare feedparser.parse:     {n_items / bare:8,.0f} items/s ({bare:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "database": {"path": str(Path(tmp) / "bench.duckdb")},
                "watch": WATCH,
                "sources": [
                    {"id": f"site{i}", "url": f"http://127.0.0.1/{i}.xml"}
                    for i in range(args.feeds)
                ],
            }
        )
        scorer = build_scorer(config.watch, config.models_dir)
        with store.connect(config.db_path):
            pass  # migrations, outside the timing
        t_parse = t_score = t_store = 0.0
        started = time.perf_counter()
        t0 = time.perf_counter()
        by_id = {s.id: s for s in config.sources}

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
        t_parse = time.perf_counter() - t0
        marks = {"parsed": peak_mb()}
        t0 = time.perf_counter()
        mentions = [m for f in fetched for m in f.mentions]
        scored = []
        size = config.pipeline.batch_size
        for i in range(0, len(mentions), size):
            scored += scorer.score(mentions[i : i + size])
        t_score = time.perf_counter() - t0
        marks["scored"] = peak_mb()
        t0 = time.perf_counter()
        report = store_pass(config, list(config.sources), fetched, scored, {}, store.utcnow())
        t_store = time.perf_counter() - t0
        marks["stored"] = peak_mb()
        whole = time.perf_counter() - started

    print(f"whole parse→score→store:   {n_items / whole:8,.0f} items/s ({whole:.1f} s)")
    print(
        f"  of which parse+clean+prefilter {t_parse:.1f} s ({len(mentions):,} candidates kept), "
        f"score {t_score:.1f} s ({len(scored):,} mentions, "
        f"{len(scored) / t_score if t_score else 0:,.0f}/s), store {t_store:.2f} s "
        f"({report.new_mentions:,} rows, {report.new_mentions / t_store:,.0f} rows/s)"
    )
    print(f"whole path / bare parse:   {bare / whole:8.0%}  (goal ≥ 70 %)")
    workers = offload.worker_peak_mb()
    offload.shutdown()
    print(f"peak memory (max RSS):     {peak_mb():8.0f} MB  (goal < 500 MB)")
    print("  peak so far when " + ", ".join(f"{k}: {v:.0f} MB" for k, v in marks.items()))
    print(f"  largest parse worker:    {workers:8.0f} MB  (one per core)")


if __name__ == "__main__":
    main()
