"""What the learned readings see of a text: hashed words, word pairs and lexicon signals.

One function turns a tokenized Doc into an array of feature indices (with repeats, which
count). Training (nlp/train.py) and scoring (nlp/model.py) both call it, so what was tuned
is what runs. It reads one array of token attributes and does array arithmetic only: about
20 µs a post, where spaCy's own bag-of-words classifier costs several times that.

- words and word pairs, lower-cased, with the start and end of the text as words of their own
  ("how …" at the start, "… ?" at the end); links, numbers and @handles each become one word;
- the lexicon's reading (nlp.sentiment, VADER's valences with negation, sarcasm, idioms): the
  overall score in nine steps and each clause's sign, so that words the training data never
  saw still carry their known feeling;
- a question mark anywhere, a shouted word, the length in five steps;
- each of the three words after a negator ("not", "n't", "never"…) once more as a negated
  word, so that "never came" and "not working" are told from "came" and "working";
- the first word after the @handles and "RT" a post opens with ("@acme how do I…" starts a
  question as "how do I…" does) and the first word of each sentence after the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
from spacy.attrs import IS_SPACE, IS_UPPER, LENGTH, LIKE_NUM, LIKE_URL, LOWER
from spacy.strings import hash_string
from spacy.tokens import Doc

from nlp.sentiment import NEGATORS

# Named anew whenever what of_doc returns for a text changes: cached features of another
# version are not used (nlp.train.FEATURE_CACHE).
VERSION = "words-pairs-lexicon-negation-openings-3"
BITS = 18
BUCKETS = 2**BITS
_SHIFT = np.uint64(64 - BITS)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PAIR = np.uint64(0xC2B2AE3D27D4EB4F)
_UNI, _BI = np.uint64(0x165667B19E3779F9), np.uint64(0x27D4EB2F165667C5)
_NEG = np.uint64(0x94D049BB133111EB)
NEGATION_SCOPE = 3  # words after a negator read as negated
_KEYS_IN_32_BITS = (2**31 - 1) // BUCKETS  # docs whose (doc, feature) keys fit in an int32


def _h(word: str) -> int:
    return hash_string(word)


URL, NUM, USER, AT = _h("<url>"), _h("<num>"), _h("<user>"), _h("@")
START, END = _h("<s>"), _h("</s>")
QUESTION_MARK = _h("?")
_NEGATORS = np.array(sorted(_h(w) for w in NEGATORS), dtype=np.uint64)
_PUNCTUATION = np.array(sorted(_h(p) for p in ".,;:!?"), dtype=np.uint64)
# What a post may open with before its first word: handles, a retweet's "RT @x:", links.
_OPENERS = np.array(sorted({_h("@"), _h("rt"), _h(":"), USER, URL}), dtype=np.uint64)
_STOPS = np.array(sorted(_h(p) for p in ".!?"), dtype=np.uint64)
OPENING, SENTENCE_START = _h("<opening>"), _h("<sentence>")
_SIGNALS = {
    name: _h(f"<signal:{name}>")
    for name in (
        *(f"lex{k}" for k in range(-4, 5)),
        "clause-",
        "clause+",
        "has?",
        "shout",
        *(f"len{k}" for k in range(5)),
    )
}

_LEX_SIGNALS = np.array([_SIGNALS[f"lex{k}"] for k in range(-4, 5)], dtype=np.uint64)
_LEN_SIGNALS = np.array([_SIGNALS[f"len{k}"] for k in range(5)], dtype=np.uint64)


def _bucket(hashes: np.ndarray, salt: np.uint64) -> np.ndarray:
    # Array arithmetic on unsigned integers wraps modulo 2**64: the point here.
    return (((hashes ^ salt) * _GOLDEN) >> _SHIFT).astype(np.int64)


def _within(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """np.isin for a small sorted set, without its set-up cost (which is most of it here)."""
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _openings(
    words: np.ndarray, doc: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The index in `words` of each doc's first word after the handles, "RT" and links it
    opens with (only where it opens with some), and of the first word of each sentence after
    the first. `doc` (each word's doc) is ascending."""
    first = np.cumsum(counts) - counts  # each doc's first word
    kept = np.flatnonzero(~_within(words, _OPENERS))
    # Each doc's first kept word (np.unique's first occurrences, `doc` being ascending).
    of_kept = doc[kept]
    at = (
        np.flatnonzero(np.concatenate(([True], of_kept[1:] != of_kept[:-1]))) if len(kept) else kept
    )
    docs_with = of_kept[at]
    lead = kept[at]
    lead = lead[lead > first[docs_with]]
    after = np.flatnonzero(_within(words[:-1], _STOPS) & (doc[:-1] == doc[1:])) + 1
    return lead, after


