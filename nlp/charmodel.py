"""A second reading of the intents, learned from the team's corrections alone, stacked on the
linear model's (nlp.model).

The linear model learns from the shipped data and the corrections together, on hashed words
and word pairs: what 100,000 shipped texts taught it outweighs what a few hundred of the
team's own posts say, and a word the corrections hold in many forms ("charged", "chargeback",
"overcharging") is as many unrelated words to it. This model sees only the corrections, and
what the linear model avoids: character n-grams (CHAR_NGRAMS long) within each word, padded
with a space either side (so " re" opens a word and "ed " ends one), and each word itself;
each text's features once, scaled to unit length; one L2-regularised logistic regression per
intent (Newton's method, conjugate gradients: the same weights at every training).

Its logit joins the linear model's through a stacker, a logistic regression per intent on the
two logits, fitted (nlp.train.build) on the corrections' out-of-fold readings: each read by both
models fitted without its fifth. The stacker's weight for the linear logit and its constant
become the linear model's calibration of that intent, and its weight for this model's logit is
`share`: a stacked confidence is sigmoid(a·z + c + share·z_chars) (CharModel.added_logits,
given to LinearModel.readings as `extra`). A model folder holds it as chars.npz beside
weights.npz; a folder without one (the shipped model, or too few corrections:
nlp.train.stackable) reads as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from spacy.strings import hash_string

FILE = "chars.npz"
BITS = 20
BUCKETS = 2**BITS
CHAR_NGRAMS = (2, 5)  # shortest and longest, within a word padded with a space either side
C = 4.0  # inverse L2 strength (scikit-learn's C): chosen on bench/learning.py's two domains
NEWTON_STEPS = 30
CG_STEPS = 20
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")


@lru_cache(maxsize=200_000)
def _word_buckets(word: str) -> tuple[int, ...]:
    """The buckets of a word's character n-grams and of the word itself."""
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    grams = {padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)}
    grams.add(f"w:{word}")
    return tuple(sorted({hash_string(g) % BUCKETS for g in grams}))


def buckets(text: str) -> np.ndarray:
    """The feature buckets of a text (each once, sorted)."""
    found: set[int] = set()
    for word in set(_WORD.findall(text.lower())):
        found.update(_word_buckets(word))
    return np.array(sorted(found), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Design:
    """Texts as a sparse matrix: entry k is row rows[k], column columns[k], value values[k]."""

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    n: int

    @classmethod
    def of(cls, texts: Sequence[str]) -> Design:
        xs = [buckets(t) for t in texts]
        sizes = np.array([len(x) for x in xs], dtype=np.int64)
        columns = np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)
        values = np.repeat(1 / np.sqrt(np.maximum(sizes, 1)), sizes)
        return cls(np.repeat(np.arange(len(xs)), sizes), columns, values, len(xs))

    def take(self, which: np.ndarray) -> Design:
        """The rows `which` (a boolean mask over the texts), numbered anew."""
        keep = which[self.rows]
        renumber = np.cumsum(which) - 1
        return Design(
            renumber[self.rows[keep]], self.columns[keep], self.values[keep], int(which.sum())
        )

    def times(self, w: np.ndarray) -> np.ndarray:
        """The matrix times a vector of BUCKETS weights: each text's summed weights."""
        return np.bincount(self.rows, weights=self.values * w[self.columns], minlength=self.n)


