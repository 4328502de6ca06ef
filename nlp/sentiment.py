"""Lexicon sentiment as a spaCy component.

The valences come from VADER's lexicon (MIT licence, shipped in the `vaderSentiment` package);
the rules (negation, intensifiers, ALL CAPS, "but" clauses, exclamation marks) follow VADER's,
applied to spaCy tokens so that they cost one dict look-up per token.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from operator import itemgetter

import numpy as np
from spacy.attrs import IS_SPACE, IS_UPPER, LENGTH, LOWER
from spacy.language import Language
from spacy.strings import StringStore
from spacy.tokens import Doc

from nlp.needed import Joined, quick_search
from nlp.tokenizer import Text, Tokens, char_starts, text_of, tokens_of

NEGATORS = frozenset(
    "not n't no never none nobody nothing neither nor nowhere cannot without hardly "
    "aint isnt arent wasnt werent dont doesnt didnt cant couldnt wont wouldnt shouldnt".split()
)
BOOSTERS = frozenset(
    "absolutely amazingly awfully completely considerably decidedly deeply enormously entirely "
    "especially exceptionally extremely fabulously flipping fully greatly highly hugely "
    "incredibly intensely majorly more most particularly purely quite really remarkably so "
    "substantially super thoroughly totally tremendously uber unbelievably unusually utterly "
    "very".split()
)
DAMPENERS = frozenset("almost barely hardly kinda less little marginally slightly somewhat".split())
BOOST, CAPS_BOOST, NEGATION = 0.293, 0.733, -0.74
POSITIVE_AT, NEGATIVE_AT = 0.05, -0.05
LEXICON_LEADS = 0.5  # from this normalized lexicon score, its sign is the label (see reading)
MODEL_SURE = 0.65

# The emoji people use most, valued by hand on VADER's -4..4 scale: reading them by the words of
# their names gets some wrong ("thumbs up sign" carries no feeling; "fire" is praise online).
EMOJI = {
    "👍": 1.8, "👎": -1.8, "🔥": 1.5, "💩": -2.2, "😡": -2.8, "🤬": -3.2, "😠": -2.4,
    "😤": -1.8, "😢": -2.0, "😭": -1.8, "🙄": -1.5, "😒": -1.8, "🤮": -2.8, "😞": -2.0,
    "😔": -1.8, "😩": -2.0, "😫": -2.0, "💔": -2.4, "❤": 2.8, "❤️": 2.8, "♥": 2.5, "💯": 1.8,
    "🎉": 2.2, "🙌": 2.0, "👏": 1.8, "😊": 2.2, "😀": 2.0, "😁": 2.0, "😂": 1.2, "🤣": 1.2,
    "😍": 3.0, "🥰": 3.0, "😘": 2.2, "🤩": 2.8, "😎": 1.5, "🙏": 1.2, "✅": 0.8, "❌": -1.2,
    "🐛": -1.0, "😕": -1.2, "😬": -1.0, "🤦": -1.8, "🤷": -0.3, "💀": -0.5, "🚀": 1.5,
}  # fmt: skip
# Words about software and service that VADER's lexicon (built on general social text) lacks,
# valued by hand on its scale. Mentions of a product are full of them.
PRODUCT_WORDS = {
    "crashes": -1.8, "crashed": -1.8, "crashing": -1.8, "buggy": -1.8, "bugs": -1.0,
    "laggy": -1.5, "glitchy": -1.5, "glitch": -1.2, "glitches": -1.2, "outage": -2.0,
    "downtime": -1.5, "unusable": -2.5, "unresponsive": -1.5, "bricked": -2.5, "flaky": -1.5,
    "unreliable": -1.8, "clunky": -1.5, "overpriced": -1.8, "ripoff": -2.2, "slow": -1.0,
    "reliable": 1.5, "intuitive": 1.8, "seamless": 1.8, "smooth": 1.2, "snappy": 1.5,
    "fixed": 0.8, "lifesaver": 2.5,
}  # fmt: skip
# Phrases whose feeling is not that of their words, valued as a whole (on the first token).
IDIOMS = {
    "is a joke": -2.8, "such a joke": -2.2, "is down": -1.5, "is down again": -2.0,
    "was down": -1.5, "went down": -1.2, "are down": -1.2, "what a joke": -2.2,
    "never fails to disappoint": -2.5,
    "fails to impress": -1.5, "not a fan": -1.5, "waste of time": -2.0, "waste of money": -2.2,
    "rip off": -2.2, "ripoff": -2.2, "rip-off": -2.2, "game changer": 2.5, "game-changer": 2.5,
    "life saver": 2.5, "lifesaver": 2.5, "works like a charm": 2.5, "to die for": 2.5,
    "the bomb": 2.2, "no joke": 0.0, "kind of": 0.0, "sort of": 0.0,
}  # fmt: skip
_IDIOMS = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(i) for i in sorted(IDIOMS, key=len, reverse=True)) + r")(?!\w)"
)
# Markers of sarcasm: with one, praise words read as their opposite ("Oh great, another outage
# 🙄"), as strongly as they praise: at half strength (before rules-17) "Nimbus Notes is the best
# /s" read -0.38, and was negative only while the model hesitated, a rule it cannot learn.
_SARCASM = re.compile(
    r"🙄|😒|🙃|#sarcasm|(?:^|\s)/s\b|\byeah,? right\b|\boh,? (?:great|wonderful|joy|perfect|"
    r"fantastic|good)\b|\bjust what i needed\b|\bthanks for nothing\b|\bwhat a surprise\b|"
    r"\bthanks a lot\b.*\b(?:broke|lost|crash|down|fail)"
)
SARCASM_FLIP = -1.0


_sarcastic = quick_search(_SARCASM)
_has_idiom = quick_search(_IDIOMS)

if not Doc.has_extension("sentiment"):
    Doc.set_extension("sentiment", default=0.0)
if not Doc.has_extension("clauses"):
    Doc.set_extension("clauses", default=[])


@cache
def lexicon() -> dict[str, float]:
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    valences = {}
    for line in text.splitlines():
        word, _, rest = line.partition("\t")
        if rest:
            valences[word] = float(rest.split("\t", 1)[0])
    return valences


@cache
def emoji_valences() -> dict[str, float]:
    """Emoji as VADER reads them: the valence of the words of their name ("😍": smiling face
    with heart-shaped eyes). Emoji whose names carry no feeling are left out."""
    words = lexicon()
    text = resources.files("vaderSentiment").joinpath("emoji_utf8_lexicon.txt").read_text("utf-8")
    valences = {}
    for line in text.splitlines():
        emoji, _, name = line.partition("\t")
        v = sum(words.get(w, 0.0) for w in name.lower().replace("-", " ").split())
        if emoji and v:
            valences[emoji] = max(-4.0, min(4.0, v))
    return valences | EMOJI


def label(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


class _Hashed:
    """The lexicons keyed by the vocabulary's string hashes, so that scoring a doc reads one
    array of token attributes and never builds a Token object."""

    def __init__(self, strings: StringStore) -> None:
        def h(words: Iterable[str]) -> set[int]:
            return {strings.add(w) for w in words}

        self.valence = {strings.add(w): v for w, v in lexicon().items()}
        for emoji, v in emoji_valences().items():
            self.valence.setdefault(strings.add(emoji), v)
        for word, v in PRODUCT_WORDS.items():
            self.valence.setdefault(strings.add(word), v)
        self.negators, self.boosters, self.dampeners = h(NEGATORS), h(BOOSTERS), h(DAMPENERS)
        self.but = strings.add("but")
        self.bang = strings.add("!")
        self.stops = h([".", "!", "?"])
        self.stop_array = np.array(sorted(self.stops), dtype=np.uint64)
        self.booster_array = np.array(sorted(self.boosters), dtype=np.uint64)
        self.dampener_array = np.array(sorted(self.dampeners), dtype=np.uint64)
        self.negator_array = np.array(sorted(self.negators), dtype=np.uint64)

        # Words met so far (sorted) and their valences (NaN: none), for valences(): one
        # tuple, replaced whole, so that another thread reads either the old or the new one.
        self._met: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.uint64), np.zeros(0))

    def valences(self, words: np.ndarray) -> np.ndarray:
        """The lexicon's valence of each of these word hashes, NaN where it has none: each
        word looked up in the dict once, then remembered (a batch's words are mostly known)."""
        met, valences = self._met
        at = np.searchsorted(met, words)
        known = met[np.minimum(at, len(met) - 1)] == words if len(met) else at < 0
        if not known.all():
            new = np.unique(words[~known])
            get = self.valence.get
            found = np.array([get(w, np.nan) for w in new.tolist()], dtype=np.float64)
            if len(met) > _WORDS_REMEMBERED:
                met, valences = met[:0], valences[:0]
            met, valences = np.concatenate((met, new)), np.concatenate((valences, found))
            order = np.argsort(met, kind="stable")
            met, valences = met[order], valences[order]
            self._met = (met, valences)
            at = np.searchsorted(met, words)
        return valences[at]


_hashed: dict[int, _Hashed] = {}
_WORDS_REMEMBERED = 200_000  # distinct words whose valence _Hashed.valences remembers


def around(doc: Doc, positions: list[int]) -> float:
    """A score in [-1, 1] for the clauses (sentence parts) holding any of the token positions:
    how the text feels about one entity, not about everything it mentions."""
    return feeling_near(doc._.clauses, doc._.sentiment, positions)


def feeling_near(
    clauses: list[tuple[int, int, float]], overall: float, positions: list[int]
) -> float:
    """around() from a doc's clauses and its sentiment score."""
    # The clauses follow one another: each position is in the last clause starting at or
    # before it, if in any (summed in the clauses' order, as they stand).
    holding = set()
    for p in positions:
        i = bisect_right(clauses, p, key=_first) - 1
        if i >= 0 and p < clauses[i][1]:
            holding.add(i)
    near = sum(clauses[i][2] for i in sorted(holding))
    # The learned model reads the whole doc, not one entity's clauses: it speaks for an
    # entity only where the lexicon finds no feeling in the clauses that name it.
    return normalize(near) if near else overall


_first = itemgetter(0)


def normalize(total: float) -> float:
    return total / math.sqrt(total * total + 15.0)


def clauses(doc: Doc) -> list[tuple[int, int, float]]:
    """(first token, token after the last, raw valence) of each clause of the doc."""
    rows = _rows(doc.to_array([LOWER, IS_SPACE, IS_UPPER, LENGTH]))
    return _clauses_of(doc, _lexicon(doc), len(rows), lambda: _every_token(rows))


def _rows(array: np.ndarray) -> list[tuple[int, ...]]:
    """array.tolist(), column by column: tolist() of a 2-D array of large integers (hashes)
    is many times slower."""
    return list(zip(*(array[:, k].tolist() for k in range(array.shape[1])), strict=True))


def clauses_of(
    docs: Sequence[Doc] | Sequence[Text],
    tokens: Tokens | None = None,
    read: tuple[Sequence[str], Sequence[bool], Sequence[bool]] | None = None,
) -> list[list[tuple[int, int, float]]]:
    """clauses() of each doc; `tokens` are the docs' (nlp.tokenizer.tokens_of), if at hand.

    Made for all docs at once, with array arithmetic: where each clause begins and ends, each
    valued word's valence after the rules (sarcasm, capitals, boosters, negators), and each
    clause's sum, added in the words' order as _clauses_of adds them. A doc holding an idiom
    (a phrase valued as a whole) is read by _clauses_of, token by token. `read`: the texts
    lower-cased, and whether each is sarcastic and holds an idiom, when known."""
    if not docs:
        return []
    tokens = tokens_of(docs) if tokens is None else tokens
    lex = _lexicon(docs[0])
    texts = [text_of(doc) for doc in docs]
    if read is None:
        # The sarcasm and idiom patterns' needed strings looked for in all texts at once.
        joined = Joined([text.lower() for text in texts])
        read = (joined.texts, joined.search(_SARCASM), joined.search(_IDIOMS))
    lows, sarcastic, idiomatic = read
    out = _clauses_of_all(lex, tokens, texts, sarcastic)
    for d in (d for d, holds in enumerate(idiomatic) if holds):
        base, end = int(tokens.starts[d]), int(tokens.starts[d + 1])
        rows = _rows(tokens.rows[base:end, :4])
        mine = (texts[d], lows[d], sarcastic[d], True)
        out[d] = _clauses_of(docs[d], lex, end - base, lambda r=rows: _every_token(r), None, mine)
    return out


# Whether sum() of floats adds them one after another (Python 3.11; 3.12 compensates for
# rounding): the batch's clause sums are made the same way, or by sum() itself.
_PLAIN_SUM = sum([1e16, 1.0, -1e16]) == 0.0


def _clauses_of_all(
    lex: _Hashed, tokens: Tokens, texts: Sequence[str], sarcastic: Sequence[bool]
) -> list[list[tuple[int, int, float]]]:
    """_clauses_of of every doc (as if none held an idiom), from the docs' tokens at once."""
    rows, starts = tokens.rows, tokens.starts
    n_docs, n = len(starts) - 1, len(rows)
    if not n:
        return [[] for _ in range(n_docs)]
    words = rows[:, 0]
    sizes = np.diff(starts)
    doc_of = np.repeat(np.arange(n_docs), sizes)
    firsts, lasts = starts[:-1][sizes > 0], starts[1:][sizes > 0] - 1
    ends = (rows[:, 1] == 1) | _within(words, lex.stop_array)
    ends[lasts] = True
    # A clause begins a doc, follows the end of one, or begins at a "but" inside one.
    after_end = np.empty(n, dtype=bool)
    after_end[0] = True
    after_end[1:] = ends[:-1]
    after_end[firsts] = True
    split = (words == lex.but) & ~after_end
    begins = after_end | split
    clause_of = np.cumsum(begins) - 1
    first_of_clause = np.flatnonzero(begins)
    n_clauses = len(first_of_clause)
    end_of_clause = np.append(first_of_clause[1:], n)
    after_but = split[first_of_clause]
    ended_by_but = np.append(split[first_of_clause[1:]], False)
    # As in VADER, what follows "but" counts more (1.5) than what precedes it (0.5).
    scale = np.where(after_but, 1.5, np.where(ended_by_but, 0.5, 1.0))
    bangs = np.bincount(clause_of[words == lex.bang], minlength=n_clauses)
    # The valued words, and their valence after the rules, as _clauses_of applies them.
    valence = lex.valences(words)
    at = np.flatnonzero(~np.isnan(valence) & (valence != 0.0) & ~_within(words, lex.booster_array))
    v = valence[at]
    doc = doc_of[at]
    flip = np.array(sarcastic, dtype=bool)[doc] & (v > 0)
    v = np.where(flip, v * SARCASM_FLIP, v)
    sign = np.where(v > 0, 1.0, -1.0)
    shouting_is_rare = np.array([not text.isupper() for text in texts], dtype=bool)
    caps = shouting_is_rare[doc] & (rows[at, 2] != 0) & (rows[at, 3] > 1)
    v = np.where(caps, v + CAPS_BOOST * sign, v)
    within = at - first_of_clause[clause_of[at]]  # the words before it in its clause
    prev = [words[np.maximum(at - k, 0)] for k in (1, 2, 3)]
    boosted = (within >= 1) & _within(prev[0], lex.booster_array)
    dampened = (within >= 1) & ~boosted & _within(prev[0], lex.dampener_array)
    v = np.where(boosted, v + BOOST * sign, np.where(dampened, v - BOOST * sign, v))
    negated = np.zeros(len(at), dtype=bool)
    for k in (1, 2, 3):
        negated |= (within >= k) & _within(prev[k - 1], lex.negator_array)
    v = np.where(negated, v * NEGATION, v)
    clause = clause_of[at]
    v = v * scale[clause]
    counts = np.bincount(clause, minlength=n_clauses)
    total = sums(v, counts)
    total = np.where(total != 0.0, total + np.copysign(0.292 * np.minimum(4, bangs), total), total)
    base = starts[doc_of[first_of_clause]]
    every = list(
        zip(
            (first_of_clause - base).tolist(),
            (end_of_clause - base).tolist(),
            total.tolist(),
            strict=True,
        )
    )
    bounds = np.searchsorted(first_of_clause, starts).tolist()
    return [every[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sum() of each group of values: `values` are the groups' one after another, group g
    holding counts[g] of them; each added in order as sum() adds them (0.0 for none)."""
    total = np.zeros(len(counts))
    if not _PLAIN_SUM:
        bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
        listed = values.tolist()
        for g in np.flatnonzero(counts).tolist():
            total[g] = sum(listed[bounds[g] : bounds[g + 1]])
        return total
    firsts = np.cumsum(counts) - counts
    for k in range(int(counts.max()) if len(counts) else 0):
        g = np.flatnonzero(counts > k)
        total[g] += values[firsts[g] + k]
    return total


def normalized(totals: np.ndarray) -> np.ndarray:
    """normalize() of each total."""
    return totals / np.sqrt(totals * totals + 15.0)


def _within(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in the sorted array (np.isin without its set-up cost)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _lexicon(doc: Doc | Text) -> _Hashed:
    lex = _hashed.get(id(doc.vocab.strings))
    if lex is None:
        lex = _hashed[id(doc.vocab.strings)] = _Hashed(doc.vocab.strings)
    return lex


def _every_token(rows: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """(index, LOWER, IS_SPACE, IS_UPPER, LENGTH, the LOWER of the three tokens before) of
    every token, from its rows."""
    return [
        (i, *row, *(rows[i - k][0] if i >= k else 0 for k in (1, 2, 3)))
        for i, row in enumerate(rows)
    ]


def _clauses_of(
    doc: Doc | Text,
    lex: _Hashed,
    n: int,
    every: Callable[[], list[tuple[int, ...]]],
    seen: list[tuple[int, ...]] | None = None,
    read: tuple[str, str, bool, bool] | None = None,
) -> list[tuple[int, int, float]]:
    """The clauses of a doc of `n` tokens from its tokens as _every_token gives them: `seen`,
    the ones that can change a clause, else `every()` one (always where an idiom stands).
    `read`: its text, lower-cased text, and whether it is sarcastic and holds an idiom, when
    found with its batch's."""
    if read is None:
        text = text_of(doc)
        low = text.lower()
        read = (text, low, _sarcastic(low), _has_idiom(low))
    text, low, sarcastic, idiomatic = read
    shouting_is_rare = not text.isupper()
    idioms: dict[int, float] = {}  # token index → the valence of the idiom it starts (or 0)
    if idiomatic:
        starts = char_starts(doc)
        for found in _IDIOMS.finditer(low):
            first = bisect_right(starts, found.start()) - 1
            last = bisect_right(starts, found.end() - 1) - 1
            idioms[first] = IDIOMS[found.group(1)]
            for k in range(first + 1, last + 1):
                idioms[k] = 0.0
    if idioms or seen is None:  # an idiom's words are valued as a whole: every token is read
        seen = every()
    out, start, values, bangs, after_but = [], 0, [], 0, False
    for i, lower, space, upper, length, *prevs in seen:
        if lower == lex.but and i > start:
            # "X is awful but Y is fine": two clauses, one per entity; as in VADER, what
            # follows "but" counts more (1.5) than what precedes it (0.5).
            out.append(
                (start, i, _clause([v * (1.5 if after_but else 0.5) for v in values], bangs))
            )
            start, values, bangs, after_but = i, [], 0, True
        elif lower == lex.bang:
            bangs += 1
        v = idioms.get(i, lex.valence.get(lower)) if idioms else lex.valence.get(lower)
        if sarcastic and v is not None and v > 0:
            v *= SARCASM_FLIP
        if v is not None and v != 0.0 and lower not in lex.boosters:
            sign = 1.0 if v > 0 else -1.0
            if shouting_is_rare and upper and length > 1:
                v += CAPS_BOOST * sign
            for back in range(1, min(4, i - start + 1)):
                prev = prevs[back - 1]
                if back == 1 and prev in lex.boosters:
                    v += BOOST * sign
                elif back == 1 and prev in lex.dampeners:
                    v -= BOOST * sign
                if prev in lex.negators:
                    v *= NEGATION
                    break
            values.append(v)
        if space or lower in lex.stops or i == n - 1:  # the end of a clause
            scale = 1.5 if after_but else 1.0
            out.append((start, i + 1, _clause([v * scale for v in values], bangs)))
            start, values, bangs, after_but = i + 1, [], 0, False
    return out


def _clause(values: list[float], bangs: int) -> float:
    clause = sum(values)
    if clause:
        clause += math.copysign(0.292 * min(4, bangs), clause)
    return clause


@dataclass(frozen=True, slots=True)
class Decision:
    """How the lexicon's and the model's readings make a label and a score, chosen on
    development data when the model is trained (nlp.train.pick_decision) and stored with it.

    `offsets` are added to the log-probabilities of negative, neutral and positive before the
    most likely is taken; `silent_neutral` is added to neutral where the lexicon finds no
    feeling at all (most such posts are neutral: "going to the store now @anna" is not
    negative however the words lean), except to a post whose complaint confidence reaches
    `complaint_from` (a reported problem: "parcel left with a neighbour I've never met" is
    negative, as people label it, though no word of it is; 2.0, the default, is never
    reached, as models trained before it was chosen read); `lexicon_share` is the lexicon's
    part in the score's strength, the model's P(positive) - P(negative) the rest."""

    offsets: tuple[float, float, float] = (0.0, 0.0, 0.0)
    silent_neutral: float = 0.0
    lexicon_share: float = 0.5
    complaint_from: float = 2.0


def readings(
    lexical: np.ndarray,
    probs: np.ndarray,
    decision: Decision,
    complaint: np.ndarray | None = None,
) -> np.ndarray:
    """The score in [-1, 1] of each text from the lexicon's score (n,), the learned model's
    P(negative), P(neutral), P(positive) (n × 3) and its complaint confidence (n,; 0 when not
    given).

    The label is the model's most likely class after the decision's offsets (the model sees
    the lexicon's score among its features). Where the lexicon is confident (|score| ≥
    LEXICON_LEADS, or half that when the model's most likely class has less than
    MODEL_SURE) its sign decides instead: negation ("not bad at all"), emoji, sarcasm
    markers and idioms are rules a bag of words cannot learn from this data. The strength
    mixes the lexicon's score and P(positive) - P(negative), kept inside the label's part of
    the scale, so that a neutral text stays near 0 and label(score) is the label; where the
    strength leans against the label, the label is neutral."""
    lexical = np.asarray(lexical, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    logp = np.log(np.maximum(probs, 1e-12)) + np.asarray(decision.offsets)
    silent = lexical == 0.0
    if complaint is not None:
        silent &= np.asarray(complaint, dtype=np.float64) < decision.complaint_from
    logp[:, 1] += np.where(silent, decision.silent_neutral, 0.0)
    label = logp.argmax(axis=1) - 1  # -1 negative, 0 neutral, 1 positive
    hesitant = probs.max(axis=1) < MODEL_SURE
    strong = np.abs(lexical)
    leads = (strong >= LEXICON_LEADS) | (hesitant & (strong >= LEXICON_LEADS / 2))
    label = np.where(leads, np.sign(lexical), label)
    share = decision.lexicon_share
    strength = share * lexical + (1 - share) * (probs[:, 2] - probs[:, 0])
    # A label whose strength leans the other way would show as "positive 0.05". Where the
    # lexicon decided, its own score is the strength; where the model did, the readings
    # disagree, so neutral.
    against = label * strength < 0
    strength = np.where(against & leads, lexical, strength)
    label = np.where(against & ~leads, 0, label)
    return np.where(
        label > 0,
        np.maximum(POSITIVE_AT, strength),
        np.where(
            label < 0,
            np.minimum(NEGATIVE_AT, strength),
            np.clip(0.1 * strength, NEGATIVE_AT + 0.01, POSITIVE_AT - 0.01),
        ),
    )


def reading(
    lexical: float,
    negative: float,
    neutral: float,
    positive: float,
    decision: Decision = Decision(),
    complaint: float = 0.0,
) -> float:
    """The score of one text: readings for one row, in plain arithmetic (numpy costs more
    than the model itself on one row; tests hold the two to the same answers)."""
    probs = (negative, neutral, positive)
    logp = [math.log(max(p, 1e-12)) + o for p, o in zip(probs, decision.offsets, strict=True)]
    if lexical == 0.0 and complaint < decision.complaint_from:
        logp[1] += decision.silent_neutral
    label = max(range(3), key=lambda k: (logp[k], -k)) - 1  # argmax, first on ties
    strong = abs(lexical)
    leads = strong >= LEXICON_LEADS or (max(probs) < MODEL_SURE and strong >= LEXICON_LEADS / 2)
    if leads:
        label = int(lexical > 0) - int(lexical < 0)
    share = decision.lexicon_share
    strength = share * lexical + (1 - share) * (positive - negative)
    if label * strength < 0:
        if leads:
            strength = lexical
        else:
            label = 0
    if label > 0:
        return max(POSITIVE_AT, strength)
    if label < 0:
        return min(NEGATIVE_AT, strength)
    return max(NEGATIVE_AT + 0.01, min(POSITIVE_AT - 0.01, 0.1 * strength))


@Language.component("tidings_sentiment")
def sentiment_component(doc: Doc) -> Doc:
    doc._.clauses = clauses(doc)
    # The lexicon's reading; the learned model's component (nlp.model), when the pipeline has
    # one, replaces it with both together (see reading).
    doc._.sentiment = normalize(sum(raw for _, _, raw in doc._.clauses))
    return doc