def _sentence_starts(words: np.ndarray, after: np.ndarray) -> np.ndarray:
    marks = np.full(len(after), SENTENCE_START, dtype=np.uint64)
    return _bucket(marks * _PAIR ^ words[after].astype(np.uint64), _BI)


def of_doc(doc: Doc, lexical: float, clause_values: list[float]) -> np.ndarray:
    """The feature indices of a doc (in [0, BUCKETS)), given the lexicon's normalized score
    and the raw valence of each clause."""
    rows = doc.to_array([LOWER, IS_SPACE, LIKE_URL, LIKE_NUM, IS_UPPER, LENGTH])
    rows = rows[rows[:, 1] == 0]
    words = rows[:, 0].copy()
    words[rows[:, 2] == 1] = URL
    words[rows[:, 3] == 1] = NUM
    if len(words) > 1:
        after_at = np.flatnonzero(words[:-1] == AT) + 1
        words[after_at] = USER
    framed = np.concatenate(([START], words, [END])).astype(np.uint64)
    pairs = framed[:-1] * _PAIR ^ framed[1:]
    signals = [
        _SIGNALS[f"lex{max(-4, min(4, round(lexical * 4)))}"],
        _SIGNALS[f"len{min(4, max(0, int(len(words)).bit_length() - 2))}"],
    ]
    signals += [_SIGNALS["clause-"] for v in clause_values if v < -0.5]
    signals += [_SIGNALS["clause+"] for v in clause_values if v > 0.5]
    if np.any(words == QUESTION_MARK):
        signals.append(_SIGNALS["has?"])
    if np.any((rows[:, 4] == 1) & (rows[:, 5] > 2)):
        signals.append(_SIGNALS["shout"])
    negator = _within(words, _NEGATORS)
    negated = np.zeros(0, dtype=np.uint64)
    if negator.any():
        scope = np.zeros(len(words), dtype=bool)
        for k in range(1, NEGATION_SCOPE + 1):
            scope[k:] |= negator[:-k]
        negated = words[scope & ~negator & ~_within(words, _PUNCTUATION)].astype(np.uint64)
    lead, after = _openings(words, np.zeros(len(words), dtype=np.int64), np.array([len(words)]))
    # A post opening with handles opens, for the pairs, where its words do: "@acme my card…"
    # as "my card…" (the pair of the start and that word, as `pairs` makes it).
    openings = framed[:1] * _PAIR ^ framed[1 + lead]
    # Each feature once (presence, not count): a long article, or a word repeated a thousand
    # times, must not sum one word's weight into a certainty.
    return np.unique(
        np.concatenate(
            (
                _bucket(framed[1:-1], _UNI),
                _bucket(pairs, _BI),
                _bucket(negated, _NEG),
                _bucket(np.array(signals, dtype=np.uint64), _UNI),
                _bucket(openings, _BI),
                _sentence_starts(words, after),
            )
        )
    )


