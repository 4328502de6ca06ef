"""Each dashboard page as Streamlit runs it, on a store of 1 M mentions beside one of 1 k: the
demo's data spread over a year (bench/dashboard.py's stores: written through the store's write
path, beyond `--write-up-to` grown by copying in SQL), every page run by Streamlit's AppTest with
its caches cleared first, as on a person's first visit, timed from start to the page drawn.
Prints figures and writes its section of bench/RESULTS.md; asserts nothing.

    .venv/bin/python bench/pages.py [--mentions 1000000] [--runs 5] [--stores DIR]

`--stores DIR` keeps the two stores in DIR and uses them again on the next run (a store of 1 M
takes minutes to build).

Anchor (issue 13, before): 1 M against 1 k, overview ×2.0, inbox ×2.1, mentions ×1.9, curation
×3.0. Goal: ≤ ×1.5 for every page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dashboard import build, copy_of, demo_pass, grow, keep_config  # noqa: E402
from bench.results import RESULTS, busy, machine, write_section  # noqa: E402
from data import store  # noqa: E402

PAGES = ("overview", "inbox", "mentions", "curation", "sources", "alerts", "clients")
VIEWS = Path(__file__).resolve().parent.parent / "dashboard" / "views"


def page_seconds(name: str, configs: dict[int, Path], runs: int) -> dict[int, list[float]]:
    """Seconds of each of `runs` first visits to the page (caches cleared) on each store, after
    one unmeasured visit to each (imports). The stores take turns, visit by visit: a machine
    that grows busier or quieter meanwhile weighs on both alike."""
    import streamlit as st
    from streamlit.logger import set_log_level
    from streamlit.testing.v1 import AppTest

    set_log_level("error")  # clearing the caches outside a server says so, every time
    took: dict[int, list[float]] = {n: [] for n in configs}
    for i in range(runs + 1):
        for n, config in configs.items():
            os.environ["TIDINGS_CONFIG"] = str(config)
            st.cache_data.clear()
            st.cache_resource.clear()
            at = AppTest.from_file(str(VIEWS / f"{name}.py"), default_timeout=300)
            started = time.perf_counter()
            at.run()
            if at.exception:
                raise SystemExit(f"{name}: {at.exception[0].message}")
            if i:
                took[n].append(time.perf_counter() - started)
    return took


def store_of(where: Path, n: int, write_up_to: int, seed: tuple, recent: bool = False) -> Path:
    """A store of `n` mentions in `where` and a tidings.toml beside it (the one there, if a
    run before left one): the demo's data spread over a year, or, `recent`, going back from
    now at the demo's own density (recent_store)."""
    if (where / "tidings.toml").is_file():
        return where / "tidings.toml"
    config, mentions, scores, keys = seed
    shutil.rmtree(where, ignore_errors=True)  # a build cut short: again from the start
    where.mkdir(parents=True)
    path = where / "tidings.duckdb"
    if recent:
        recent_store(path, seed, n)
    else:
        build(path, config, mentions, scores, keys, min(n, write_up_to), 50_000, False)
        grow(path, n)
    keep_config(where, path)
    return where / "tidings.toml"


def recent_store(path: Path, seed: tuple, n: int) -> None:
    """n mentions: the demo's pass at its own dates (its last 30 days), then copies of it,
    each moved back by the time it spans, through the store's write path. Spread over a year,
    1 k mentions would leave the period the pages show (the last 30 days) empty: its pages
    would draw nothing where the big store's draw charts and lists, and the ratio would say
    what drawing costs, not what the store's size does."""
    config, mentions, scores, keys = seed
    kinds = {s.id: s.kind for s in config.sources}
    knowledge = frozenset(s.id for s in config.sources if s.knowledge)
    dates = [m.published for m in mentions]
    span = max(dates) - min(dates) + timedelta(days=1)
    left, k = n, 0
    with store.connect(path) as db:
        while left > 0:
            _, ms, ss, ks = copy_of(mentions[:left], scores, keys, f"r{k}", -k * span)
            collected = max(m.published for m in ms) + timedelta(minutes=5)
            db.begin()
            store.upsert_mentions(db, ms, collected, kinds, knowledge, None, ks)
            store.upsert_scores(db, ss, collected)
            db.commit()
            left, k = left - len(ms), k + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--write-up-to", type=int, default=250_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stores", type=Path, help="keep the stores here, and use them again")
    ap.add_argument("--results", default=str(RESULTS), help="'' to write none")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tidings-bench-pages-"))
    try:
        seed = demo_pass(tmp / "demo")
        configs = {
            n: store_of((args.stores or tmp) / f"store-{n}", n, args.write_up_to, seed,
                        recent=n == args.small)
            for n in (args.small, args.mentions)
        }  # fmt: skip
        figures: dict[str, dict[int, float]] = {}
        for page in PAGES:
            took = page_seconds(page, configs, args.runs)
            figures[page] = {n: statistics.median(t) for n, t in took.items()}
            print(
                f"  {page}: "
                + ", ".join(f"{n:,} mentions {t * 1000:,.0f} ms" for n, t in figures[page].items()),
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for page, by_size in figures.items():
        small, big = by_size[args.small], by_size[args.mentions]
        ratio = big / small
        rows.append(
            f"| {page} | {small * 1000:,.0f} ms | {big * 1000:,.0f} ms | ×{ratio:.2f} "
            f"{'✓' if ratio <= 1.5 else '✗'} |"
        )
        print(f"{page}: ×{ratio:.2f}")
    if not args.results:
        return
    write_section("pages", [
        "## Each page as Streamlit runs it (`bench/pages.py`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} ({busy()}): each page of the "
        "dashboard run by Streamlit's AppTest, its caches cleared first (a person's first "
        f"visit), median of {args.runs} after one unmeasured run, the two stores taking turns "
        "visit by visit, on a store of "
        f"{args.mentions:,} mentions (the demo's data spread over a year; up to "
        f"{args.write_up_to:,} written through the store's write path, then grown by copying "
        f"in SQL, as `bench/dashboard.py` does) and on one of {args.small:,} (the demo's data "
        "going back from now at its own density, written through the write path: spread over "
        "a year, 1 k mentions leave the last 30 days empty, and its pages would draw nothing "
        "where the big store's draw charts and lists). Anchor (issue 13, before): overview "
        "×2.0, inbox ×2.1, mentions ×1.9, curation ×3.0. Goal: ≤ ×1.5.",
        "",
        f"| page | {args.small:,} mentions | {args.mentions:,} mentions | ratio (goal ≤ ×1.5) |",
        "| --- | --- | --- | --- |",
        *rows,
    ], Path(args.results))  # fmt: skip


if __name__ == "__main__":
    main()
