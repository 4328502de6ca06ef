"""Is a mention about the watched entity? A learned, calibrated probability per watch.

A name like "Maple", "Harbor" or "Crane" is also a tree, a port or a bird. A watch's context
rule (words that must stand near the name) tells them apart well, but drops what is plainly
about the business without those words: a sponsorship ("proudly sponsored by Maple"), a news
item ("Maple shares fell 6 %"). So the rule is one feature among others here:

- the rule's verdict (met, failed, or the watch has none);
- the words around each place the name stands (within WINDOW tokens), the word just before and
  just after it ("@", "#", "the", "'s", "ceo"…), and how the name is written (Maple, maple);
- cues that a business is meant: sponsorship words, news about a company.

With no correction, PRIOR gives the weights: a mention meeting the rule, or a sponsorship or
company-news mention, is about the entity; one failing the rule is not. Corrections made on the
dashboard ("not about us", "about us"), imported labelled texts and mentions people handled in
the inbox train one logistic regression per watch whose weights are pulled towards PRIOR (an
L2 penalty on the distance to it, not to zero), so a few corrections move it a little and many
move it far. Out-of-fold predictions calibrate it (Platt scaling) and give the held-out
figures `tidings train` prints. A model is a JSON file beside the other models
(`models/relevance.json`); scoring never downloads anything.

Scoring a candidate costs a few dictionary look-ups per word of its window: tens of
microseconds, so the whole scoring keeps its speed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import numpy as np
from spacy.attrs import ORTH
from spacy.strings import get_string_id
from spacy.tokens import Doc

from data.config import Watch
from nlp.tokenizer import Text, Words

log = logging.getLogger(__name__)

FILE = "relevance.json"
FORMAT = 1
WINDOW = 12  # tokens either side of the name
MAX_SPANS = 3  # the first places the name stands are enough
THRESHOLD = 0.5  # at or above: about the entity
L2 = 1.0  # pull towards PRIOR (per unit of weight, in log-loss units)
# The bias is pulled harder: labelled mentions are mostly the wrong ones (see UNMARKED_WEIGHT),
# and a bias that followed them would set aside every mention alike.
L2_BIAS = 5.0
MIN_TO_TRAIN = 5  # labelled mentions of a watch; with its unmarked ones, both kinds present
# People mark what is wrong far more often than what is right, so corrections over-represent
# "not about us". Mentions that count and that nobody marked stand for the rest, as weak
# "about us" labels: each weighs this much (five of them as much as one correction).
UNMARKED_WEIGHT = 0.2
FOLDS = 5
CALIBRATE_FROM = 10  # labelled mentions of each kind

SPONSOR_CUES = frozenset(
    "sponsor sponsors sponsored sponsoring sponsorship sponsorships partner partners "
    "partnered partnering partnership presented ambassador ambassadors official ad promo "
    "collab giveaway supported backing backed".split()
)
NEWS_CUES = frozenset(
    "announced announces announce launches launched launch ceo cfo founder founders shares "
    "stock stocks investors ipo acquires acquired acquisition merger revenue earnings profit "
    "profits quarter quarterly layoffs lawsuit sued recall spokesperson spokeswoman spokesman "
    "headquarters hq inc ltd plc llc corp company company's firm startup brand subsidiary "
    "customers users subscribers valuation funding raised regulator fined outage "
    "press release".split()
)
USE_CUES = frozenset(
    "app account login support subscription order delivery refund customer service "
    "website download update version premium plan checkout".split()
)

# The weights with no correction at all, set by hand: a met rule says "about us" more surely
# than a failed one says the opposite (people leave words out of their rules); a sponsorship or
# company-news cue, an @handle or the name capitalised mid-sentence say a business is meant, the
# name in lower case says it less. The weights of a failed rule and of the name's case were
# chosen on Maple's posts of bench/relevance.py; Harbor's and Crane's check them.
PRIOR: dict[str, float] = {
    "rule:met": 2.5,
    "rule:failed": -1.0,
    "rule:none": 3.0,
    "cue:sponsor": 3.5,
    "cue:news": 3.0,
    "cue:use": 1.0,
    "before:@": 3.0,
    "before:#": 1.0,
    "case:title": 1.0,
    "case:lower": -1.0,
}


def features(doc: Doc | Text, spans: Sequence[tuple[int, int]], rule: bool | None) -> list[str]:
    """What the model sees of one entity in a doc: `spans` are the token ranges where its name
    stands, `rule` its context rule's verdict (None: it has none). Each feature once."""
    return sorted(feature_set(doc, spans, rule))