def fit_logistic(design: Design, y: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """Weights (BUCKETS) and bias minimising C·(log-loss) + ½‖w‖² (the bias not penalised):
    Newton's method, each step solved by conjugate gradients, with a backtracking line search.
    Only the columns the texts use are fitted; the others stay 0."""
    used, inverse = np.unique(design.columns, return_inverse=True)
    m, n = len(used), design.n
    rows, values = design.rows, design.values
    lam = 1.0 / c
    w, b = np.zeros(m), 0.0

    def logits(w: np.ndarray, b: float) -> np.ndarray:
        return np.bincount(rows, weights=values * w[inverse], minlength=n) + b

    def loss(w: np.ndarray, b: float) -> float:
        z = logits(w, b)
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * lam * (w @ w))

    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-np.clip(logits(w, b), -50, 50)))
        r = p - y
        gw = np.bincount(inverse, weights=values * r[rows], minlength=m) + lam * w
        gb = float(r.sum())
        if math.sqrt(gw @ gw + gb * gb) < 1e-6:
            break
        d = p * (1 - p)

        def hessian_times(vw: np.ndarray, vb: float, d: np.ndarray = d) -> tuple[np.ndarray, float]:
            t = d * (np.bincount(rows, weights=values * vw[inverse], minlength=n) + vb)
            return np.bincount(inverse, weights=values * t[rows], minlength=m) + lam * vw, float(
                t.sum() + 1e-8 * vb
            )

        sw, sb = np.zeros(m), 0.0
        rw, rb = -gw, -gb
        pw, pb = rw.copy(), rb
        rs = rw @ rw + rb * rb
        for _ in range(CG_STEPS):
            hw, hb = hessian_times(pw, pb)
            alpha = rs / (pw @ hw + pb * hb)
            sw, sb = sw + alpha * pw, sb + alpha * pb
            rw, rb = rw - alpha * hw, rb - alpha * hb
            new = rw @ rw + rb * rb
            if new < 1e-12:
                break
            pw, pb = rw + new / rs * pw, rb + new / rs * pb
            rs = new
        step, before, slope = 1.0, loss(w, b), gw @ sw + gb * sb
        while loss(w + step * sw, b + step * sb) > before + 1e-4 * step * slope and step > 1e-4:
            step /= 2
        w, b = w + step * sw, b + step * sb
    full = np.zeros(BUCKETS)
    full[used] = w
    return full, b


def fit_stacker(z: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[float, float, float]:
    """(a, share, c): sigmoid(a·z[:, 0] + share·z[:, 1] + c) fitted to the labels (Newton),
    with a slight L2 pull on a and share that keeps them finite where the labels separate."""
    x = np.column_stack([z, np.ones(len(z))])
    beta = np.zeros(3)
    pull = np.array([l2, l2, 0.0])
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -50, 50)))
        g = x.T @ (p - y) + pull * beta
        h = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pull + 1e-9)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(beta[0]), float(beta[1]), float(beta[2])


@dataclass(frozen=True, slots=True)
class CharModel:
    """One logistic regression per intent on the texts' character n-grams; `share` of each
    logit is added to the linear model's calibrated logit of that intent."""

    intents: tuple[str, ...]
    weights: np.ndarray  # BUCKETS × intents, float32
    bias: np.ndarray  # per intent
    share: np.ndarray  # per intent: the stacker's weight of this model's logit

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's logit of each intent (texts × intents)."""
        xs = [buckets(t) for t in texts]
        sizes = np.array([len(x) for x in xs], dtype=np.int64)
        out = np.tile(self.bias.astype(np.float64), (len(xs), 1))
        if sizes.sum():
            rows = np.repeat(np.arange(len(xs)), sizes)
            scale = np.repeat(1 / np.sqrt(np.maximum(sizes, 1)), sizes)
            summed = self.weights[np.concatenate(xs)].astype(np.float64) * scale[:, None]
            for k in range(len(self.intents)):
                out[:, k] += np.bincount(rows, weights=summed[:, k], minlength=len(xs))
        return out

    def added_logits(self, texts: Sequence[str], intents: Sequence[str]) -> np.ndarray:
        """What this model adds to each text's calibrated logit of each of `intents` (the
        linear model's, in its order): share · logit, 0 for an intent it does not read."""
        out = np.zeros((len(texts), len(intents)))
        mine = self.logits(texts) * self.share
        for k, intent in enumerate(self.intents):
            out[:, intents.index(intent)] = mine[:, k]
        return out

    def save(self, folder: Path) -> None:
        rows = np.flatnonzero(np.any(self.weights != 0, axis=1)).astype(np.int32)
        np.savez_compressed(
            folder / FILE,
            bits=np.array(BITS),
            intents=np.array(self.intents),
            rows=rows,
            values=self.weights[rows].astype(np.float32),
            bias=self.bias,
            share=self.share,
        )


def load(folder: Path) -> CharModel | None:
    """The character model of a model folder, None when it has none."""
    path = folder / FILE
    if not path.is_file():
        return None
    with np.load(path) as f:
        intents = tuple(str(i) for i in f["intents"])
        weights = np.zeros((BUCKETS, len(intents)), np.float32)
        weights[f["rows"]] = f["values"]
        return CharModel(intents, weights, f["bias"].astype(np.float64), f["share"].astype(float))
