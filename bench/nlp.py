"""NLP figures: sentiment against human ratings (Pearson r) beside VADER, and scoring
throughput on short social posts. Prints figures; asserts nothing.

    .venv/bin/python bench/nlp.py [--eval ../shared/eval/sentiment] [--posts 20000]

The rated corpora are Hutto & Gilbert's (product reviews, movie reviews, NYT editorials;
MIT licence), each sentence rated -4..4 by about 20 people.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.feedgen import NEGATIVE, NEUTRAL, OUTAGE, PERSON, POSITIVE, RIVAL_ONLY  # noqa: E402
from data.config import Watch  # noqa: E402
from data.records import Mention  # noqa: E402
from nlp import build_scorer  # noqa: E402

DEFAULT_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval" / "sentiment"
CORPORA = {
    "product reviews": "amazonReviewSnippets_GroundTruth.txt",
    "movie reviews": "movieReviewSnippets_GroundTruth.txt",
    "NYT editorials": "nytEditorialSnippets_GroundTruth.txt",
}
WATCH = [
    Watch(name="Nimbus Notes", terms=["Nimbus Notes", "NimbusNotes", "Nimbus Sync"]),
    Watch(name="Quillpad", kind="competitor", terms=["Quillpad"]),
    Watch(name="PaperTrail", kind="competitor", terms=["PaperTrail app"]),
    Watch(name="Dana Whitfield", kind="person", terms=["Dana Whitfield"]),
]


def rated(path: Path) -> tuple[list[str], np.ndarray]:
    texts, ratings = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            texts.append(parts[2])
            ratings.append(float(parts[1]))
    return texts, np.array(ratings)


def sentiment_eval(folder: Path) -> None:
    scorer = build_scorer([])
    vader = SentimentIntensityAnalyzer()
    print(
        f"{'corpus':<17}{'n':>7}{'VADER r':>10}{'Tidings r':>11}{'VADER 3-class':>15}{'Tidings 3-class':>17}"
    )
    for name, file in CORPORA.items():
        texts, human = rated(folder / file)
        ours = np.array([d._.sentiment for d in scorer.nlp.pipe(texts, batch_size=512)])
        theirs = np.array([vader.polarity_scores(t)["compound"] for t in texts])
        truth = np.sign(np.where(np.abs(human) < 0.5, 0, human))

        def three(x: np.ndarray) -> np.ndarray:
            return np.sign(np.where(np.abs(x) < 0.05, 0, x))

        print(
            f"{name:<17}{len(texts):>7}{np.corrcoef(human, theirs)[0, 1]:>10.3f}"
            f"{np.corrcoef(human, ours)[0, 1]:>11.3f}{macro_f1(truth, three(theirs)):>15.3f}"
            f"{macro_f1(truth, three(ours)):>17.3f}"
        )
    print("(3-class: macro-F1 of negative/neutral/positive; human mean within ±0.5 is neutral)")


def macro_f1(truth: np.ndarray, guess: np.ndarray) -> float:
    scores = []
    for c in (-1, 0, 1):
        tp = np.sum((guess == c) & (truth == c))
        precision = tp / max(1, np.sum(guess == c))
        recall = tp / max(1, np.sum(truth == c))
        scores.append(0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def throughput(n: int) -> None:
    rng = random.Random(7)
    pools = [POSITIVE, NEGATIVE, NEUTRAL, OUTAGE, RIVAL_ONLY, PERSON]
    tails = ["", " 😡", " 😍", " :(", " :)", " #fail", " lol", "!!!", " SO annoying", " tbh"]
    posts = []
    for i in range(n):
        text = rng.choice(rng.choice(pools)).format(b="Nimbus Notes", r="Quillpad")
        posts.append(Mention("bench", str(i), "", "", text + rng.choice(tails), None,
                             __import__("datetime").datetime(2026, 1, 1)))  # fmt: skip
    scorer = build_scorer(WATCH)
    scorer.score(posts[:500])  # warm the tokenizer's caches
    started = time.perf_counter()
    scored = scorer.score(posts)
    took = time.perf_counter() - started
    print(f"scoring {n:,} short posts: {n / took:,.0f} posts/s on one core "
          f"({len(scored):,} about a watched term; goal ≥ 2,000/s)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--eval", type=Path, default=DEFAULT_EVAL)
    ap.add_argument("--posts", type=int, default=20_000)
    args = ap.parse_args()
    if args.eval.exists():
        sentiment_eval(args.eval)
    else:
        print(f"{args.eval}: not found; skipping the sentiment evaluation")
    throughput(args.posts)


if __name__ == "__main__":
    main()
