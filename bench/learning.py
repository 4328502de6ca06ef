"""Learning from corrections, measured: a learning curve through the real correction path,
written into bench/RESULTS.md (its own section, between the learning markers) and printed.

    .venv/bin/python bench/learning.py [--sizes 100,250,500,1000] [--no-write]

The team simulated here watches a bank whose customers write in a way the shipped data does
not cover: BANKING77's customer-service requests (CC BY 4.0, nlp/data/README.md) are left
out of the shipped data for this run, and play the team's own mentions. Its people correct
100, then 250, 500 and 1,000 of those mentions on the dashboard (`data.corrections.correct`,
into a real DuckDB store), marking the intents its labels give as present (a correction
lists the intents present, the rest absent, as the dashboard's does), each time followed by
`tidings train` (`flows.cli.main`: it masks watched names, reads each correction by a model
fitted without its fifth to pick thresholds, and writes the next model, fitted on all).
Complaint precision / recall / F1 are measured through the scoring pipeline
(`build_scorer(...).score_text`, the model's own threshold) on BANKING77's test part, requests
nobody corrected and no model trained on: before any correction, after each training, and,
for scale, with the shipped model, which learned from all 10,000 requests of the set's
training part.

`--domain held-out` plays the team's mentions with customer tweets to brands that the
shipped model never learned from (nlp/data/held_out_tweets.tsv, written by other writers than
its hand-written posts): the team corrects some of them and the rest are measured, beside the
shipped model. Its section of RESULTS.md is its own (learning-held-out-tweets).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import machine, write_section  # noqa: E402
from data import corrections, store  # noqa: E402
from data.config import load_config  # noqa: E402
from data.records import Mention  # noqa: E402
from flows.cli import main as tidings  # noqa: E402
from nlp import build_scorer, train  # noqa: E402
from nlp.intent import INTENTS  # noqa: E402

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NEW_DOMAIN = "BANKING77"
HELD_OUT = "held-out tweets"  # nlp/data/held_out_tweets.tsv: no shipped set
SEED = 11

_shipped_data, _base = train.shipped_data, train.BASE


def shipped_without_new_domain() -> train.Splits:
    """The shipped data less the set that plays the team's own mentions."""
    splits = _shipped_data()
    keep = [[e for e in part if e.source != NEW_DOMAIN] for part in (splits.train, splits.dev,
            splits.test)]  # fmt: skip
    sizes = {k: v for k, v in splits.sizes.items() if k != NEW_DOMAIN}
    return train.Splits(*keep, sizes)


def complaint_figures(
    config_models: Path | None, texts: list[str], truth: np.ndarray
) -> dict[str, float]:
    scorer = build_scorer([], config_models)
    confidence = np.array([scorer.score_text(t).intents["complaint"] for t in texts])
    return {
        **train.f1_at(confidence, truth, scorer.model.thresholds["complaint"]),
        "model": scorer.model.version,
    }


def held_out_complaint(printed: str) -> str:
    """`tidings train`'s own line for complaints on the corrections, each read by a model
    fitted without it."""
    return next((line.strip() for line in printed.splitlines() if "complaint:" in line), "—")


@dataclass(frozen=True, slots=True)
class Team:
    """The simulated team's mentions and how each figure names them."""

    pool: list[train.Example]  # the mentions it may correct, shuffled
    rest: list[train.Example]  # the ones it never touches, measured
    pool_part: str
    rest_part: str
    data: str  # what the model before any correction learned from
    scale: str  # the closing row: the shipped model, and what it learned of these mentions
    who: str  # the team's mentions, for RESULTS.md


def team_mentions() -> Team:
    """A shipped set's training part (corrected) and test part (measured), the set left out of
    the shipped data; or the held-out tweets (customer tweets to brands by writers the shipped
    model never learned from, never in the shipped data), split as the hand-written posts are
    (6 in 10 corrected)."""
    if NEW_DOMAIN == HELD_OUT:
        posts = [(part, copies[0]) for part, copies in train.held_out_tweets()]
        pool = [e for part, e in posts if part == 0]
        rest = [e for part, e in posts if part != 0]
        parts = ("the held-out tweets' 6 in 10 (by a hash of each post)", "the other 4 in 10")
        data, scale = "shipped data", "the shipped model, which learned none of them"
        who = ("customer tweets to brands by writers the shipped model never learned from, "
               "`nlp/data/held_out_tweets.tsv`")  # fmt: skip
    else:
        splits = _shipped_data()
        pool = [e for e in splits.train if e.source == NEW_DOMAIN and "complaint" in e.intents]
        rest = [e for e in splits.test if e.source == NEW_DOMAIN and "complaint" in e.intents]
        parts = (f"{NEW_DOMAIN}'s training part", "its test part")
        data = f"shipped data less {NEW_DOMAIN}"
        scale = f"all {len(pool):,}: its training part is in the shipped data"
        texts = "requests to a bank" if NEW_DOMAIN == "BANKING77" else "texts"
        who = f"{NEW_DOMAIN}'s {texts}, left out of the shipped data for this run"
    random.Random(SEED).shuffle(pool)
    return Team(pool, rest, *parts, data, scale, who)