def feature_set(doc: Doc | Text, spans: Sequence[tuple[int, int]], rule: bool | None) -> set[str]:
    """features(), unsorted."""
    out = {"rule:none" if rule is None else "rule:met" if rule else "rule:failed"}
    if not spans:
        return out
    n = len(doc)
    around: set[int] = set()  # the windows' tokens, the name's own left out
    for start, end in spans[:MAX_SPANS]:
        around.update(range(max(0, start - WINDOW), min(n, end + WINDOW)))
    for start, end in spans:
        around.difference_update(range(start, end))
    # Those words and the name's neighbours, from the words' own properties (a Token object
    # and its properties for each would cost several times more).
    word = _words_in(doc)
    for start, end in spans[:MAX_SPANS]:
        before = word[start - 1] if start > 0 else None
        _name_features(out, word[start].text, before, word[end] if end < n else None)
    out.update(*[word[i].features for i in around])
    return out


def _name_features(out: set[str], first: str, before: _Word | None, after: _Word | None) -> None:
    """Add the case of a name's first word and its neighbours, as features, to `out`."""
    at_start = before is None or before.text in ".!?\n" or before.is_space
    if first.isupper() and len(first) > 1:
        out.add("case:upper")
    elif first[:1].isupper():
        out.add("case:start" if at_start else "case:title")
    elif first.islower():
        out.add("case:lower")
    if before is not None:
        out.add("before:" + before.lower.strip())
    if after is not None:
        out.add("after:" + after.lower.strip())


def weighed_features(
    doc: Doc | Text,
    spans: Sequence[tuple[int, int]],
    rule: bool | None,
    model: WatchModel,
    flagged: Sequence[int] | None = None,
) -> set[str]:
    """feature_set(doc, spans, rule) & the features `model` weighs, which give the same
    probability (the others add 0.0). For a text (nlp.tokenizer.Text), only the words read are
    looked at: the name's neighbours and, of the windows' words, those `flagged` (the positions
    of the words that may add a feature the model weighs: Relevance.may_weigh), or every one
    when not given, each word's weighed features remembered."""
    weights = model.weights
    if not isinstance(doc, Text) or not spans:
        return feature_set(doc, spans, rule) & weights.keys()
    verdict = "rule:none" if rule is None else "rule:met" if rule else "rule:failed"
    out = {verdict} if verdict in weights else set()
    n = len(doc)
    firsts = spans[:MAX_SPANS]
    # The tokens read: the windows, which hold each name's neighbours too (WINDOW >= 1).
    low = max(0, min(map(_start, firsts)) - WINDOW)
    numbers = doc.ids[low : min(n, max(map(_end, firsts)) + WINDOW)].tolist()
    words = _words_of_table(doc.table)
    for start, end in firsts:
        before = words[numbers[start - 1 - low]] if start > 0 else None
        after = words[numbers[end - low]] if end < n else None
        _name_features(out, words[numbers[start - low]].text, before, after)
    out &= weights.keys()
    if flagged is None:
        around: set[int] = set()
        for start, end in firsts:
            around.update(range(max(0, start - WINDOW), min(n, end + WINDOW)))
    else:
        around = set()
        for start, end in firsts:  # (flagged is in order)
            around.update(
                flagged[bisect_left(flagged, start - WINDOW) : bisect_left(flagged, end + WINDOW)]
            )
        if not around:
            return out
    for start, end in spans:  # the name's own words are not its context
        around.difference_update(range(start, end))
    weighed = _weighed_of(words, weights)
    for number in {numbers[i - low] for i in around}:
        found = weighed.get(number)
        if found is None:
            found = weighed[number] = tuple(f for f in words[number].features if f in weights)
        if found:
            out.update(found)
    return out


_start, _end = itemgetter(0), itemgetter(1)

# Per Words table and weights: each word number's features that the weights weigh.
_WEIGHED: dict[tuple[int, int], tuple[object, dict, dict[int, tuple[str, ...]]]] = {}


