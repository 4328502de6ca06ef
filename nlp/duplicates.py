"""Near-duplicates: syndicated articles and copy-pasted posts told apart from independent
mentions, so that the dashboard counts a story once and shows "also on N sites".

A mention's signature is a MinHash of its word triples (lower-cased words and numbers;
punctuation, links and emoji left out): HASHES minima of as many hash functions, so that the
share of equal minima between two signatures estimates the Jaccard similarity of the two texts'
triple sets. A new mention whose estimate against a stored mention (or one earlier in the
same batch) reaches SIMILAR joins that mention's story. Texts of fewer than MIN_WORDS words
get no signature: two people writing "Acme is down again" are two people.

Candidates are found by locality-sensitive hashing: the signature in BANDS bands of
HASHES / BANDS values; texts sharing any whole band are compared. Each story is represented by
its first mention (its head), whose band keys are stored with it: the store finds the stored
heads sharing a band with new mentions by a join, so a pass never loads weeks of signatures.
Within a pass, an in-memory index does the same; a band bucket there holds at most BUCKET_CAP
stories, so that boilerplate shared by many texts never makes a look-up compare thousands.
With 16 bands of 4, a pair of Jaccard 0.5 is compared with probability 0.64, of 0.7 with
0.98, of 0.8 with 0.9999.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # grouping stored mentions (band_keys, group) needs no spaCy
    from spacy.tokens import Doc

    from data.store import StoryHeads

MIN_WORDS = 12
HASHES, BANDS = 64, 16
SIMILAR = 0.6  # estimated Jaccard similarity of word triples from which two texts are one story
WINDOW_DAYS = 14  # stored mentions this recent are looked at
BUCKET_CAP = 32  # a band shared by more stories than this (boilerplate) stops taking more
SIGNATURE_BYTES = HASHES * 4

_rng = np.random.default_rng(20261123)  # fixed: signatures must be comparable across runs
_A = _rng.integers(1, 2**63, HASHES, dtype=np.uint64) | np.uint64(1)
_B = _rng.integers(0, 2**63, HASHES, dtype=np.uint64)
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def signature(doc: Doc) -> bytes | None:
    """The doc's MinHash signature (SIGNATURE_BYTES bytes), or None for a text too short to
    tell copies from coincidences."""
    from spacy.attrs import IS_ALPHA, IS_DIGIT, LOWER

    rows = doc.to_array([LOWER, IS_ALPHA, IS_DIGIT])
    return signatures(rows, np.array([0, len(rows)]))[0]


TRIPLES_AT_ONCE = 4096  # word triples hashed in one array (2 MB: it stays in the cache)


def signatures(rows: np.ndarray, starts: np.ndarray) -> list[bytes | None]:
    """signature() of many docs at once: `rows` are their tokens' [LOWER, IS_ALPHA, IS_DIGIT],
    one doc after another, doc d's at rows[starts[d]:starts[d + 1]]."""
    n = len(starts) - 1
    doc = np.repeat(np.arange(n), np.diff(starts))
    kept = (rows[:, 1] == 1) | (rows[:, 2] == 1)
    words, doc = rows[kept, 0].astype(np.uint64), doc[kept]
    counts = np.bincount(doc, minlength=n)
    out: list[bytes | None] = [None] * n
    # Array arithmetic on unsigned integers wraps modulo 2**64, silently: the point here.
    triples = words[:-2] * _MIX[0] ^ words[1:-1] * _MIX[1] ^ words[2:] * _MIX[2]
    first = np.cumsum(counts) - counts  # where each doc's words, and so its triples, begin
    signed = [d for d in range(n) if counts[d] >= MIN_WORDS]
    while signed:
        group, size = [], 0
        while signed and (not group or size + counts[signed[0]] <= TRIPLES_AT_ONCE):
            group.append(signed.pop(0))
            size += counts[group[-1]] - 2
        lengths = counts[group] - 2
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        mine = triples[np.repeat(first[group], lengths) + within]
        hashed = mine[:, None] * _A[None, :]
        hashed += _B[None, :]
        hashed >>= np.uint64(32)
        minima = np.minimum.reduceat(hashed, np.cumsum(lengths) - lengths, axis=0)
        for d, row in zip(group, minima.astype("<u4"), strict=True):
            out[d] = row.tobytes()
    return out


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' word triples."""
    return float(np.mean(np.frombuffer(a, "<u4") == np.frombuffer(b, "<u4")))


def similarities(a: bytes, others: Sequence[bytes]) -> list[float]:
    """similarity(a, b) for each b of `others`, at once."""
    rows = np.frombuffer(b"".join(others), "<u4").reshape(len(others), -1)
    return (rows == np.frombuffer(a, "<u4")).mean(axis=1).tolist()


