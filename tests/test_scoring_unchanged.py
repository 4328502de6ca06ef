"""Scoring reads every text exactly as the recorded readings say: a fixed corpus (hand-written
brand and relevance posts, generated feed items, the demo's recorded feeds, odd texts) scored
with a pinned model and with the shipped one, every reading compared with what the code made
of it when the fixture was recorded (tests/fixtures/scoring/readings.jsonl.gz). Speed work on
scoring must change no reading; a change meant to change readings re-records the fixture:

    .venv/bin/python -m tests.test_scoring_unchanged --record
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from data.config import Watch
from data.records import Mention, Score
from nlp import features, model, relevance, sentiment
from nlp.pipeline import Scorer, as_read

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "scoring" / "readings.jsonl.gz"
ROOT = Path(__file__).resolve().parent.parent

WATCH = [
    Watch(name="Nimbus Notes", terms=["Nimbus Notes", "NimbusNotes", "Nimbus Sync"]),
    Watch(name="Quillpad", kind="competitor", terms=["Quillpad"]),
    Watch(name="PaperTrail", kind="competitor", terms=["PaperTrail app"]),
    Watch(name="Dana Whitfield", kind="person", terms=["Dana Whitfield"]),
    Watch(
        name="Maple",
        terms=["maple"],
        context={
            "requires": ["phone", "signal", "network", "bill", "app", "support"],
            "window": 10,
        },
    ),
    Watch(
        name="Harbor",
        terms=["harbor"],
        context={"requires": ["bank", "account", "card", "loan"], "excludes": ["boat"]},
    ),
    Watch(name="Crane", terms=["crane"], context={"requires": ["parcel", "delivery", "courier"]}),
    Watch(name="Acme", query='"acme corp" OR (acme NEAR/5 refund*) OR acmesoft*', exclude=["pie"]),
]
PINNED_INTENTS = ("complaint", "question", "compliment")


def pinned_models(folder: Path) -> Path:
    """A models folder holding a model made from a fixed seed (every feature bucket weighted)
    and a learned relevance model: the readings depend on the scoring code alone, not on
    whichever model is shipped today."""
    linear = pinned_linear()
    path = folder / "linear-1"
    path.mkdir(parents=True)
    linear.save(path)
    (path / "meta.json").write_text(json.dumps({"version": "linear-1"}), encoding="utf-8")
    learned = relevance.WatchModel(
        relevance.PRIOR | {"w:coffee": -2.0, "w:syrup": -3.0, "w:network": 1.5, "cue:news": 2.0},
        -0.3,
        (0.9, 0.1),
        0.5,
        40,
    )
    relevance.save(relevance.Relevance({"Maple": learned}, "relevance-1"), folder)
    return folder


def pinned_linear() -> model.LinearModel:
    """The pinned model's weights as made (saving them rounds them to half precision)."""
    rng = np.random.default_rng(20261126)
    weights = (rng.standard_normal((features.BUCKETS, 3 + len(PINNED_INTENTS))) * 0.12).astype(
        np.float32
    )
    bias = np.array([0.1, 0.3, -0.2, -0.8, -0.5, -0.4], dtype=np.float32)
    return model.LinearModel(
        weights,
        bias,
        PINNED_INTENTS,
        {"complaint": (1.3, 0.2), "question": (0.9, -0.1), "compliment": (1.1, 0.05)},
        {"complaint": 0.3, "question": 0.475, "compliment": 0.375},
        sentiment.Decision((0.1, -0.2, 0.05), 0.4, 0.6),
        {"complaint": 0.5, "question": 0.25},  # read per sentence too
    )


def reading(s: Score | None) -> dict | None:
    if s is None:
        return None
    return {
        "version": s.model_version,
        "terms": list(s.terms),
        "sentiment": s.sentiment,
        "label": s.sentiment_label,
        "lang": s.lang,
        "intents": s.intents,
        "term_sentiments": list(s.term_sentiments),
        "fingerprint": s.fingerprint and hashlib.sha256(s.fingerprint).hexdigest()[:20],
        "present": None if s.present is None else list(s.present),
        "term_relevance": list(s.term_relevance),
        "set_aside": s.set_aside,
    }


def mentions(corpus: list[dict]) -> list[Mention]:
    return [
        Mention(
            "fixture", str(i), "", c["title"], c["text"], None, datetime(2026, 1, 1, tzinfo=UTC)
        )
        for i, c in enumerate(corpus)
    ]


def readings_of(scorer: Scorer, corpus: list[dict]) -> list[dict | None]:
    """Each text's reading as a pass makes it (in batches), None where nothing is watched."""
    items = mentions(corpus)
    by_id = {m.id: s for m, s in scorer.score(items, batch_size=64, failed=[])}
    return [reading(by_id.get(m.id)) for m in items]


def shipped_model_digest() -> str:
    weights = model.current(None).path / "weights.npz"
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:20]


