"""Lexicon sentiment as a spaCy component.

The valences come from VADER's lexicon (MIT licence, shipped in the `vaderSentiment` package);
the rules (negation, intensifiers, ALL CAPS, "but" clauses, exclamation marks) follow VADER's,
applied to spaCy tokens so that they cost one dict look-up per token.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources

from spacy.language import Language
from spacy.tokens import Doc

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

if not Doc.has_extension("sentiment"):
    Doc.set_extension("sentiment", default=0.0)


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
    return valences


def label(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def polarity(doc: Doc) -> float:
    """A score in [-1, 1] for the whole doc."""
    lex = lexicon()
    emoji = emoji_valences()
    shouting_is_rare = not doc.text.isupper()
    total = 0.0
    for sent_start, sent_end in _clauses(doc):
        values: list[float] = []
        but_at = None
        for i in range(sent_start, sent_end):
            token = doc[i]
            lower = token.lower_
            if lower == "but":
                but_at = len(values)
            v = lex.get(lower)
            if v is None:
                v = emoji.get(token.text)
            if v is None or lower in BOOSTERS:
                values.append(0.0)
                continue
            sign = 1.0 if v > 0 else -1.0
            if shouting_is_rare and token.is_upper and len(token) > 1:
                v += CAPS_BOOST * sign
            for back in range(1, 4):
                if i - back < sent_start:
                    break
                prev = doc[i - back].lower_
                if back == 1 and prev in BOOSTERS:
                    v += BOOST * sign
                elif back == 1 and prev in DAMPENERS:
                    v -= BOOST * sign
                if prev in NEGATORS:
                    v *= NEGATION
                    break
            values.append(v)
        if but_at is not None:
            values = [v * 0.5 for v in values[:but_at]] + [v * 1.5 for v in values[but_at:]]
        clause = sum(values)
        bangs = min(4, doc[sent_start:sent_end].text.count("!"))
        if clause:
            clause += math.copysign(0.292 * bangs, clause)
        total += clause
    return total / math.sqrt(total * total + 15.0)


def _clauses(doc: Doc) -> list[tuple[int, int]]:
    """Sentence-ish spans split at . ! ? and line breaks, without needing a parser."""
    spans, start = [], 0
    for token in doc:
        if token.text in {".", "!", "?", "\n"} or "\n" in token.text:
            if token.i + 1 > start:
                spans.append((start, token.i + 1))
            start = token.i + 1
    if start < len(doc):
        spans.append((start, len(doc)))
    return spans


@Language.component("tidings_sentiment")
def sentiment_component(doc: Doc) -> Doc:
    doc._.sentiment = polarity(doc)
    return doc