def _rows(signatures: Sequence[bytes]) -> np.ndarray:
    """The signatures as rows of one array (HASHES values each)."""
    return np.frombuffer(b"".join(signatures), "<u4").reshape(len(signatures), HASHES)


_BAND_MIX = np.array([0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F], dtype=np.uint64)
_BAND_IDS = np.arange(BANDS, dtype=np.uint64) << np.uint64(56)


def band_keys(signatures: Sequence[bytes]) -> list[list[int]]:
    """For each signature, one int per band (which band, and a hash of its values): all at
    once, as numpy works best."""
    return band_array(signatures).tolist()


def band_array(signatures: Sequence[bytes]) -> np.ndarray:
    """band_keys() as one array, a row of BANDS keys (uint64) per signature: what the store
    and group() take without turning every key into a Python int."""
    if not signatures:
        return np.empty((0, BANDS), dtype=np.uint64)
    values = np.frombuffer(b"".join(signatures), "<u4").reshape(len(signatures), BANDS, -1)
    # (Array arithmetic on unsigned integers wraps modulo 2**64 silently, as wanted.)
    mixed = (values.astype(np.uint64) * _BAND_MIX).sum(axis=2)
    return mixed ^ _BAND_IDS


# Pairs of a batch's mentions sharing a band that group() compares at once (two arrays of
# this many signatures: 12 MB each).
PAIRS_AT_ONCE = 50_000
# (New mention, stored story head) pairs that group() compares at once: a batch has up to
# data.store.CANDIDATES_PER_MENTION per mention, which all at once would hold two arrays of
# that many signatures (at 8,000 mentions, 16 MB each) while the batch is written.
STORED_PAIRS_AT_ONCE = 8192