def _weighed_of(words: _TableWords, weights: dict[str, float]) -> dict[int, tuple[str, ...]]:
    key = (id(words), id(weights))
    held = _WEIGHED.get(key)
    if held is None or held[0] is not words or held[1] is not weights:
        if len(_WEIGHED) > 64:  # tables and models replaced: forget the old ones
            _WEIGHED.clear()
        held = _WEIGHED[key] = (words, weights, {})
    return held[2]


def _words_in(doc: Doc | Text) -> list[_Word]:
    """The _Word of each of the doc's tokens."""
    if isinstance(doc, Text):
        return list(map(_words_of_table(doc.table).__getitem__, doc.ids.tolist()))
    return _words(doc, doc.to_array(ORTH).tolist())


@dataclass(frozen=True, slots=True)
class _Word:
    """A word's own properties, never those of its place in a text."""

    text: str
    lower: str
    is_space: bool
    features: tuple[str, ...]  # what it adds standing near a name: "w:…", "cue:…"


def _word_features(lower: str, space: bool, punct: bool, url: bool, num: bool) -> tuple[str, ...]:
    if space or punct:
        return ()
    word = "<url>" if url else "<num>" if num else lower
    cues = (("cue:sponsor", SPONSOR_CUES), ("cue:news", NEWS_CUES), ("cue:use", USE_CUES))
    return ("w:" + word, *(cue for cue, words in cues if word in words))


# Per vocabulary, each word's _Word.
_WORDS: dict[int, dict[int, _Word]] = {}
_WORDS_LIMIT = 100_000  # distinct words remembered per vocabulary, then forgotten


def _words(doc: Doc | Text | Words, orths: list[int]) -> list[_Word]:
    vocab = doc.vocab
    known = _WORDS.get(id(vocab))
    if known is None or len(known) > _WORDS_LIMIT:
        known = _WORDS[id(vocab)] = {}
    out = []
    for orth in orths:
        word = known.get(orth)
        if word is None:
            x = vocab[orth]
            word = known[orth] = _Word(
                x.orth_,
                x.lower_,
                x.is_space,
                _word_features(x.lower_, x.is_space, x.is_punct, x.like_url, x.like_num),
            )
        out.append(word)
    return out


class _TableWords(dict):
    """A Words table's word number → its _Word, made when first asked for."""

    def __init__(self, table: Words) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, number: int) -> _Word:
        word = self[number] = _words(self.table, [int(self.table.orths[number])])[0]
        return word


_BY_TABLE: dict[int, _TableWords] = {}


def _words_of_table(table: Words) -> _TableWords:
    words = _BY_TABLE.get(id(table))
    if words is None or words.table is not table:
        _BY_TABLE.clear()  # a vocabulary's table is replaced only when it grew too large
        words = _BY_TABLE[id(table)] = _TableWords(table)
    return words


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class WatchModel:
    """One watch's weights: PRIOR moved by its corrections, and the calibration on top."""

    weights: dict[str, float] = field(default_factory=lambda: dict(PRIOR))
    bias: float = 0.0
    calibration: tuple[float, float] = (1.0, 0.0)  # p = sigmoid(a · logit + c)
    threshold: float = THRESHOLD
    labelled: int = 0  # how many labelled mentions it learned from (0: PRIOR alone)

    def logit(self, feats: Iterable[str]) -> float:
        w = self.weights
        return self.bias + sum(w.get(f, 0.0) for f in feats)

    def probability(self, feats: Iterable[str]) -> float:
        a, c = self.calibration
        return _sigmoid(a * self.logit(feats) + c)

    def probability_of_set(self, feats: AbstractSet[str]) -> float:
        """probability(sorted(feats)), summing only the features it weighs (the others add
        0.0, which changes no sum), in the same order."""
        w = self.weights
        a, c = self.calibration
        return _sigmoid(a * (self.bias + sum(w[f] for f in sorted(w.keys() & feats))) + c)


PRIOR_MODEL = WatchModel()


