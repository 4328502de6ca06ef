"""The learned readings: a linear model over nlp.features, loaded from a versioned folder.

One model gives the sentiment (negative / neutral / positive) and a calibrated confidence
for each intent it has data for (complaint, question and compliment as shipped; others once
corrections teach them), with the threshold from which each intent counts as present, chosen
on development data (see nlp/train.py, which builds it, and metrics.json beside it).

A model is a folder `linear-N/` (N counts up) holding `weights.npz`, `meta.json` and
`metrics.json`; the newest complete one under the models folder is used, else the base model
shipped in `nlp/models/linear-base/`. Folders are written under a temporary name and renamed
when complete, so a crash mid-training never leaves a model that half loads.

    .venv/bin/python -m nlp.model     # rebuilds the shipped model (the same as nlp.train)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import chain
from pathlib import Path

import numpy as np
from spacy.attrs import IS_SPACE, LOWER
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc

from nlp import features, sentiment
from nlp.tokenizer import Text, span_text

BASE = Path(__file__).resolve().parent / "models" / "linear-base"
SENTIMENTS = ("negative", "neutral", "positive")
NEUTRAL_WITHIN = 0.5  # a mean human rating (-4..4) within ±0.5 is neutral
PREFIX = "linear-"
MIN_SENTENCE_TOKENS = 3  # shorter ones ("Thanks!", "Anyway.") are read with the whole post
_SENTENCE_ENDS = frozenset(".!?…")
_SENTENCE_END_HASHES = np.array(sorted(hash_string(e) for e in _SENTENCE_ENDS), dtype=np.uint64)
_SENTENCES = "tidings_sentence_features"  # doc.user_data key
_SENTENCES_ALONE = "tidings_sentences_alone"  # (sentences, readings of each alone), for a batch
_HEAD = "tidings_praise_closing"  # for a batch: None, or (start, let-down, the head's readings)
SARCASTIC_TAIL = 4  # tokens: a closing praise this short may be sarcasm ("Just great!")
# Closings that are meant, not sarcasm: thanks after a fix, a plea for help, a question.
_MEANT = re.compile(r"thank|thx|\bty\b|appreciat|cheers|help|please|pls|advise|\?")
# A let-down told plainly before the closing praise ("…and they never came. Awesome!"): the
# praise is sarcasm even when the model does not read the plain words as a complaint.
_LET_DOWN = re.compile(
    r"\b(never|didn'?t|did not|wasn'?t|weren'?t|hasn'?t|haven'?t|still (no|not|waiting)|"
    r"no one|nobody|nothing|again|wrong|lost|late|delayed|cancell?ed|broke|broken|missing|"
    r"forgot|ignored|waited|waiting)\b"
)
_NO_LET_DOWN = re.compile(
    r"never (let|lets|fails?|disappoints?)|never (had|have) (a|any) (problem|issue)"
)


def rating_label(rating: float) -> str:
    if rating >= NEUTRAL_WITHIN:
        return "positive"
    if rating <= -NEUTRAL_WITHIN:
        return "negative"
    return "neutral"


@dataclass(frozen=True, slots=True)
class LinearModel:
    weights: np.ndarray  # BUCKETS × (3 sentiments + intents), float32
    bias: np.ndarray
    intents: tuple[str, ...]
    calibration: dict[str, tuple[float, float]]  # intent → (a, c): sigmoid(a·logit + c)
    thresholds: dict[str, float]  # intent → the confidence from which it is present
    # How the sentiment's label and score are made (chosen on development data).
    decision: sentiment.Decision = sentiment.Decision()
    # Intents read in each sentence too, each with the weight w (chosen on development data)
    # of its most confident sentence: z + w·max(0, z_sentence - z), so that a complaint
    # padded with pleasantries ("Love your colours. My card was declined twice. Have a nice
    # weekend.") still counts. Calibration is fitted to that score.
    sentence_weights: dict[str, float] = field(default_factory=dict)

    @property
    def per_sentence(self) -> tuple[str, ...]:
        return tuple(i for i, w in self.sentence_weights.items() if w > 0)

    def logits(self, x: np.ndarray, sentences: Sequence[np.ndarray] = ()) -> np.ndarray:
        """The raw scores of the whole post, with its sentences' where an intent reads them."""
        z = self.weights[x].sum(axis=0) + self.bias
        if len(sentences) > 1 and self.per_sentence:
            cols = np.array([3 + self.intents.index(i) for i in self.per_sentence])
            w = np.array([self.sentence_weights[i] for i in self.per_sentence])
            most = np.max([self.weights[s][:, cols].sum(axis=0) for s in sentences], axis=0)
            z[cols] += w * np.maximum(0.0, most + self.bias[cols] - z[cols])
        return z

    def readings(self, x: np.ndarray, sentences: Sequence[np.ndarray] = ()) -> np.ndarray:
        """P(negative), P(neutral), P(positive), then each intent's calibrated confidence."""
        z = self.logits(x, sentences)
        s = np.exp(z[:3] - z[:3].max())
        out = np.empty(len(z))
        out[:3] = s / s.sum()
        for i, intent in enumerate(self.intents):
            a, c = self.calibration.get(intent, (1.0, 0.0))
            # Clipped: a long text sums many features, and exp() of a huge logit overflows.
            out[3 + i] = 1 / (1 + math.exp(-max(-50.0, min(50.0, a * z[3 + i] + c))))
        return out

    def readings_of(
        self,
        indices: np.ndarray,
        offsets: np.ndarray,
        sentences: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """readings() of many feature sets at once (set d is indices[offsets[d]:offsets[d + 1]],
        as features.of_docs gives them), one row each, equal to readings() of each.

        `sentences`, when given, are the sets' sentences: (indices, offsets) as of_docs gives
        them and the set each belongs to (ascending); a set with two or more is read with
        them, as readings(x, its sentences) reads it."""
        z = self._summed(indices, offsets)
        z += self.bias
        if sentences is not None:
            self._with_sentences(z, *sentences)
        return self._readings_from(z)

    def _summed(self, indices: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Each set's weights summed (no bias), as readings() sums one set."""
        n, width = len(offsets) - 1, self.weights.shape[1]
        sizes = np.diff(offsets)
        z = np.empty((n, width), dtype=self.weights.dtype)
        # Summed as readings() sums one set: row after row in float32. Sets of like size go
        # together, each padded with zero rows (which change no sum) to the longest.
        order = np.argsort(sizes, kind="stable")
        for group in np.array_split(order, max(1, n // 32)):
            if not len(group):
                continue
            size = sizes[group]
            padded = np.zeros((len(group), int(size.max()), width), dtype=self.weights.dtype)
            within = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            rows = np.repeat(offsets[group], size) + within
            padded[np.repeat(np.arange(len(group)), size), within] = self.weights[indices[rows]]
            z[group] = padded.sum(axis=1)
        return z

    def _with_sentences(
        self, z: np.ndarray, indices: np.ndarray, offsets: np.ndarray, owner: np.ndarray
    ) -> None:
        """logits() of the sets with two or more sentences, from their summed logits `z`
        (bias added) and their sentences' features, all at once, in place."""
        if not self.per_sentence or not len(owner):
            return
        picked = np.flatnonzero(np.bincount(owner, minlength=len(z))[owner] > 1)
        if not len(picked):
            return
        cols = np.array([3 + self.intents.index(i) for i in self.per_sentence])
        w = np.array([self.sentence_weights[i] for i in self.per_sentence])
        sums = np.empty((len(picked), len(cols)), dtype=self.weights.dtype)
        sizes = offsets[picked + 1] - offsets[picked]
        # logits() sums self.weights[s][:, cols], which numpy lays out column by column, and
        # so sums each column pairwise, not row after row. Sentences of one size are summed
        # together, each column of each alone and contiguous: pairwise the same way.
        # (Only those columns are gathered: each one's weights of all buckets, contiguous.)
        by_column = _columns(self.weights, tuple(cols.tolist()))
        order = np.argsort(sizes, kind="stable")
        ranked = sizes[order]
        cuts = np.flatnonzero(np.diff(ranked)) + 1
        for group in np.split(order, cuts):
            size = int(sizes[group[0]])
            at = offsets[picked[group]][:, None] + np.arange(size)
            sums[group] = np.take(by_column, indices[at], axis=1).sum(axis=2).T
        owners = owner[picked]
        firsts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
        most = np.maximum.reduceat(sums, firsts, axis=0)
        at = np.ix_(owners[firsts], cols)
        mine = z[at]
        mine += w * np.maximum(0.0, most + self.bias[cols] - mine)
        z[at] = mine

    def _readings_from(self, z: np.ndarray) -> np.ndarray:
        """readings() of each row of logits."""
        n, width = z.shape
        s = np.exp(z[:, :3] - z[:, :3].max(axis=1, keepdims=True))
        out = np.empty((n, width))
        out[:, :3] = s / s.sum(axis=1, keepdims=True)
        for i, intent in enumerate(self.intents):
            a, c = self.calibration.get(intent, (1.0, 0.0))
            t = np.clip(a * z[:, 3 + i] + c, -50.0, 50.0).tolist()
            out[:, 3 + i] = [1 / (1 + math.exp(-v)) for v in t]
        return out

    def save(self, folder: Path) -> None:
        # Only the rows some feature reached, in half precision: a few MB instead of 12.
        rows = np.flatnonzero(np.any(self.weights != 0, axis=1)).astype(np.int32)
        np.savez_compressed(
            folder / "weights.npz",
            rows=rows,
            values=self.weights[rows].astype(np.float16),
            bias=self.bias,
            intents=np.array(self.intents),
            calibration=np.array([self.calibration.get(i, (1.0, 0.0)) for i in self.intents]),
            thresholds=np.array([self.thresholds.get(i, 0.5) for i in self.intents]),
            sentiment_offsets=np.array(self.decision.offsets),
            silent_neutral=np.array(self.decision.silent_neutral),
            lexicon_share=np.array(self.decision.lexicon_share),
            complaint_from=np.array(self.decision.complaint_from),
            sentence_weights=np.array([self.sentence_weights.get(i, 0.0) for i in self.intents]),
        )

    @classmethod
    def load(cls, folder: Path) -> LinearModel:
        with np.load(folder / "weights.npz") as f:
            intents = tuple(str(i) for i in f["intents"])
            weights = np.zeros((features.BUCKETS, 3 + len(intents)), np.float32)
            weights[f["rows"]] = f["values"].astype(np.float32)
            pairs = zip(intents, f["calibration"], strict=True)
            calibration = {i: (float(a), float(c)) for i, (a, c) in pairs}
            thresholds = {i: float(t) for i, t in zip(intents, f["thresholds"], strict=True)}
            decision = sentiment.Decision()  # a model trained before decisions were stored
            if "sentiment_offsets" in f:
                decision = sentiment.Decision(
                    tuple(float(v) for v in f["sentiment_offsets"]),
                    float(f["silent_neutral"]),
                    float(f["lexicon_share"]),
                    # Models trained before it was chosen: no complaint is exempt.
                    float(f["complaint_from"]) if "complaint_from" in f else 2.0,
                )
            bias = f["bias"].astype(np.float32)
            per_sentence = {}  # none in a model trained before intents were read per sentence
            if "sentence_weights" in f:
                chosen = zip(intents, f["sentence_weights"], strict=True)
                per_sentence = {i: float(w) for i, w in chosen if w > 0}
            return cls(weights, bias, intents, calibration, thresholds, decision, per_sentence)


_BY_COLUMN: dict[tuple[int, tuple[int, ...]], tuple[np.ndarray, np.ndarray]] = {}


def _columns(weights: np.ndarray, cols: tuple[int, ...]) -> np.ndarray:
    """weights[:, cols], transposed and contiguous: column c's weights are row c (kept per
    model)."""
    held = _BY_COLUMN.get((id(weights), cols))
    if held is None or held[0] is not weights:
        if len(_BY_COLUMN) > 8:
            _BY_COLUMN.clear()
        held = _BY_COLUMN[(id(weights), cols)] = (
            weights,
            np.ascontiguousarray(weights[:, list(cols)].T),
        )
    return held[1]


@dataclass(frozen=True)
class Model:
    path: Path
    version: str  # "linear-base", "linear-3"…: stored with every score it made

    @property
    def meta(self) -> dict:
        """What training recorded: when, from what, which intents and thresholds."""
        try:
            return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    @property
    def metrics(self) -> dict:
        try:
            return json.loads((self.path / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    @cached_property
    def linear(self) -> LinearModel:
        return _load(self.path)

    @property
    def intents(self) -> tuple[str, ...]:
        return self.linear.intents

    @property
    def thresholds(self) -> dict[str, float]:
        return self.linear.thresholds


@cache
def _load(path: Path) -> LinearModel:
    return LinearModel.load(path)


def numbered(models_dir: Path | None) -> list[tuple[int, Path]]:
    """(N, folder) of every `linear-N` folder under `models_dir`, complete or not."""
    if models_dir is None or not models_dir.is_dir():
        return []
    found = ((p.name.removeprefix(PREFIX), p) for p in models_dir.glob(f"{PREFIX}*"))
    return [(int(n), p) for n, p in found if n.isdigit()]


def current(models_dir: Path | None) -> Model:
    """The newest complete trained model under `models_dir`, else the shipped base model."""
    complete = [(n, p) for n, p in numbered(models_dir) if (p / "meta.json").is_file()]
    path = max(complete)[1] if complete else BASE
    return Model(path, path.name)


class Readings:
    """The pipeline component: the model's readings of a doc into doc.cats (each sentiment's
    probability, each learned intent's confidence), and the doc's sentiment score from the
    lexicon and the model together (sentiment.reading)."""

    def __init__(self, path: Path) -> None:
        self.model = _load(path)
        self.names = (*SENTIMENTS, *self.model.intents)
        self._known: tuple[LinearModel, int | None, float | None, bool] | None = None

    def _complaint_of_model(self) -> tuple[int | None, float | None, bool]:
        """Asked for each doc, looked up once per model: the complaint's column of the
        readings (None: the model reads no complaint), its threshold, and whether its
        sentences are read alone."""
        known = self._known
        if known is None or known[0] is not self.model:
            intents = self.model.intents
            column = 3 + intents.index("complaint") if "complaint" in intents else None
            known = self._known = (
                self.model,
                column,
                self.model.thresholds.get("complaint"),
                "complaint" in self.model.per_sentence,
            )
        return known[1], known[2], known[3]

    def __call__(self, doc: Doc) -> Doc:
        doc._.clauses, values, doc._.sentiment = self.read(doc, doc._.clauses, self._values(doc))
        doc.cats = dict(zip(self.names, values.tolist(), strict=True))
        return doc

    def read(
        self,
        doc: Doc | Text,
        clauses: list[tuple[int, int, float]],
        values: np.ndarray,
        lexical: float | None = None,
    ) -> tuple[list[tuple[int, int, float]], np.ndarray, float]:
        """The doc's clauses, readings and sentiment score, from its lexicon clauses and the
        model's readings of it (the pipeline reads many docs' at once: LinearModel.readings_of);
        `lexical`, the clauses' normalized sum, when known."""
        problem = self._problem_before_praise(doc, clauses)
        if problem is not None:
            # "…and they never came. Awesome!": praise that only closes a reported problem is
            # sarcasm. The closing words count against, as the lexicon's sarcasm markers make
            # them; the feeling and the intents are read from the problem.
            start, end, last = clauses[-1]
            clauses = [*clauses[:-1], (start, end, last * sentiment.SARCASM_FLIP)]
            complaint = 3 + self.model.intents.index("complaint")
            problem[complaint] = max(problem[complaint], values[complaint])
            values = problem
        if problem is not None or lexical is None:  # (the closing praise's clause changed)
            lexical = sentiment.normalize(sum([r for _, _, r in clauses]))
        feeling = sentiment.reading(
            lexical,
            *values[:3].tolist(),
            self.model.decision,
            self._complaint(values),
        )
        if problem is None:
            feeling = min(feeling, self._feeling_of_the_complaint(doc, values))
        return clauses, values, feeling

    def values_of(
        self,
        docs: Sequence[Doc] | Sequence[Text],
        rows: np.ndarray,
        starts: np.ndarray,
        indices: np.ndarray,
        offsets: np.ndarray,
        clauses: Sequence[list[tuple[int, int, float]]] | None = None,
        flat: Clauses | None = None,
    ) -> list[np.ndarray]:
        """_values() of many docs whose clauses are set, from their tokens' rows and features
        (features.of_docs's input and output), every doc's and every sentence's features read
        at once, and the readings of all docs, those read per sentence too, in one operation.
        What read() reads of a doc besides (its complaint's sentences alone, the text before a
        closing praise) is read for all docs at once too, and kept with each doc. `clauses`
        are the docs' (else their doc._.clauses), `flat` the same as arrays, if at hand."""
        if clauses is None:
            clauses = [doc._.clauses for doc in docs]
        flat = Clauses.of(clauses) if flat is None else flat
        many, found, (each, each_offsets) = self._read_many(
            clauses, rows, starts, indices, offsets, flat
        )
        counts = found.counts.tolist()
        for d, doc in enumerate(docs):
            if not counts[d]:  # no sentence to read alone, as sentences(doc) would find
                doc.user_data[_SENTENCES_ALONE] = ((), ())
        # _feeling_of_the_complaint reads each sentence of a complaint alone: all at once.
        # (A doc with sentences and no complaint reads none: its _SENTENCES are not kept.)
        if "complaint" in self.model.per_sentence and len(found.doc):
            column = 3 + self.model.intents.index("complaint")
            threshold = self.model.thresholds["complaint"]
            read = np.flatnonzero((found.counts > 0) & (many[:, column] >= threshold))
            picked = np.flatnonzero(np.isin(found.doc, read))
            if len(picked):
                size = each_offsets[picked + 1] - each_offsets[picked]
                bounds = np.concatenate(([0], np.cumsum(size)))
                within = np.arange(bounds[-1]) - np.repeat(bounds[:-1], size)
                chosen = each[np.repeat(each_offsets[picked], size) + within]
                alone = self.model.readings_of(chosen, bounds)
                k = 0
                read = read.tolist()
                for d, mine in zip(read, found.of_docs(read), strict=True):
                    n = counts[d]
                    docs[d].user_data[_SENTENCES_ALONE] = (mine, alone[k : k + n])
                    k += n
        # _problem_before_praise reads the text before a closing praise alone: all at once.
        # Only a doc whose last clause is short and praises may have one (_praise_closing).
        heads = []
        maybe = np.zeros(len(docs), dtype=bool)
        if len(flat.doc) and "complaint" in self.model.intents:
            last = np.flatnonzero(np.append(flat.doc[1:] != flat.doc[:-1], True))
            maybe[flat.doc[last]] = (
                (flat.value[last] > 0)
                & (flat.end[last] - flat.start[last] <= SARCASTIC_TAIL)
                & (np.bincount(flat.doc, minlength=len(docs))[flat.doc[last]] >= 2)
            )
        for d, (doc, may) in enumerate(zip(docs, maybe.tolist(), strict=True)):
            closing = self._praise_closing(doc, clauses[d]) if may else None
            doc.user_data[_HEAD] = closing
            if closing is not None:
                heads.append((d, closing[0]))
        if heads:
            head_clauses = [clauses[d][:-1] for d, _ in heads]
            size = np.array([start for _, start in heads], dtype=np.int64)
            bounds = np.concatenate(([0], np.cumsum(size)))
            first = np.repeat(starts[[d for d, _ in heads]], size)
            head_rows = rows[first + np.arange(bounds[-1]) - np.repeat(bounds[:-1], size)]
            raws = [[r for _, _, r in c] for c in head_clauses]
            lexical = [sentiment.normalize(sum(raw)) for raw in raws]
            head_indices, head_offsets = features.of_docs(head_rows, bounds, lexical, raws)
            head_values, _, _ = self._read_many(
                head_clauses, head_rows, bounds, head_indices, head_offsets
            )
            for (d, start), values in zip(heads, head_values, strict=True):
                docs[d].user_data[_HEAD] = (start, docs[d].user_data[_HEAD][1], values.copy())
        return list(many)

    def _read_many(
        self,
        clauses: Sequence[list[tuple[int, int, float]]],
        rows: np.ndarray,
        starts: np.ndarray,
        indices: np.ndarray,
        offsets: np.ndarray,
        flat: Clauses | None = None,
    ) -> tuple[np.ndarray, Sentences, tuple[np.ndarray, np.ndarray]]:
        """The readings of many texts from their clauses, tokens' rows and features (as
        values_of), with each text's sentences and their features (all texts' sentences one
        after another, as features.of_docs gives them: indices and offsets)."""
        found = Sentences.none(len(clauses))
        if self.model.per_sentence:
            # Which tokens end a sentence, from rows' LOWER and IS_SPACE (as sentences() does).
            ends = (rows[:, 1] == 1) | features._within(rows[:, 0], _SENTENCE_END_HASHES)
            flat = Clauses.of(clauses) if flat is None else flat
            found = Sentences.of(flat, ends, starts)
        owner = found.doc
        each_indices, each_offsets = np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
        if len(owner):  # each sentence as if it stood alone
            first = starts[owner] + found.start
            size = found.end - found.start
            bounds = np.concatenate(([0], np.cumsum(size)))
            within = np.arange(bounds[-1]) - np.repeat(bounds[:-1], size)
            chosen = rows[np.repeat(first, size) + within]
            each_indices, each_offsets = features.of_docs(
                chosen, bounds, found.lexical, found.values, found.clause_counts
            )
        many = self.model.readings_of(indices, offsets, (each_indices, each_offsets, owner))
        return many, found, (each_indices, each_offsets)

    def _feeling_of_the_complaint(self, doc: Doc | Text, values: np.ndarray) -> float:
        """The feeling of the sentence that makes a post a complaint, read alone (1.0 when
        none does): "Love your colours. My card was declined twice. Have a nice weekend."
        feels as its complaint does, not as its pleasantries."""
        column, threshold, alone = self._complaint_of_model()
        if not alone:
            return 1.0
        if values[column] < threshold:
            return 1.0
        found, each = doc.user_data.get(_SENTENCES_ALONE) or (None, None)
        if found is None:  # one doc, not a batch (values_of reads a batch's at once)
            found = sentences(doc)
            each = [self.model.readings(x) for x in doc.user_data.get(_SENTENCES, [])]
        read = []
        for (_, _, raw), alone in zip(found, each, strict=True):
            read.append((alone[column], sentiment.normalize(sum(raw)), alone))
        if not read:
            return 1.0
        confidence, lexical, alone = max(read, key=lambda r: r[0])
        if confidence < self.model.thresholds["complaint"]:
            return 1.0
        return sentiment.reading(
            lexical, *alone[:3].tolist(), self.model.decision, float(confidence)
        )

    def _complaint(self, values: np.ndarray) -> float:
        """The complaint confidence of these readings (0 for a model without complaints)."""
        column = self._complaint_of_model()[0]
        if column is None:
            return 0.0
        return float(values[column])

    def _values(self, doc: Doc) -> np.ndarray:
        raw = [r for _, _, r in doc._.clauses]
        x = features.of_doc(doc, sentiment.normalize(sum(raw)), raw)
        each = sentence_features(doc) if self.model.per_sentence else []
        doc.user_data[_SENTENCES] = each  # read again by _feeling_of_the_complaint
        return self.model.readings(x, each)

    def _praise_closing(
        self, doc: Doc | Text, clauses: list[tuple[int, int, float]]
    ) -> tuple[int, bool] | None:
        """Where a short closing praise begins, and whether the text before it tells a
        let-down, when that text is to be read alone (_problem_before_praise); else None."""
        if len(clauses) < 2 or "complaint" not in self.model.intents:
            return None
        start, end, last = clauses[-1]
        before = sum(r for *_, r in clauses[:-1])
        if last <= 0 or end - start > SARCASTIC_TAIL or before > 1.0:
            return None
        if _MEANT.search(span_text(doc, start, end).lower()):
            return None
        low = span_text(doc, 0, start).lower()
        let_down = _LET_DOWN.search(low) is not None and not _NO_LET_DOWN.search(low)
        if before > 0 and not let_down:  # read the head only where it may hold a problem
            return None
        return start, let_down

    def _problem_before_praise(
        self, doc: Doc | Text, clauses: list[tuple[int, int, float]]
    ) -> np.ndarray | None:
        """The readings of the text before a short closing praise ("Awesome!", "Love it.")
        when that text, read alone, is a complaint and reads negative, or tells a let-down
        (_LET_DOWN) and reads no better than neutral; and has no clearly good word."""
        if _HEAD in doc.user_data:  # values_of read it with its batch
            closing = doc.user_data.pop(_HEAD)
            if closing is None:
                return None
            start, let_down, values = closing
        else:
            closing = self._praise_closing(doc, clauses)
            if closing is None:
                return None
            start, let_down = closing
            head = doc[:start].as_doc()
            head._.clauses = clauses[:-1]
            values = self._values(head)
        complaint = values[3 + self.model.intents.index("complaint")]
        feeling = sentiment.reading(
            sentiment.normalize(sum(r for *_, r in clauses[:-1])),
            *values[:3].tolist(),
            self.model.decision,
            self._complaint(values),
        )
        if complaint >= self.model.thresholds["complaint"] and feeling <= sentiment.NEGATIVE_AT:
            return values
        if feeling < sentiment.POSITIVE_AT and let_down:
            values[1] = 0.5 * values[1]  # a let-down closed by praise is no calm statement
            return values
        return None


def sentences(doc: Doc) -> list[tuple[int, int, list[float]]]:
    """(first token, token after the last, raw valence of each clause) of each sentence of at
    least MIN_SENTENCE_TOKENS tokens, when the doc has two or more: the lexicon's clauses
    (nlp.sentiment.clauses) joined up to one that ends a sentence (". ! ?" or a line break),
    so that "X but Y" stays one sentence. A cheap split: "Mr. Smith" splits too, which only
    adds a sentence to read."""
    clauses = doc._.clauses
    if len(clauses) < 2:
        return []
    rows = doc.to_array([LOWER, IS_SPACE])
    ends = ((rows[:, 1] == 1) | features._within(rows[:, 0], _SENTENCE_END_HASHES)).tolist()
    return _sentences(clauses, len(doc), ends)


def _sentences(
    clauses: list[tuple[int, int, float]], n: int, ends: list[bool], base: int = 0
) -> list[tuple[int, int, list[float]]]:
    """sentences() of a doc of `n` tokens from its clauses and whether each token ends a
    sentence (token i's at ends[base + i])."""
    if len(clauses) < 2:
        return []
    out, start, raw = [], 0, []
    for first, end, value in clauses:
        if not raw:
            start = first
        raw.append(value)
        if ends[base + end - 1] or end == n:
            if end - start >= MIN_SENTENCE_TOKENS:
                out.append((start, end, raw))
            raw = []
    return out if len(out) > 1 else []


@dataclass(frozen=True, slots=True)
class Clauses:
    """The clauses of many docs as arrays, one doc's after another: each clause's first token,
    the token after its last (within its doc), raw valence, and doc."""

    start: np.ndarray
    end: np.ndarray
    value: np.ndarray
    doc: np.ndarray

    @classmethod
    def of(cls, clauses: Sequence[list[tuple[int, int, float]]]) -> Clauses:
        counts = np.fromiter(map(len, clauses), np.int64, len(clauses))
        every = chain.from_iterable(chain.from_iterable(clauses))
        flat = np.fromiter(every, np.float64, 3 * int(counts.sum())).reshape(-1, 3)
        doc = np.repeat(np.arange(len(clauses)), counts)
        return cls(flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64), flat[:, 2], doc)


@dataclass(frozen=True, slots=True)
class Sentences:
    """The sentences (as sentences() finds them) of many docs, one doc's after another: each
    one's doc, first token, the token after its last, its lexicon score (normalized), and its
    clauses' raw valences (`values`, clause_counts[s] of them for sentence s)."""

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    lexical: np.ndarray
    values: np.ndarray
    clause_counts: np.ndarray
    counts: np.ndarray  # how many each doc has

    @classmethod
    def none(cls, docs: int) -> Sentences:
        empty, nothing = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(empty, empty, empty, nothing, nothing, empty, np.zeros(docs, dtype=np.int64))

    @classmethod
    def of(cls, clauses: Clauses, ends: np.ndarray, starts: np.ndarray) -> Sentences:
        """_sentences() of every doc at once: `ends` says which tokens end a sentence, doc
        d's tokens being ends[starts[d]:starts[d + 1]]."""
        n_docs = len(starts) - 1
        if not len(clauses.doc):
            return cls.none(n_docs)
        doc, first, end = clauses.doc, clauses.start, clauses.end
        # A sentence closes with the clause ending on a sentence's end, or the doc's end.
        closes = ends[starts[doc] + end - 1] | (end == np.diff(starts)[doc])
        closes[np.append(doc[1:] != doc[:-1], True)] = True  # each doc's last clause
        opens = np.ones(len(doc), dtype=bool)
        opens[1:] = closes[:-1]
        firsts, lasts = np.flatnonzero(opens), np.flatnonzero(closes)
        owner, start, stop = doc[firsts], first[firsts], end[lasts]
        keep = (stop - start >= MIN_SENTENCE_TOKENS) & (
            np.bincount(doc, minlength=n_docs)[owner] >= 2
        )
        keep &= np.bincount(owner[keep], minlength=n_docs)[owner] > 1
        clause_counts = (lasts - firsts + 1)[keep]
        values = clauses.value[keep[np.cumsum(opens) - 1]]
        lexical = sentiment.normalized(sentiment.sums(values, clause_counts))
        owner = owner[keep]
        counts = np.bincount(owner, minlength=n_docs)
        return cls(owner, start[keep], stop[keep], lexical, values, clause_counts, counts)

    def of_docs(self, docs: Sequence[int]) -> list[list[tuple[int, int, list[float]]]]:
        """These docs' sentences, each doc's as _sentences() gives them."""
        bounds = np.concatenate(([0], np.cumsum(self.clause_counts))).tolist()
        values, starts, ends = self.values.tolist(), self.start.tolist(), self.end.tolist()
        at = np.searchsorted(self.doc, np.asarray(docs, dtype=np.int64)).tolist()
        counts = self.counts.tolist()
        return [
            [
                (starts[s], ends[s], values[bounds[s] : bounds[s + 1]])
                for s in range(a, a + counts[d])
            ]
            for d, a in zip(docs, at, strict=True)
        ]


def sentence_features(doc: Doc) -> list[np.ndarray]:
    """The feature indices of each sentence (see sentences), read as if it stood alone."""
    found = sentences(doc)
    if not found:
        return []
    arrays: dict[tuple, np.ndarray] = {}
    return [
        features.of_doc(_Part(doc, start, end, arrays), sentiment.normalize(sum(raw)), raw)  # type: ignore[arg-type]
        for start, end, raw in found
    ]


class _Part:
    """A sentence as nlp.features.of_doc reads it: the doc's token attributes, sliced (a
    Span's own to_array costs about three times as much)."""

    __slots__ = ("arrays", "doc", "end", "start")

    def __init__(self, doc: Doc, start: int, end: int, arrays: dict[tuple, np.ndarray]) -> None:
        self.doc, self.start, self.end, self.arrays = doc, start, end, arrays

    def to_array(self, attrs: Sequence) -> np.ndarray:
        key = tuple(attrs)
        if key not in self.arrays:
            self.arrays[key] = self.doc.to_array(list(attrs))
        return self.arrays[key][self.start : self.end]


@Language.factory("tidings_readings", default_config={"path": str(BASE)})
def _make_readings(nlp: Language, name: str, path: str) -> Readings:
    return Readings(Path(path))


def add_to(nlp: Language, model: Model) -> None:
    """Add the model's readings to a pipeline that already reads the lexicon's sentiment."""
    nlp.add_pipe("tidings_readings", config={"path": str(model.path)})


def train(
    models_dir: Path,
    sentiment_corrections: Sequence[tuple[str, str]] = (),
    intent_corrections: Sequence[tuple[str, Sequence[str]]] = (),
    intent_silver: Sequence[tuple[str, Sequence[str]]] = (),
) -> Model:
    """The next model version under `models_dir`, from the shipped data and the corrections
    (see nlp.train.train; `intent_silver`, the rules' own readings, is no longer learned
    from: it taught the model the rules' mistakes)."""
    from nlp.train import train as train_next

    trained, _ = train_next(models_dir, sentiment_corrections, intent_corrections, log=_quiet)
    return trained


def _quiet(message: str) -> None:
    pass


if __name__ == "__main__":
    from nlp.train import train_base

    train_base()