def _shared_bands(bands: np.ndarray, signatures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `bands` (one mention's keys): whether an earlier mention sharing a band
    with it is similar enough to be its story (else no index of earlier mentions could give it
    one); and for each of its keys, whether a later mention has it too (else no search, and no
    later head, would ever look at that key's bucket)."""
    n = len(bands)
    if not n or not bands.size:
        return np.zeros(n, dtype=bool), np.zeros(bands.shape, dtype=bool)
    flat = bands.reshape(-1)
    owner = np.repeat(np.arange(n), flat.size // n)
    order = np.argsort(flat, kind="stable")  # by band, then by mention (rows in order)
    band, owner = flat[order], owner[order]
    starts = np.flatnonzero(np.r_[True, band[1:] != band[:-1]])
    sizes = np.diff(np.r_[starts, len(band)])
    rank = np.arange(len(band)) - np.repeat(starts, sizes)  # earlier mentions in its band
    later = np.zeros(flat.size, dtype=bool)
    later[order] = rank < np.repeat(sizes, sizes) - 1
    later = later.reshape(n, -1)
    similar = np.zeros(n, dtype=bool)
    total = int(rank.sum())
    if total > 4 * n * BUCKET_CAP:  # boilerplate everywhere: let the index search them all
        similar[owner[rank > 0]] = True
        return similar, later
    # Every (mention, earlier mention) pair sharing a band, compared PAIRS_AT_ONCE at a time.
    first = np.repeat(starts, sizes)
    ends = np.cumsum(rank)  # pairs up to each position, included
    lo = 0
    while lo < len(band):
        hi = max(lo + 1, int(np.searchsorted(ends, ends[lo] - rank[lo] + PAIRS_AT_ONCE, "right")))
        at = np.arange(lo, hi)
        lo = hi
        counts = rank[at]
        mine = np.repeat(at, counts)
        theirs = np.repeat(first[at], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        i, j = owner[mine], owner[theirs]
        equal = (signatures[i] == signatures[j]).sum(axis=1)
        similar[i[equal / HASHES >= SIMILAR]] = True
    return similar, later


class Index:
    """Signatures with the story each belongs to, searchable by near match (in memory, for the
    mentions of one pass)."""

    def __init__(self) -> None:
        # band key → one row, or a list of rows: most bands are a single story's, and a dict
        # of hundreds of thousands of one-element lists would cost tens of MB.
        self._by_band: dict[int, int | list[int]] = {}
        self._signatures = np.empty((64, HASHES), dtype="<u4")
        self._keys: list[str] = []

    def add(self, sig: bytes | np.ndarray, key: str, bands: list[int]) -> None:
        values = np.frombuffer(sig, "<u4") if isinstance(sig, bytes) else sig
        row = len(self._keys)
        if row == len(self._signatures):
            self._signatures = np.concatenate([self._signatures, np.empty_like(self._signatures)])
        self._signatures[row] = values
        self._keys.append(key)
        for band in bands:
            bucket = self._by_band.get(band)
            if bucket is None:
                self._by_band[band] = row
            elif isinstance(bucket, int):
                self._by_band[band] = [bucket, row]
            elif len(bucket) < BUCKET_CAP:
                bucket.append(row)

    def story_of(self, sig: bytes | np.ndarray, bands: list[int]) -> str | None:
        """The story of the most similar signature reaching SIMILAR, if any."""
        rows: list[int] = []
        for bucket in map(self._by_band.get, bands):
            if bucket is None:
                continue
            if type(bucket) is int:
                rows.append(bucket)
            else:
                rows += bucket
        if not rows:  # most texts: no band shared with any story yet
            return None
        order = sorted(set(rows))  # the earliest of the most similar comes first
        values = np.frombuffer(sig, "<u4") if isinstance(sig, bytes) else sig
        equal = (self._signatures[order] == values).sum(axis=1)
        best = int(equal.argmax())
        return self._keys[order[best]] if int(equal[best]) / HASHES >= SIMILAR else None


@dataclass(frozen=True, slots=True)
class Grouping:
    keys: dict[str, str]  # mention id → the story it belongs to
    heads: dict[str, np.ndarray]  # mention id → band keys, for the mentions that begin a story


def group(
    incoming: Sequence[tuple[str, bytes, str]],
    bands: Sequence[Sequence[int]] | np.ndarray,
    stored: Iterable[tuple[int, bytes, str]] | StoryHeads = (),
    existing: Iterable[str] = (),
) -> Grouping:
    """The story of each new mention: (id, signature, own story key) with its `bands`
    (band_keys or band_array). `stored` are (index into incoming, signature, story key) of
    stored story heads sharing a band with that mention (the store finds them; or the same as
    arrays, data.store.StoryHeads); `existing` the own keys already stored. A mention keeps its
    own story when it is already stored (the same link), else joins the most similar stored
    head, else a near copy earlier in `incoming`, else begins a story of its own. The heads'
    bands come back as rows of one array (uint64)."""
    signatures = _rows([sig for _, sig, _ in incoming])
    if hasattr(stored, "fingerprints"):  # StoryHeads: arrays, each head's signature once
        at, head_of = stored.mentions.astype(np.intp), stored.heads
        theirs, head_keys = _rows(stored.fingerprints), stored.keys
    else:
        pairs = list(stored)
        at, head_of = np.array([i for i, _, _ in pairs], dtype=np.intp), np.arange(len(pairs))
        theirs, head_keys = _rows([sig for _, sig, _ in pairs]), [key for _, _, key in pairs]
    # similarity() of every new mention with each of its stored heads, STORED_PAIRS_AT_ONCE
    # pairs at a time; the heads of the mentions that one of them is similar enough to (the
    # others join none).
    by_index: dict[int, list[tuple[float, str]]] = {}  # index into incoming → (share, key)
    if len(at):
        shares = np.empty(len(at))
        for lo in range(0, len(at), STORED_PAIRS_AT_ONCE):
            part = slice(lo, lo + STORED_PAIRS_AT_ONCE)
            shares[part] = (theirs[head_of[part]] == signatures[at[part]]).sum(axis=1) / HASHES
        for k in np.flatnonzero(shares >= SIMILAR).tolist():
            by_index.setdefault(int(at[k]), []).append(
                (float(shares[k]), head_keys[int(head_of[k])])
            )
    keys_of = np.asarray(bands, dtype=np.uint64).reshape(len(incoming), -1 if incoming else 0)
    # The index is searched only for a mention sharing a band with an earlier one similar
    # enough, and holds only the bands of heads that a later mention has: for the others it
    # could answer nothing (most mentions of a batch), so they skip it, and the answers stay
    # those of the whole index.
    earlier, later = _shared_bands(keys_of, signatures)
    searched, indexed = earlier.tolist(), later.any(axis=1).tolist()
    taken = set(existing)
    index = Index()
    keys, heads = {}, {}
    for i, (mention_id, _, own) in enumerate(incoming):
        key = own if own in taken else None
        if key is None and i in by_index:
            key = max(by_index[i])[1]  # the most similar (of two, the greater key)
        if key is None and searched[i]:
            key = index.story_of(signatures[i], keys_of[i].tolist())
        if key is None:
            key = own
            if indexed[i]:
                index.add(signatures[i], key, keys_of[i][later[i]].tolist())
            heads[mention_id] = keys_of[i]
        keys[mention_id] = key
        taken.add(key)
    return Grouping(keys, heads)