@dataclass(frozen=True)
class Relevance:
    """The per-watch models of one store (PRIOR for a watch that has none)."""

    watches: dict[str, WatchModel] = field(default_factory=dict)
    version: str = ""  # "relevance-3": the third training; "" before any

    def of(self, name: str) -> WatchModel:
        return self.watches.get(name, PRIOR_MODEL)

    def decide(
        self,
        doc: Doc | Text,
        candidates: dict[str, tuple[list[tuple[int, int]], bool | None]],
        flagged: Sequence[int] | None = None,
    ) -> tuple[dict[str, list[int]], dict[str, float]]:
        """The entities the doc is about (with where each is named) and the probability of
        every candidate's being about it. `flagged`, when known, are the positions of the
        doc's words that may add a word's feature some model weighs (may_weigh)."""
        about: dict[str, list[int]] = {}
        chances: dict[str, float] = {}
        for name, (spans, rule) in candidates.items():
            model = self.of(name)
            p = model.probability_of_set(weighed_features(doc, spans, rule, model, flagged))
            chances[name] = p
            if p >= model.threshold:
                about[name] = [start for start, _ in spans]
        return about, chances

    def may_weigh(self, lowers: np.ndarray, urls: np.ndarray, nums: np.ndarray) -> np.ndarray:
        """Which of these tokens (their LOWER, LIKE_URL and LIKE_NUM) may add a word's feature
        ("w:…", "cue:…") that some model of this relevance weighs: all that do, and a few that
        do not (weighed_features reads each)."""
        hashes, url, num = _word_keys(self)
        at = np.minimum(np.searchsorted(hashes, lowers), max(0, len(hashes) - 1))
        out = hashes[at] == lowers if len(hashes) else np.zeros(len(lowers), dtype=bool)
        if url:
            out |= urls == 1
        if num:
            out |= nums == 1
        return out

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": self.version,
            "watches": {
                name: {
                    "bias": m.bias,
                    "calibration": list(m.calibration),
                    "threshold": m.threshold,
                    "labelled": m.labelled,
                    # Only what differs from PRIOR: a watch's file stays small.
                    "weights": {
                        f: round(v, 4)
                        for f, v in sorted(m.weights.items())
                        if abs(v - PRIOR.get(f, 0.0)) > 1e-4
                    },
                }
                for name, m in sorted(self.watches.items())
            },
        }

    @classmethod
    def from_json(cls, data: object) -> Relevance:
        """Raises ValueError (with what is wrong) for anything but a model this code wrote."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a relevance model of format {FORMAT}")
        watches = {}
        for name, m in (data.get("watches") or {}).items():
            try:
                weights = dict(PRIOR)
                weights.update({str(f): float(v) for f, v in m["weights"].items()})
                a, c = (float(x) for x in m["calibration"])
                watches[str(name)] = WatchModel(
                    weights, float(m["bias"]), (a, c), float(m["threshold"]), int(m["labelled"])
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ValueError(f"watch {name!r}: missing or malformed weights") from None
        return cls(watches, str(data.get("version") or ""))


_CUES = {"cue:sponsor": SPONSOR_CUES, "cue:news": NEWS_CUES, "cue:use": USE_CUES}
_KEYS: dict[int, tuple[Relevance, tuple[np.ndarray, bool, bool]]] = {}


def _word_keys(relevance: Relevance) -> tuple[np.ndarray, bool, bool]:
    """The LOWER of every word whose own features (_word_features) some model weighs (sorted;
    a word spaCy holds as a symbol, "agent", has the symbol's number), and whether links' and
    numbers' are ("w:<url>", "w:<num>")."""
    held = _KEYS.get(id(relevance))
    if held is not None and held[0] is relevance:
        return held[1]
    words: set[str] = set()
    for model in (PRIOR_MODEL, *relevance.watches.values()):
        for feature in model.weights:
            if feature.startswith("w:"):
                words.add(feature[2:])
            words.update(_CUES.get(feature, ()))
    keys = (
        np.array(sorted({get_string_id(w) for w in words}), dtype=np.uint64),
        "<url>" in words,
        "<num>" in words,
    )
    if len(_KEYS) > 16:
        _KEYS.clear()
    _KEYS[id(relevance)] = (relevance, keys)
    return keys


def path_in(models_dir: Path | None) -> Path | None:
    return None if models_dir is None else models_dir / FILE


def stamp(models_dir: Path | None) -> tuple[int, int] | None:
    """Changes whenever the model file does: a scorer built before is stale then."""
    path = path_in(models_dir)
    try:
        st = path.stat() if path else None
    except OSError:
        return None
    return None if st is None else (st.st_mtime_ns, st.st_size)


def load(models_dir: Path | None) -> Relevance | None:
    """The store's relevance model; PRIOR alone when none was trained yet. None, with one line
    in the log, when the file cannot be read: relevance is then decided by the context rules."""
    path = path_in(models_dir)
    if path is None or not path.exists():
        return Relevance()
    try:
        return Relevance.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0][:200]
        log.warning(
            "%s: cannot read the relevance model (%s); the context rules decide what is about "
            "each watch until `tidings train` writes it again",
            path,
            reason,
        )
        return None