def load_fixture() -> tuple[dict, list[dict]]:
    lines = gzip.decompress(FIXTURE.read_bytes()).decode("utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def assert_same(got: dict | None, want: dict | None, where: str) -> None:
    if want is None or got is None:
        assert got == want, where
        return
    assert got.keys() == want.keys(), where
    for key, value in want.items():
        assert _close(got[key], value), f"{where}: {key} is {got[key]!r}, recorded {value!r}"


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and math.isclose(a, b, rel_tol=0, abs_tol=1e-6)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture(scope="module")
def recorded() -> tuple[dict, list[dict]]:
    return load_fixture()


def test_corpus_is_large_and_varied(recorded):
    _, corpus = recorded
    kept = [c for c in corpus if c["pinned"] is not None]
    assert len(corpus) >= 800 and len(kept) >= 500
    assert {c["pinned"]["lang"] for c in kept} >= {"en", "und", "fr", "de"}
    assert sum(c["pinned"]["fingerprint"] is not None for c in kept) >= 100
    assert sum(bool(c["pinned"]["term_relevance"]) for c in kept) >= 50


def test_every_reading_with_the_pinned_model_is_as_recorded(recorded, tmp_path):
    _, corpus = recorded
    scorer = Scorer(WATCH, pinned_models(tmp_path / "models"))
    for i, (got, c) in enumerate(zip(readings_of(scorer, corpus), corpus, strict=True)):
        assert_same(got, c["pinned"], f"text {i} ({c['title'][:40]!r} {c['text'][:60]!r})")


def test_one_text_at_a_time_reads_as_a_batch_does(recorded, tmp_path):
    _, corpus = recorded
    scorer = Scorer(WATCH, pinned_models(tmp_path / "models"))
    for i, c in list(enumerate(corpus))[::7]:
        if c["pinned"] is None:
            continue
        got = reading(scorer.score_text(as_read(c["title"], c["text"])))
        assert_same(got, c["pinned"], f"text {i}")


def test_texts_read_a_batch_at_a_time_read_as_one_at_a_time_whatever_they_name(recorded, tmp_path):
    """`tidings score` reads its lines a batch at a time: every text, about a watched entity
    or not, set aside or not, English or not, reads exactly as score_text reads it."""
    _, corpus = recorded
    scorer = Scorer(WATCH, pinned_models(tmp_path / "models"))
    texts = [f"{c['title']}\n{c['text']}" for c in corpus][::2] + ["", " ", "?", "Quillpad"]
    batch = scorer.score_texts(texts, batch_size=64)
    assert sum(not s.terms for s in batch) >= 50 and sum(bool(s.terms) for s in batch) >= 300
    for text, got in zip(texts, batch, strict=True):
        assert got == scorer.score_text(text), text[:80]


def test_a_batch_reads_what_precedes_a_closing_praise_as_one_text_does(recorded, tmp_path):
    from nlp.pipeline import for_scoring

    _, corpus = recorded
    scorer = Scorer(WATCH, pinned_models(tmp_path / "models"))
    texts = [f"{c['title']}\n{c['text']}" for c in corpus] + [
        "My Nimbus Notes order never came and nobody answered. Awesome!",
        "Nimbus Notes lost my files again and support ignored me. Great job!",
        "Waited two weeks for Nimbus Notes to fix sync. Love it.",
    ]
    closing = []
    for text in texts:
        doc = scorer.nlp.make_doc(for_scoring(text))
        if scorer.readings._praise_closing(doc, sentiment.clauses(doc)) is not None:
            closing.append(text)
    items = mentions([{"title": "", "text": t} for t in closing])
    batch = {m.id: s for m, s in scorer.score(items, batch_size=64)}  # about a watched entity
    assert len(batch) >= 3, len(batch)
    for m in items:
        if m.id in batch:
            want = replace(scorer.score_text(as_read(m.title, m.text)), mention_id=m.id)
            assert batch[m.id] == want, m.text[:80]


def test_every_reading_with_the_shipped_model_is_as_recorded(recorded):
    header, corpus = recorded
    if shipped_model_digest() != header["shipped_weights"]:
        pytest.skip(
            "the shipped model changed since the fixture was recorded (the pinned model's "
            "test still holds the scoring code); re-record: python -m tests.test_scoring_unchanged "
            "--record"
        )
    scorer = Scorer(WATCH)
    for i, (got, c) in enumerate(zip(readings_of(scorer, corpus), corpus, strict=True)):
        assert_same(got, c["shipped"], f"text {i} ({c['title'][:40]!r} {c['text'][:60]!r})")


# --- recording the fixture -----------------------------------------------------------------


def _corpus() -> list[dict]:
    """The texts: every hand-written brand post, relevance posts, generated feed items, the
    demo's recorded feeds and odd texts (other languages, white space, emoji, very long)."""
    from bench import feedgen
    from collectors.rss import read

    out: list[dict] = []
    brands = ["Nimbus Notes", "@NimbusNotes", "#nimbusnotes", "Quillpad", "Maple", "NIMBUS SYNC"]
    lines = (ROOT / "nlp" / "data" / "brand_posts.tsv").read_text(encoding="utf-8").splitlines()
    posts = [line.split("\t") for line in lines if line and not line.startswith("#")]
    for k, parts in enumerate(p for p in posts if len(p) == 3):
        out.append({"title": "", "text": parts[2].replace("{b}", brands[k % len(brands)])})
    lines = (ROOT / "nlp" / "data" / "relevance_posts.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith(("#", "name\t"))]
    for k, parts in enumerate(p for p in rows if len(p) == 4):
        name = ("Maple", "Harbor", "Crane")[k % 3]
        out.append({"title": "", "text": parts[3].format(b=name, bl=name.lower())})
    voices = (feedgen.CUSTOMER, feedgen.NEWS, feedgen.BLOG, feedgen.COMPANY)
    for seed, voice in enumerate(voices):
        items = feedgen.generate_items(40, seed, f"site{seed}.example", on_topic=0.8, voice=voice)
        body = feedgen.render_rss(items, f"Site {seed}", f"site{seed}.example")
        out += [{"title": m.title, "text": m.text} for m in read(body, "gen").mentions]
    for path in sorted((ROOT / "data" / "demo" / "recorded").glob("*.xml")):
        found = read(path.read_bytes(), "demo").mentions
        out += [{"title": m.title, "text": m.text} for m in found[::3]]
    odd = [
        "Nimbus Notes est vraiment génial, je l'utilise tous les jours pour mes notes de cours.",
        "Nimbus Notes ist leider ständig abgestürzt, ich bin sehr enttäuscht von dem Support.",
        "Nimbus Notes es una aplicación excelente para organizar mis ideas y proyectos.",
        "Nimbus Notes 太好用了，我每天都用它来记笔记。",
        "Nimbus Notes очень удобное приложение, рекомендую всем своим друзьям и коллегам.",
        "Nimbus Notes 😍",
        "Nimbus  Notes\t\tis   down\n\n   again!!! 😡😡",
        "   Quillpad    vs   Nimbus Notes   ",
        "Oh great, Nimbus Notes lost all my notes again 🙄 thanks a lot, it crashed",
        "Nimbus Notes is a joke. Waste of money. Never fails to disappoint.",
        "Nimbus Notes works like a charm, a real game changer :) <3",
        "NIMBUS NOTES IS DOWN AGAIN AND NOBODY ANSWERS",
        "Nimbus Notes is NOT bad at all, but Quillpad is awful",
        "My Nimbus Notes order never came and nobody answered. Awesome!",
        "Nimbus Notes crashed twice and they fixed it quickly. Thank you!",
        "Does Nimbus Notes have a student discount? Looking for a tool for my thesis",
        "We're hiring! Nimbus Notes is looking for a full-time engineer, apply now",
        "Nimbus Notes promo code SAVE50 50% off limited time click here https://x.example #deal #notes #promo",
        "Switched to Quillpad from Nimbus Notes and it's been great, highly recommend",
        "Thinking of cancelling Nimbus Notes, moving to Quillpad. Any advice?",
        "acme corp announced layoffs; the Acme refunds are still pending",
        "acme pie recipe with acme corp flour",
        "I asked acme for a refund three weeks ago, acmesoftware support said nothing",
        "Nimbus Notes v4.2 isn't syncing; AT&T's rock'n'roll network don't help @dana_w",
        "Nimbus Notes\u0000 with a NUL and a lone surrogate \ud800 in it",
        "Dana Whitfield said Nimbus Sync will ship in May. https://nimbus.example/blog/sync?x=1.",
        "Nimbus Notes " + "lorem ipsum dolor sit amet, the sync failed again and again. " * 500,
        "maple syrup on pancakes, coffee with maple",
        "Maple's network is down, my phone has no signal and support won't answer",
        "harbor bank froze my card and the loan app is broken",
        "sailed the boat into the harbor, my bank card got wet",
        "Crane lost my parcel, the courier never showed up",
        "a crane lifted the container at the port",
        "",
        "Nimbus Notes",
        "Nimbus Notes is AWFUL today and the sync is TERRIBLE",
        "Quillpad is GREAT but Nimbus Notes is SLOW!!",
        "I LOVE Nimbus Notes, it is so good",
        "Nimbus Notes is hardly good and not very reliable at all",
        "Nimbus Notes is kinda bad but Quillpad is really great!!!",
        "Nimbus Notes never fails to disappoint, what a joke. But support was very helpful!",
    ]
    out += [{"title": "", "text": t} for t in odd]
    out += [{"title": "Nimbus Notes review", "text": t} for t in odd[:10]]
    return out


def record() -> None:
    import tempfile

    corpus = _corpus()
    with tempfile.TemporaryDirectory() as tmp:
        pinned = readings_of(Scorer(WATCH, pinned_models(Path(tmp) / "models")), corpus)
    shipped = readings_of(Scorer(WATCH), corpus)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: recording the same readings again writes the same bytes.
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as raw, io.TextIOWrapper(raw, "utf-8") as f:
        header = {"shipped_weights": shipped_model_digest(), "texts": len(corpus)}
        f.write(json.dumps(header) + "\n")
        for c, p, s in zip(corpus, pinned, shipped, strict=True):
            f.write(json.dumps({**c, "pinned": p, "shipped": s}, sort_keys=True) + "\n")
    kept = sum(p is not None for p in pinned)
    print(f"{FIXTURE}: {len(corpus)} texts, {kept} about a watched entity")


if __name__ == "__main__" and "--record" in sys.argv:
    record()


# --- the batch readings against the one-doc functions training uses ----------------------


@pytest.fixture(scope="module")
def corpus_docs(recorded):
    from nlp.pipeline import for_scoring

    _, corpus = recorded
    scorer = Scorer(WATCH)
    return scorer, [scorer.nlp.make_doc(for_scoring(f"{c['title']}\n{c['text']}")) for c in corpus]


def test_token_table_is_each_docs_own_arrays(corpus_docs):
    from nlp.tokenizer import ATTRS, tokens_of

    _, docs = corpus_docs
    tokens = tokens_of(docs)
    for d, doc in enumerate(docs):
        own = doc.to_array(list(ATTRS))
        assert np.array_equal(tokens.rows[tokens.starts[d] : tokens.starts[d + 1]], own), d
    picked = tokens.of([7, 0, 3])
    assert np.array_equal(
        picked.rows, np.concatenate([docs[i].to_array(list(ATTRS)) for i in (7, 0, 3)])
    )


def test_features_and_readings_of_many_docs_are_each_docs_own(corpus_docs):
    from spacy.attrs import IS_SPACE, IS_UPPER, LENGTH, LIKE_NUM, LIKE_URL, LOWER

    from nlp.tokenizer import ATTRS, tokens_of

    scorer, docs = corpus_docs
    tokens = tokens_of(docs)
    clauses = sentiment.clauses_of(docs, tokens)
    raws = [[r for *_, r in c] for c in clauses]
    lexical = [sentiment.normalize(sum(raw)) for raw in raws]
    columns = [ATTRS.index(a) for a in (LOWER, IS_SPACE, LIKE_URL, LIKE_NUM, IS_UPPER, LENGTH)]
    indices, offsets = features.of_docs(tokens.rows[:, columns], tokens.starts, lexical, raws)
    linear = scorer.readings.model
    many = linear.readings_of(indices, offsets)
    for d, doc in enumerate(docs):
        assert sentiment.clauses(doc) == clauses[d], d
        own = features.of_doc(doc, lexical[d], raws[d])
        assert np.array_equal(indices[offsets[d] : offsets[d + 1]], own), d
        assert np.array_equal(many[d], linear.readings(own)), d


def test_readings_of_many_docs_with_their_sentences_are_each_docs_own(recorded, tmp_path):
    from nlp.pipeline import for_scoring

    _, corpus = recorded
    scorer = Scorer(WATCH)
    # Full-precision weights read per sentence: sums in another order would differ in their
    # last bits (the saved model's half-precision weights often sum exactly in any order).
    linear = pinned_linear()
    docs = [scorer.nlp.make_doc(for_scoring(f"{c['title']}\n{c['text']}")) for c in corpus]
    xs, each = [], []
    for doc in docs:
        doc._.clauses = sentiment.clauses(doc)
        raw = [r for *_, r in doc._.clauses]
        xs.append(features.of_doc(doc, sentiment.normalize(sum(raw)), raw))
        each.append(model.sentence_features(doc))
    assert sum(len(e) > 1 for e in each) >= 100
    offsets = np.cumsum([0] + [len(x) for x in xs])
    parts = [s for e in each for s in e]
    owner = np.array([d for d, e in enumerate(each) for _ in e], dtype=np.int64)
    sentences = (np.concatenate(parts), np.cumsum([0] + [len(s) for s in parts]), owner)
    many = linear.readings_of(np.concatenate(xs), offsets, sentences)
    for d in range(len(docs)):
        assert np.array_equal(many[d], linear.readings(xs[d], each[d])), d


def _relevance_features_from_tokens(doc, spans, rule) -> list[str]:
    """nlp.relevance.features as first written, from spaCy's Token objects."""
    out = {"rule:none" if rule is None else "rule:met" if rule else "rule:failed"}
    named = {i for start, end in spans for i in range(start, end)}
    n = len(doc)
    for start, end in spans[: relevance.MAX_SPANS]:
        first = doc[start].text
        at_start = start == 0 or doc[start - 1].text in ".!?\n" or doc[start - 1].is_space
        if first.isupper() and len(first) > 1:
            out.add("case:upper")
        elif first[:1].isupper():
            out.add("case:start" if at_start else "case:title")
        elif first.islower():
            out.add("case:lower")
        if start > 0:
            out.add("before:" + doc[start - 1].lower_.strip())
        if end < n:
            out.add("after:" + doc[end].lower_.strip())
        for i in range(max(0, start - relevance.WINDOW), min(n, end + relevance.WINDOW)):
            token = doc[i]
            if i in named or token.is_space or token.is_punct:
                continue
            word = "<url>" if token.like_url else "<num>" if token.like_num else token.lower_
            out.add("w:" + word)
            for cue, words in (("sponsor", relevance.SPONSOR_CUES), ("news", relevance.NEWS_CUES),
                               ("use", relevance.USE_CUES)):  # fmt: skip
                if word in words:
                    out.add(f"cue:{cue}")
    return sorted(out)


def test_relevance_features_are_those_of_the_tokens(corpus_docs):
    scorer, docs = corpus_docs
    queries = scorer.watch.queries
    seen = 0
    for d, doc in enumerate(docs):
        for spans, rule in queries.candidates(doc).values():
            want = _relevance_features_from_tokens(doc, spans, rule)
            assert relevance.features(doc, spans, rule) == want, d
            seen += 1
    assert seen >= 500


def test_the_feeling_near_positions_sums_the_clauses_holding_them(corpus_docs):
    import random

    _, docs = corpus_docs
    rng = random.Random(5)
    for d, doc in enumerate(docs):
        clauses = sentiment.clauses(doc)
        for _ in range(3):
            positions = sorted(rng.sample(range(-1, len(doc) + 2), min(3, len(doc) + 3)))
            near = sum(r for a, b, r in clauses if any(a <= p < b for p in positions))
            want = sentiment.normalize(near) if near else 0.25
            assert sentiment.feeling_near(clauses, 0.25, positions) == want, d


def test_signatures_of_many_docs_are_each_docs_own(corpus_docs):
    from spacy.attrs import IS_ALPHA, IS_DIGIT, LOWER

    from nlp import duplicates

    _, docs = corpus_docs
    rows = [doc.to_array([LOWER, IS_ALPHA, IS_DIGIT]) for doc in docs]
    starts = np.cumsum([0] + [len(r) for r in rows])
    many = duplicates.signatures(np.concatenate(rows), starts)
    assert many == [duplicates.signature(doc) for doc in docs]
    assert sum(s is not None for s in many) > 100


def test_a_search_skipped_for_want_of_a_needed_string_would_have_found_nothing(recorded):
    _, corpus = recorded
    texts = [f"{c['title']}\n{c['text']}".lower() for c in corpus] + [
        "oh, great", "yeah right", "ok /s", "thanks a lot, it broke", "🙄", "what a joke",
        "it works like a charm", "game-changer", "ohh great", "right", "",
    ]  # fmt: skip
    for pattern, quick in ((sentiment._SARCASM, sentiment._sarcastic),
                           (sentiment._IDIOMS, sentiment._has_idiom)):  # fmt: skip
        found = [t for t in texts if pattern.search(t)]
        assert len(found) >= 5
        assert [t for t in texts if quick(t)] == found


def test_an_intent_cue_count_skipped_for_want_of_a_needed_string_would_have_counted_none(
    recorded,
):
    from nlp import intent
    from nlp.needed import needed_strings

    _, corpus = recorded
    texts = [f"{c['title']}\n{c['text']}".lower() for c in corpus] + [
        "we're looking for a senior engineer, full-time", "apply now", "part time remote role",
        "100% free, act now! earn $500", "congratulations, you won", "free gift", "% off",
        "switched to quillpad and loving it", "give it a try", "worth a try", "how much is it?",
        "thinking about buying", "cancelled", "cancelling", "not renewing", "unsubscribe",
        "migrating away", "alternatives to it", "", "apply", "full", "money",
    ]  # fmt: skip
    for name, pattern in intent._COMPILED.items():
        assert needed_strings(pattern), name  # each cue pattern is answered without a search
        counts = [len(pattern.findall(t)) for t in texts]
        assert [intent._COUNTS[name](t) for t in texts] == counts, name
        assert sum(c > 0 for c in counts) >= 3, name


def test_the_tokenizer_without_its_nt_alternatives_splits_texts_without_nt_alike(recorded):
    from nlp import tokenizer

    _, corpus = recorded
    texts = [f"{c['title']}\n{c['text']}" for c in corpus]
    kept = [t for t in texts if not any(nt in t for nt in tokenizer._NT)]
    assert len(kept) >= 500 and len(texts) - len(kept) >= 20
    for t in kept:
        assert tokenizer._TOKEN_WITHOUT_NT.findall(t) == tokenizer._TOKEN.findall(t), t[:80]


def test_scoring_leaves_the_cycle_collector_as_it_found_it(recorded):
    import gc

    _, corpus = recorded
    scorer = Scorer(WATCH)
    assert gc.isenabled()
    assert readings_of(scorer, corpus[:50])
    assert gc.isenabled()
    gc.disable()
    try:
        readings_of(scorer, corpus[:50])
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- texts read without a spaCy Doc (the batch path) against the Doc --------------------------

VARIED = [
    "",
    " ",
    "\n\n",
    "Nimbus Notes",
    "nimbus nimbus notes NIMBUS NOTES nimbus  notes #NimbusNotes @nimbusnotes",
    "Nimbus Notes 😍😍 🙄 ❤️ 👍🏽 — “quoted” ‘single’ naïve café Zürich 東京 Москва",
    "&amp; <b>Nimbus Notes</b> &lt;p&gt; <a href='https://x.example/a?b=1'>link</a> &nbsp;",
    "Nimbus  Notes\t\tis   down\n\n   again!!! 😡😡 don't won’t can't isn't",
    "   Quillpad    vs   Nimbus Notes   ",
    "acme corp; acmesoftware, ACMESOFT and acme refunds: acme refund* acme pie",
    "I asked acme for a refund three weeks ago, acmesoftware support said nothing",
    "Dana Whitfield said Nimbus Sync ships in May. https://nimbus.example/blog/sync?x=1.",
    "Maple's network is down, my phone has no signal and support won't answer",
    "harbor bank froze my card; sailed the boat into the harbor",
    "Nimbus Notes " + "lorem ipsum dolor sit amet, the sync failed again and again. " * 400,
    "Nimbus Notes v4.2 isn't syncing; AT&T's rock'n'roll network don't help @dana_w :) <3 :-(",
]


def _varied_texts(recorded) -> list[str]:
    from nlp.pipeline import for_scoring

    _, corpus = recorded
    return [for_scoring(t) for t in VARIED + [f"{c['title']}\n{c['text']}" for c in corpus]]


def test_texts_tokenized_without_a_doc_are_the_docs_tokens(recorded):
    from spacy.attrs import IDX, ORTH

    from nlp.tokenizer import ATTRS, char_starts, span_text, tokenize, tokens_of

    scorer = Scorer(WATCH)
    texts = _varied_texts(recorded)
    light = tokenize(texts, scorer.nlp.vocab)
    docs = [scorer.nlp.make_doc(t) for t in texts]
    for text, got, doc in zip(texts, light, docs, strict=True):
        # The tokens and their spaces are the text, character for character.
        assert "".join(w + s for w, s in zip(got.words, got.spaces, strict=True)) == text
        assert doc.text == text
        assert list(got.words) == [t.text for t in doc], text[:80]
        assert [bool(s) for s in got.spaces] == [bool(t.whitespace_) for t in doc], text[:80]
        assert np.array_equal(got.orths(), doc.to_array(ORTH)), text[:80]
        assert char_starts(got) == doc.to_array([IDX]).tolist(), text[:80]
        n = len(doc)
        assert len(got) == n
        for a, b in {(0, n), (0, 0), (0, 1), (n // 3, n // 2), (n // 2, n), (1, n - 1)}:
            if 0 <= a <= b <= n:
                assert span_text(got, a, b) == doc[a:b].text, (text[:80], a, b)
    tokens = tokens_of(light)
    assert np.array_equal(tokens.rows, tokens_of(docs).rows)
    assert np.array_equal(tokens.rows, np.concatenate([d.to_array(list(ATTRS)) for d in docs]))
    assert sentiment.clauses_of(light, tokens) == [sentiment.clauses(doc) for doc in docs]


def test_watched_terms_found_from_the_words_are_the_matchers(recorded):
    from nlp.query import QueryMatcher
    from nlp.tokenizer import tokenize

    scorer = Scorer(WATCH)
    texts = _varied_texts(recorded)
    docs = [scorer.nlp.make_doc(t) for t in texts]
    light = tokenize(texts, scorer.nlp.vocab)
    # Watches whose terms overlap, repeat words and end in prefixes, beside the fixture's.
    more = [
        *WATCH,
        Watch(name="Notes", terms=["notes", "nimbus nimbus", "nimbus notes nimbus"]),
        Watch(name="Acmes", query='acme* OR "acme corp*" OR (nimbus NEAR/3 sync*)'),
        Watch(name="Not pie", query="quillpad OR NOT pie"),  # holds where nothing is named
    ]
    named = 0
    for queries in (scorer.watch.queries, QueryMatcher(scorer.nlp, more)):
        for text, doc, got in zip(texts, docs, light, strict=True):
            want = queries.candidates(doc)
            assert want == _candidates_walking_every_tree(queries, doc), text[:80]
            lowers = [t.lower for t in doc]
            assert queries.candidates_in(lowers) == want, text[:80]
            firsts = [i for i, w in enumerate(lowers) if w in set(queries.first_words)]
            assert queries.candidates_in(lowers, firsts) == want, text[:80]
            named += bool(want)
            for spans, rule in want.values():
                assert relevance.features(got, spans, rule) == relevance.features(doc, spans, rule)
    assert named >= 1000


def test_needed_strings_searched_in_a_batch_at_once_answer_as_each_text_alone(recorded):
    from nlp import intent
    from nlp.needed import Joined, Needles, needed_strings

    texts = [t.lower() for t in _varied_texts(recorded)] + [
        "oh, great", "yeah right", "ok /s", "🙄", "what a joke", "a\0b oh great\0", "\0",
        "we're hiring, full-time", "100% free, act now! earn $500", "switched to quillpad and",
        "thinking about buying", "cancelled", "migrating away", "free", "", "free ",
    ]  # fmt: skip
    joined = Joined(texts)
    for strings in (["oh", "free "], ["\u00e9", "😍", "re looking"], ["zzz-never"], [""]):
        want = {t for t, text in enumerate(texts) if any(s in text for s in strings)}
        assert joined.holding(strings) == want, strings
    for pattern, alone in ((sentiment._SARCASM, sentiment._sarcastic),
                           (sentiment._IDIOMS, sentiment._has_idiom)):  # fmt: skip
        assert joined.search(pattern) == [alone(t) for t in texts]
        assert sum(joined.search(pattern)) >= 5
    learned = ("complaint", "question", "compliment")
    counts = intent.cue_counts(texts, learned)
    # The same by the texts' pieces (nlp.needed.Needles), twice: the second time, remembered.
    patterns = [sentiment._SARCASM, sentiment._IDIOMS, *intent._COMPILED.values()]
    needles = Needles(patterns)
    for _ in range(2):
        held = needles.held(texts)
        for pattern in patterns:
            want = needed_strings(pattern)
            want = set(range(len(texts))) if want is None else joined.holding(want)
            assert set(needles.holding(pattern, texts, held)) == want, pattern.pattern[:40]
        assert needles.search(sentiment._SARCASM, texts, held) == joined.search(sentiment._SARCASM)
        by_pieces = intent.cue_counts(
            texts, learned, texts, lambda p, held=held: needles.holding(p, texts, held)
        )
        assert by_pieces == counts
    for text, got in zip(texts, counts, strict=True):
        want = {i: c(text) for i, c in intent._COUNTS.items() if i not in learned}
        assert {i: got.get(i, 0) for i in want} == want, text[:80]
        assert intent.intents(text, 0.2, {}, intent.cue_counts([text])[0]) == intent.intents(
            text, 0.2
        )
    assert sum(bool(c) for c in counts) >= 20


def _candidates_walking_every_tree(queries, doc) -> dict:
    """QueryMatcher.candidates as first written: every entity's tree walked for every doc."""
    from nlp.query import _holds, _in_context

    found: dict = {}
    for match_id, start, end in queries.phrases(doc) + queries.matcher(doc):
        found.setdefault(queries.by_key[doc.vocab.strings[match_id]], []).append((start, end))
    return {
        name: (
            sorted(s for t in positive for s in found.get(t, [])),
            None if w.context is None else _in_context(w, positive, found),
        )
        for name, tree, positive, w in sorted(queries.entities, key=lambda e: e[0])
        if _holds(tree, found)
    }


def test_relevance_from_the_weighed_features_alone_is_that_of_every_feature(recorded, tmp_path):
    from spacy.attrs import LIKE_NUM, LIKE_URL, LOWER

    from nlp.tokenizer import tokenize

    scorer = Scorer(WATCH)
    texts = _varied_texts(recorded)
    learned = relevance.load(pinned_models(tmp_path / "models")).of("Maple")
    # Every other feature the texts have weighed, in full precision: a sum in another order,
    # or one missing a weight, would show.
    weighed = _all_features(scorer, texts)[::2]
    values = np.random.default_rng(3).standard_normal(len(weighed)).tolist()
    dense = relevance.WatchModel(dict(zip(weighed, values, strict=True)), -0.1234567, (1.1, -0.3))
    models = (relevance.PRIOR_MODEL, learned, dense)
    every = relevance.Relevance({"Maple": learned, "Dense": dense})
    seen = 0
    for text, got in zip(texts, tokenize(texts, scorer.nlp.vocab), strict=True):
        doc = scorer.nlp.make_doc(text)
        rows = doc.to_array([LOWER, LIKE_URL, LIKE_NUM])
        flagged = np.flatnonzero(every.may_weigh(rows[:, 0], rows[:, 1], rows[:, 2])).tolist()
        for spans, rule in scorer.watch.queries.candidates(doc).values():
            feats = relevance.features(doc, spans, rule)
            assert sorted(relevance.feature_set(got, spans, rule)) == feats
            for m in models:
                assert m.probability_of_set(set(feats)) == m.probability(feats), text[:80]
                weighed = relevance.weighed_features(got, spans, rule, m)
                assert weighed == set(feats) & m.weights.keys(), text[:80]
                weighed = relevance.weighed_features(got, spans, rule, m, flagged)
                assert weighed == set(feats) & m.weights.keys(), text[:80]
            seen += 1
    assert seen >= 1000


def _all_features(scorer: Scorer, texts: list[str]) -> list[str]:
    out: set[str] = set()
    for text in texts:
        doc = scorer.nlp.make_doc(text)
        for spans, rule in scorer.watch.queries.candidates(doc).values():
            out.update(relevance.features(doc, spans, rule))
    return sorted(out)


def test_words_first_met_by_several_threads_at_once_each_get_a_number_of_their_own():
    from concurrent.futures import ThreadPoolExecutor

    from nlp.tokenizer import blank, tokenize

    nlp = blank()
    texts = [" ".join(f"w{t}x{k}" for k in range(3000)) for t in range(8)]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        with ThreadPoolExecutor(8) as pool:
            tokenized = list(pool.map(lambda t: tokenize([t], nlp.vocab)[0], texts))
    finally:
        sys.setswitchinterval(switching)
    for text in tokenized:
        assert [nlp.vocab.strings[int(o)] for o in text.orths()] == list(text.words)


def test_clause_sums_of_a_batch_add_as_sum_does():
    """The batch's clause sums are sum()'s own, rounding included (large and small values
    that cancel show any other order or compensation)."""
    rng = np.random.default_rng(11)
    counts = rng.integers(0, 12, 500)
    counts[:20] = 0
    values = rng.choice([1e16, -1e16, 1.0, 0.1, -0.7, 2.5e-8, 3.3], int(counts.sum()))
    values *= rng.standard_normal(len(values))
    got = sentiment.sums(values, counts)
    at = np.concatenate(([0], np.cumsum(counts))).tolist()
    want = [sum(values[a:b].tolist()) for a, b in zip(at, at[1:], strict=False)]
    assert got.tolist() == want
    assert sentiment.normalized(got).tolist() == [sentiment.normalize(w) for w in want]


def test_valences_remembered_across_batches_are_the_lexicons():
    from spacy.strings import StringStore

    strings = StringStore()
    lex = sentiment._Hashed(strings)
    batches = [
        ["good", "bad", "table", "good", "crashes", "xyzzy"],
        ["bad", "awful", "table", "plinth", "good"],
        [],
        ["xyzzy", "love", "hate", "plinth"],
    ]
    for words in batches:
        hashes = np.array([strings.add(w) for w in words], dtype=np.uint64)
        got = lex.valences(hashes).tolist()
        want = [lex.valence.get(int(h), math.nan) for h in hashes.tolist()]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert (math.isnan(g) and math.isnan(w)) or g == w, words


def test_texts_tokenized_piece_by_piece_are_tokenized_as_a_whole():
    """tokenize() reads most texts as their pieces between spaces (each remembered): every
    text, whatever its white space, emoticons, links or "n't", has the whole text's tokens."""
    import random

    from nlp.tokenizer import blank, split, tokenize, words_of

    nlp = blank()
    parts = [
        " ", " ", " ", "  ", "\n", "\n ", "\t", "\u00a0", "\r\n", "a", "Nimbus", "n't", "don't",
        "won’t", ":)", ":-(", "<3", "8)", "8", ")", "http://x.example/a?b=1.", "https://y.io)",
        ".", ",", "’", "'", "-", "&", "😍", "👍🏽", "#", "@", "v4.2", "rock'n'roll", "AT&T", "é",
    ]  # fmt: skip
    rng = random.Random(7)
    texts = ["", " ", "a", " a", "a ", "a \nb", "a\n b", "a\n\nb", "a  b", "a\tb", "x :) y"]
    texts += ["".join(rng.choice(parts) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    for _ in range(2):  # the second time, the pieces are remembered
        tokenized = tokenize(texts, nlp.vocab)
        word_of = {n: w for w, n in words_of(nlp.vocab).numbers.items()}
        for text, got in zip(texts, tokenized, strict=True):
            assert [word_of[i] for i in got.ids.tolist()] == list(split(text)[0]), repr(text)


def test_sentences_of_a_batch_are_each_docs_own(corpus_docs):
    from spacy.attrs import IS_SPACE, LOWER

    from nlp.tokenizer import ATTRS, tokens_of

    _, docs = corpus_docs
    tokens = tokens_of(docs)
    clauses = sentiment.clauses_of(docs, tokens)
    rows = tokens.rows[:, [ATTRS.index(LOWER), ATTRS.index(IS_SPACE)]]
    ends = (rows[:, 1] == 1) | features._within(rows[:, 0], model._SENTENCE_END_HASHES)
    found = model.Sentences.of(model.Clauses.of(clauses), ends, tokens.starts)
    assert found.counts.sum() >= 500
    starts = tokens.starts.tolist()
    every = found.of_docs(range(len(docs)))
    for d, doc in enumerate(docs):
        want = model._sentences(clauses[d], len(doc), ends.tolist(), starts[d])
        assert every[d] == want, d
        assert found.of_docs([d]) == [want], d
        assert found.counts[d] == len(want)
        mine = found.doc == d
        lexical = [sentiment.normalize(sum(raw)) for *_, raw in want]
        assert found.lexical[mine].tolist() == lexical, d


def test_the_prefilter_keeps_what_its_search_alone_keeps(recorded):
    """Prefilter.might_mention skips its search for an ASCII text holding none of the words:
    it keeps exactly the texts the case-blind search finds, whatever their case or script."""
    import re

    from nlp.query import Prefilter

    more = [*WATCH, Watch(name="Straße", terms=["straße"]), Watch(name="Kiwi", terms=["kiwi*"])]
    texts = _varied_texts(recorded) + [
        "NIMBUS notes", "nimbusnotes!", "xnimbus notes", "QUILLPAD", "quillpads", "Kiwis here",
        "KIWI", "kıwı", "K\u212aiwi", "\u212aiwi", "DANA whitfield", "ſtraße", "STRASSE",
        "straße", "Straßenbahn", "acmesoftware", "ACMESOFT", "café quillpad", "",
    ]  # fmt: skip
    for watch in (WATCH, more):
        prefilter = Prefilter(watch)
        alone = prefilter._maybe
        assert isinstance(alone, re.Pattern)
        for text in texts:
            assert prefilter.might_mention(text) == (alone.search(text) is not None), text[:60]
    assert Prefilter(WATCH)._ascii_words is not None and Prefilter(more)._ascii_words is None


def test_a_text_that_opens_with_its_title_is_read_once(tmp_path):
    """A social post's title is its first line (a forum post's often its first sentence): read
    as title and text, that line counted double, and a post of praise followed by a calm
    detail read as a complaint. The text alone is read where it opens with the title, and the
    same text is what `tidings train` learns from."""
    from data import corrections, store
    from data.records import Mention
    from nlp import build_scorer
    from tests.conftest import make_config

    line = "I switched to Nimbus Sync last month and honestly it's been great"
    text = f"{line}. We have 17 seats on the business plan since 2019.\nThanks in advance."
    assert as_read(line, text) == text
    assert as_read(line[:40] + "…", text) == text  # a title cut short
    assert as_read("Release notes", "Version 5.2 is out") == "Release notes\nVersion 5.2 is out"
    assert as_read("", "just text") == "\njust text"
    config = make_config(tmp_path, [])
    scorer = build_scorer(config.watch, config.models_dir)
    now = store.utcnow()
    post = Mention("forum", "1", "https://f.example/1", line, text, "ana", now)
    [(_, score)] = scorer.score([post])
    assert score == replace(scorer.score_text(text), mention_id=post.id)
    with store.connect(config.db_path) as db:
        other = Mention("forum", "2", "https://f.example/2", "Release notes", "5.2 is out", "", now)
        store.upsert_mentions(db, [post, other], now)
        corrections.correct(db, post.id, "ana", now, sentiment="positive")
        corrections.correct(db, other.id, "ana", now, sentiment="neutral")
        sentiments, _, _ = corrections.training_data(db)
    assert sorted(t for t, _ in sentiments) == sorted([text, "Release notes\n5.2 is out"])
