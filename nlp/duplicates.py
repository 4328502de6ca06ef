"""Near-duplicates: syndicated articles and copy-pasted posts told apart from independent
mentions, so that the dashboard counts a story once and shows "also on N sites".

A mention's signature is a MinHash of its word triples (lower-cased words and numbers;
punctuation, links and emoji left out): HASHES minima of as many hash functions, so that the
share of equal minima between two signatures estimates the Jaccard similarity of the two texts'
triple sets. A new mention whose estimate against a stored mention (or one earlier in the
same batch) reaches SIMILAR joins that mention's story. Texts of fewer than MIN_WORDS words
get no signature: two people writing "Acme is down again" are two people.

Candidates are found by locality-sensitive hashing: the signature in BANDS bands of
HASHES / BANDS values; texts sharing any whole band are compared. With 16 bands of 4, a pair
of Jaccard 0.5 is compared with probability 0.64, of 0.7 with 0.98, of 0.8 with 0.9999.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from spacy.attrs import IS_ALPHA, IS_DIGIT, LOWER
from spacy.tokens import Doc

MIN_WORDS = 12
HASHES, BANDS = 64, 16
SIMILAR = 0.6  # estimated Jaccard similarity of word triples from which two texts are one story
WINDOW_DAYS = 14  # stored mentions this recent are looked at
SIGNATURE_BYTES = HASHES * 4

_rng = np.random.default_rng(20261123)  # fixed: signatures must be comparable across runs
_A = _rng.integers(1, 2**63, HASHES, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 2**63, HASHES, dtype=np.uint64)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def signature(doc: Doc) -> bytes | None:
    """The doc's MinHash signature (SIGNATURE_BYTES bytes), or None for a text too short to
    tell copies from coincidences."""
    rows = doc.to_array([LOWER, IS_ALPHA, IS_DIGIT])
    words = rows[(rows[:, 1] == 1) | (rows[:, 2] == 1), 0].astype(np.uint64)
    if len(words) < MIN_WORDS:
        return None
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        triples = words[:-2] * _MIX[0] ^ words[1:-1] * _MIX[1] ^ words[2:] * _MIX[2]
        hashed = (triples[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)
    return hashed.min(axis=0).astype("<u4").tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' word triples."""
    return float(np.mean(np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4")))


def _bands(sig: bytes) -> Iterable[tuple[int, bytes]]:
    width = SIGNATURE_BYTES // BANDS
    for band in range(BANDS):
        yield band, sig[band * width : (band + 1) * width]


class Index:
    """Signatures with the story each belongs to, searchable by near match."""

    def __init__(self, known: Iterable[tuple[bytes, str]] = ()) -> None:
        self._by_band: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        self._signatures: list[np.ndarray] = []
        self._keys: list[str] = []
        for sig, key in known:
            self.add(sig, key)

    def add(self, sig: bytes, key: str) -> None:
        row = len(self._keys)
        self._signatures.append(np.frombuffer(sig, "<u4"))
        self._keys.append(key)
        for band in _bands(sig):
            self._by_band[band].append(row)

    def story_of(self, sig: bytes) -> str | None:
        """The story of the most similar signature reaching SIMILAR, if any."""
        rows = {r for band in _bands(sig) for r in self._by_band.get(band, ())}
        if not rows:
            return None
        order = sorted(rows)
        mine = np.frombuffer(sig, "<u4")
        shares = (np.stack([self._signatures[r] for r in order]) == mine).mean(axis=1)
        best = int(np.argmax(shares))
        return self._keys[order[best]] if shares[best] >= SIMILAR else None


def story_keys(
    incoming: Sequence[tuple[str, bytes, str]], known: Iterable[tuple[bytes, str]]
) -> dict[str, str]:
    """For (mention id, signature, own story key) of new mentions, the story key each should
    have: its own when stored mentions already share it (the same link), else that of a near
    copy stored or earlier in `incoming`, else its own."""
    known = list(known)
    taken = {key for _, key in known}
    index = Index(known)
    out = {}
    for mention_id, sig, own in incoming:
        key = own if own in taken else (index.story_of(sig) or own)
        out[mention_id] = key
        index.add(sig, key)
        taken.add(key)
    return out