def save(model: Relevance, models_dir: Path) -> Path:
    """Write the model beside the others, whole or not at all (a temporary file renamed)."""
    path = models_dir / FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(model.to_json(), indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One labelled mention of one watch, as the model sees it."""

    features: tuple[str, ...]
    relevant: bool
    rule: bool | None  # the context rule's verdict, for the "before" figure
    weight: float = 1.0


def _fit(
    examples: Sequence[Example], prior: WatchModel, l2: float = L2, steps: int = 300
) -> tuple[dict[str, float], float]:
    """Logistic regression whose weights are pulled towards the prior's, by gradient descent
    (Adam) on the mean log-loss plus l2/(2n)·‖w − prior‖²: numpy only, a second at most."""
    vocab = sorted({f for e in examples for f in e.features} | set(prior.weights))
    index = {f: i for i, f in enumerate(vocab)}
    w0 = np.array([prior.weights.get(f, 0.0) for f in vocab])
    rows = np.repeat(np.arange(len(examples)), [len(e.features) for e in examples])
    cols = np.array([index[f] for e in examples for f in e.features], dtype=np.int64)
    y = np.array([e.relevant for e in examples], dtype=float)
    weight = np.array([e.weight for e in examples], dtype=float)
    n = weight.sum()
    w, b = w0.copy(), prior.bias
    m, v = np.zeros(len(vocab) + 1), np.zeros(len(vocab) + 1)
    lr, beta1, beta2 = 0.1, 0.9, 0.999
    for t in range(1, steps + 1):
        z = np.bincount(rows, weights=w[cols], minlength=len(examples)) + b
        p = 1 / (1 + np.exp(-np.clip(z, -50, 50)))
        r = weight * (p - y) / n
        g = np.empty(len(vocab) + 1)
        g[:-1] = np.bincount(cols, weights=r[rows], minlength=len(vocab)) + l2 / n * (w - w0)
        g[-1] = r.sum() + L2_BIAS * l2 / n * (b - prior.bias)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + 1e-8)
        w -= step[:-1]
        b -= step[-1]
    return dict(zip(vocab, w.tolist(), strict=True)), float(b)


def _platt(logits: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """sigmoid(a·logit + c) fitted to held-out logits (Newton's method on two numbers)."""
    z = np.array(logits, dtype=float)
    y = np.array(labels, dtype=float)
    a, c = 1.0, 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(a * z + c, -50, 50)))
        d = p * (1 - p) + 1e-9
        g = np.array([((p - y) * z).sum() + 1e-3 * (a - 1), (p - y).sum()])
        h = np.array([[(d * z * z).sum() + 1e-3, (d * z).sum()], [(d * z).sum(), d.sum() + 1e-6]])
        step = np.linalg.solve(h, g)
        a, c = a - step[0], c - step[1]
        if abs(step).max() < 1e-6:
            break
    return (float(a), float(c)) if a > 0 else (1.0, 0.0)


@dataclass(frozen=True)
class Trained:
    model: WatchModel
    # Held out (out-of-fold): accuracy of the rules, of PRIOR and of the learned model.
    held_out: dict[str, float] = field(default_factory=dict)


