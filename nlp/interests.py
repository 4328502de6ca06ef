"""Which articles each client cares about: their interest phrases matched with spaCy, plus a
bag-of-words similarity between what they said they like and what the article says."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import spacy
from spacy.matcher import PhraseMatcher

from data.clients import Client
from nlp.tokenizer import blank


@dataclass(frozen=True, slots=True)
class Match:
    article_id: str
    matched: tuple[str, ...]  # the client's interest phrases found in the article
    in_title: bool
    similarity: float  # cosine of content words, 0..1


class InterestMatcher:
    """Compiled once per set of clients; `match` runs the articles through spaCy once."""

    def __init__(self, clients: Sequence[Client]) -> None:
        self.nlp = blank()
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.profiles: dict[str, Counter[str]] = {}
        for c in clients:
            if c.wanted:
                self.matcher.add(f"+{c.id}", [self.nlp.make_doc(p) for p in c.wanted])
            if c.unwanted:
                self.matcher.add(f"-{c.id}", [self.nlp.make_doc(p) for p in c.unwanted])
            self.profiles[c.id] = _words(self.nlp.make_doc(" ".join(c.wanted)))

    def match(self, articles: Sequence[dict]) -> dict[str, list[Match]]:
        """Per client id: the articles with at least one wanted phrase and no unwanted one."""
        out: dict[str, list[Match]] = {cid: [] for cid in self.profiles}
        texts = (f"{a['title']}\n{a['text']}" for a in articles)
        for article, doc in zip(articles, self.nlp.pipe(texts, batch_size=256), strict=True):
            title_end = len(article["title"])
            wanted: dict[str, set[str]] = {}
            in_title: set[str] = set()
            unwanted: set[str] = set()
            for match_id, start, end in self.matcher(doc):
                key = self.nlp.vocab.strings[match_id]
                cid = key[1:]
                if key[0] == "-":
                    unwanted.add(cid)
                    continue
                wanted.setdefault(cid, set()).add(doc[start:end].text.lower())
                if doc[start].idx < title_end:
                    in_title.add(cid)
            if not wanted:
                continue
            words = _words(doc)
            for cid, phrases in wanted.items():
                if cid in unwanted:
                    continue
                out[cid].append(
                    Match(article["id"], tuple(sorted(phrases)), cid in in_title,
                          _cosine(self.profiles[cid], words))
                )  # fmt: skip
        return out


def _words(doc: spacy.tokens.Doc) -> Counter[str]:
    return Counter(t.lower_ for t in doc if t.is_alpha and not t.is_stop and len(t) > 2)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / (
        math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    )