def curve(team: Team, sizes: list[int], report) -> None:
    pool, rest = team.pool, team.rest
    texts = [e.text for e in rest]
    truth = np.array([e.intents["complaint"] for e in rest])
    report(
        f"\nCorrections from {len(pool):,} texts of {team.pool_part} (shuffled, seed "
        f"{SEED}), {np.mean([e.intents['complaint'] for e in pool]):.0%} complaints; measured on "
        f"{team.rest_part} (n={len(rest):,}, {int(truth.sum()):,} complaints).\n"
    )
    report("| corrections made | model | complaint P / R / F1 on the rest | "
           "`tidings train` on the corrections, cross-fitted (before → after) | training time |")  # fmt: skip
    report("| --- | --- | --- | --- | --- |")
    shipped = complaint_figures(None, texts, truth)
    train.shipped_data = shipped_without_new_domain
    try:
        with tempfile.TemporaryDirectory() as tmp:
            toml = Path(tmp) / "tidings.toml"
            toml.write_text(
                '[database]\npath = "tidings.duckdb"\n\n'
                '[[watch]]\nname = "Harbor Bank"\nterms = ["Harbor Bank"]\n',
                encoding="utf-8",
            )
            config = load_config(toml)
            mentions = [
                Mention("bank-inbox", str(i), f"https://bank.example/{i}", "", e.text, None, NOW)
                for i, e in enumerate(pool)
            ]
            with store.connect(config.db_path) as db:
                store.upsert_mentions(db, mentions, NOW)
            made = 0
            for n in [0, *sizes]:
                with store.connect(config.db_path) as db:
                    for m, e in zip(mentions[made:n], pool[made:n], strict=True):
                        present = [i for i in INTENTS if e.intents.get(i) == 1]
                        corrections.correct(db, m.id, "bench", NOW, intents=present,
                                            known_intents=INTENTS)  # fmt: skip
                made = max(made, n)
                printed = io.StringIO()
                started = time.perf_counter()
                if n == 0:  # `tidings train` declines without corrections: its training alone
                    first, _ = train.train(config.models_dir, log=lambda _: None)
                    # `tidings train` shows the corrections' figures beside the model trained
                    # on no correction; here that is this one, not the shipped model.
                    train.BASE = first.path
                else:
                    with contextlib.redirect_stdout(printed):
                        code = tidings(["--config", str(toml), "train"])
                    if code != 0:
                        raise SystemExit(f"tidings train failed:\n{printed.getvalue()}")
                took = time.perf_counter() - started
                got = complaint_figures(config.models_dir, texts, truth)
                held = held_out_complaint(printed.getvalue()) if n else "—"
                report(f"| {n:,} | {got['model']} ({team.data}"
                       f"{' + corrections' if n else ''}) | {got['precision']:.3f} / "
                       f"{got['recall']:.3f} / **{got['f1']:.3f}** | {held} | {took:.0f} s |")  # fmt: skip
    finally:
        train.shipped_data, train.BASE = _shipped_data, _base
    report(f"| {team.scale} | {shipped['model']} | {shipped['precision']:.3f} / "
           f"{shipped['recall']:.3f} / {shipped['f1']:.3f} | — | — |")  # fmt: skip


def main() -> None:
    global NEW_DOMAIN
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100,250,500,1000")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    ap.add_argument("--domain", default=NEW_DOMAIN, help="the shipped set playing the team's "
                    f"own mentions (BANKING77, 'brand posts', Bitext…), or held-out ('{HELD_OUT}')")  # fmt: skip
    args = ap.parse_args()
    NEW_DOMAIN = HELD_OUT if args.domain == "held-out" else args.domain  # a word, for make
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    started = time.perf_counter()
    team = team_mentions()
    curve(team, sorted(int(s) for s in args.sizes.split(",")), report)
    if not args.no_write:
        section = "learning" if NEW_DOMAIN == "BANKING77" else f"learning-{NEW_DOMAIN}"
        write_section(section.lower().replace(" ", "-"), [
            f"## Learning from corrections: {NEW_DOMAIN} (`bench/learning.py --domain "
            f"'{NEW_DOMAIN}'`)",
            "",
            f"Measured {datetime.now().date()} on {machine()} in "
            f"{time.perf_counter() - started:.0f} s. A team whose mentions the shipped data "
            f"does not cover ({team.who}) corrects the intents of its mentions through the "
            "dashboard's correction path (`data.corrections.correct`, a real DuckDB store), "
            "then runs `tidings train`; complaint F1 through the scoring pipeline on the "
            "mentions nobody corrected. Each correction counts as "
            f"{train.CORRECTION_REPEATS} examples of the shipped data (seen "
            f"{train.CORRECTION_REPEATS} times an epoch).",
            *lines,
        ])  # fmt: skip


if __name__ == "__main__":
    main()