def train_watch(
    examples: Sequence[Example],
    unmarked: Sequence[Example] = (),
    seed: int = 7,
    l2: float = L2,
) -> Trained:
    """One watch's model from its labelled mentions (and its unmarked ones as weak "about us"
    labels), calibrated on the labelled ones' out-of-fold predictions."""
    kinds = {e.relevant for e in examples} | ({True} if unmarked else set())
    if len(examples) < MIN_TO_TRAIN or len(kinds) < 2:
        return Trained(PRIOR_MODEL)
    if unmarked:
        unmarked = [Example(e.features, True, e.rule, UNMARKED_WEIGHT) for e in unmarked]
    folds = min(FOLDS, len(examples))
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    fold = {i: k % folds for k, i in enumerate(order)}
    held: list[float] = [0.0] * len(examples)
    for k in range(folds):
        train = [e for i, e in enumerate(examples) if fold[i] != k]
        weights, bias = _fit([*train, *unmarked], PRIOR_MODEL, l2)
        part = WatchModel(weights, bias)
        for i, e in enumerate(examples):
            if fold[i] == k:
                held[i] = part.logit(e.features)
    labels = [e.relevant for e in examples]
    # Calibrated only on enough of both kinds: on "not about us" marks alone, it would learn
    # that nothing is about us.
    both = min(sum(labels), len(labels) - sum(labels))
    calibration = _platt(held, labels) if both >= CALIBRATE_FROM else (1.0, 0.0)
    weights, bias = _fit([*examples, *unmarked], PRIOR_MODEL, l2)
    model = WatchModel(weights, bias, calibration, THRESHOLD, len(examples))
    a, c = calibration

    def accuracy(verdicts: Iterable[bool]) -> float:
        return sum(v == e.relevant for v, e in zip(verdicts, examples, strict=True)) / len(labels)

    held_out = {
        "n": float(len(examples)),
        "rules": accuracy(e.rule is not False for e in examples),
        "prior": accuracy(PRIOR_MODEL.probability(e.features) >= THRESHOLD for e in examples),
        "learned": accuracy(_sigmoid(a * z + c) >= THRESHOLD for z in held),
    }
    return Trained(model, held_out)


class Extractor:
    """Finds each watch's candidates in a text as scoring does (same tokenizer, same matcher)
    and turns them into features: what training sees is what scoring sees."""

    def __init__(self, watch: Sequence[Watch]) -> None:
        from nlp.query import QueryMatcher
        from nlp.tokenizer import blank

        self.nlp = blank()
        self.queries = QueryMatcher(self.nlp, watch)

    def __call__(self, text: str) -> dict[str, tuple[tuple[str, ...], bool | None]]:
        """Per candidate watch: its features and its context rule's verdict."""
        from nlp.pipeline import for_scoring

        doc = self.nlp.make_doc(for_scoring(text))
        return {
            name: (tuple(features(doc, spans, rule)), rule)
            for name, (spans, rule) in self.queries.candidates(doc).items()
        }


def examples_per_watch(
    watch: Sequence[Watch], labelled: Iterable[tuple[str, bool]]
) -> dict[str, list[Example]]:
    """The labelled texts (title and text, relevant or not) as examples of each watch whose
    name they contain; "not about us" counts against every watch the text names."""
    extract = Extractor(watch)
    out: dict[str, list[Example]] = {w.name: [] for w in watch}
    for text, relevant in labelled:
        for name, (feats, rule) in extract(text).items():
            out[name].append(Example(feats, bool(relevant), rule))
    return out


def train(
    watch: Sequence[Watch],
    labelled: Sequence[tuple[str, bool]],
    models_dir: Path,
    unmarked: Sequence[str] = (),
) -> tuple[Relevance, dict[str, dict[str, float]]]:
    """Train every watch that has enough labelled mentions (texts that count and nobody marked
    in `unmarked`), write the model beside the others and return it with each trained watch's
    held-out figures."""
    previous = load(models_dir) or Relevance()
    number = int(previous.version.removeprefix("relevance-") or 0) + 1
    watches: dict[str, WatchModel] = {}
    figures: dict[str, dict[str, float]] = {}
    weak = examples_per_watch(watch, [(text, True) for text in unmarked])
    for name, examples in examples_per_watch(watch, labelled).items():
        trained = train_watch(examples, weak[name])
        if trained.model.labelled:
            watches[name] = trained.model
            figures[name] = trained.held_out
    model = Relevance(watches, f"relevance-{number}")
    save(model, models_dir)
    return model, figures