def of_docs(
    rows: np.ndarray,
    starts: np.ndarray,
    lexical: Sequence[float] | np.ndarray,
    clause_values: Sequence[Sequence[float]] | np.ndarray,
    clause_counts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """of_doc for many docs at once, as one array: `rows` are the docs' tokens' [LOWER,
    IS_SPACE, LIKE_URL, LIKE_NUM, IS_UPPER, LENGTH], one doc after another, doc d's at
    rows[starts[d]:starts[d + 1]]. Doc d's feature indices are indices[offsets[d]:offsets[d + 1]],
    the same, in the same order, as of_doc gives for it (tests hold the two together).
    `clause_values` are each doc's, or, with `clause_counts` (how many each doc has), all
    docs' one after another in one array."""
    n = len(starts) - 1
    doc = np.repeat(np.arange(n), np.diff(starts))
    kept = rows[:, 1] == 0
    rows, doc = rows[kept], doc[kept]
    words = rows[:, 0].copy()
    words[rows[:, 2] == 1] = URL
    words[rows[:, 3] == 1] = NUM
    same_doc = doc[:-1] == doc[1:]
    if len(words) > 1:
        words[np.flatnonzero((words[:-1] == AT) & same_doc) + 1] = USER
    counts = np.bincount(doc, minlength=n)
    # of_doc frames each doc's words as np.concatenate(([START], words, [END])), which numpy
    # makes float64 (START is above 2**63, so its array is uint64 beside END's int64): the
    # framed words are those rounded to float64 and back, and so must they be here.
    framed = np.empty(len(words) + 2 * n, dtype=np.float64)
    first = np.cumsum(counts + 2) - counts - 2
    inner = np.ones(len(framed), dtype=bool)
    inner[first] = inner[first + counts + 1] = False
    framed[first] = np.float64(START)
    framed[first + counts + 1] = np.float64(END)
    framed[inner] = words
    framed = framed.astype(np.uint64)
    pairs = (framed[:-1] * _PAIR ^ framed[1:])[np.delete(np.arange(len(framed) - 1), first[1:] - 1)]
    pair_doc = np.repeat(np.arange(n), counts + 1)
    negator = _within(words, _NEGATORS)
    scope = np.zeros(len(words), dtype=bool)
    for k in range(1, NEGATION_SCOPE + 1):
        scope[k:] |= negator[:-k] & (doc[k:] == doc[:-k])
    negated = scope & ~negator & ~_within(words, _PUNCTUATION)
    asks = np.bincount(doc[words == QUESTION_MARK], minlength=n)
    shouts = np.bincount(doc[(rows[:, 4] == 1) & (rows[:, 5] > 2)], minlength=n)
    # Each doc's signals, as of_doc makes them (a clause's sign once: each feature counts once).
    lex = np.clip(np.round(np.asarray(lexical, dtype=np.float64) * 4), -4, 4).astype(np.int64)
    length = np.clip(np.frexp(counts)[1] - 2, 0, 4)  # frexp's exponent: int.bit_length()
    if clause_counts is None:
        sizes = np.fromiter(map(len, clause_values), np.int64, n)
        values = np.fromiter(chain.from_iterable(clause_values), np.float64, int(sizes.sum()))
    else:
        sizes, values = clause_counts, np.asarray(clause_values, dtype=np.float64)
    of_clause = np.repeat(np.arange(n), sizes)
    has = {
        "clause-": np.bincount(of_clause[values < -0.5], minlength=n) > 0,
        "clause+": np.bincount(of_clause[values > 0.5], minlength=n) > 0,
        "has?": asks > 0,
        "shout": shouts > 0,
    }
    signal_doc = np.concatenate(
        [np.arange(n), np.arange(n), *(np.flatnonzero(mask) for mask in has.values())]
    )
    signals = np.concatenate(
        [
            _LEX_SIGNALS[lex + 4],
            _LEN_SIGNALS[length],
            *(np.full(int(mask.sum()), _SIGNALS[name], np.uint64) for name, mask in has.items()),
        ]
    )
    lead, after = _openings(words, doc, counts)
    lead_doc = doc[lead]
    # framed holds doc d's START at first[d] and its word g at g + 2d + 1.
    openings = framed[first[lead_doc]] * _PAIR ^ framed[lead + 2 * lead_doc + 1]
    keys = np.concatenate(
        (
            doc * BUCKETS + _bucket(framed[inner], _UNI),
            pair_doc * BUCKETS + _bucket(pairs, _BI),
            doc[negated] * BUCKETS + _bucket(words[negated].astype(np.uint64), _NEG),
            signal_doc.astype(np.int64) * BUCKETS + _bucket(signals, _UNI),
            lead_doc * BUCKETS + _bucket(openings, _BI),
            doc[after] * BUCKETS + _sentence_starts(words, after),
        )
    )
    # Sorted as 32-bit integers where they fit (twice as fast as 64-bit ones).
    keys = np.sort(keys.astype(np.int32) if n <= _KEYS_IN_32_BITS else keys)
    # Each (doc, feature) once, as np.unique; sorting alone is much faster on this many.
    if keys.size:  # none when there is no doc (a batch whose posts have no sentence to read)
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    offsets = np.searchsorted(keys, np.arange(n + 1) * BUCKETS)
    return (keys % BUCKETS).astype(np.int64), offsets
