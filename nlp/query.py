"""Boolean watch queries compiled into one spaCy Matcher, evaluated per doc.

Every term of every query (and of context rules) becomes a token pattern; one pass of the
Matcher over a doc finds them all; each query's tree is then evaluated over where they were
found (for NEAR and context windows, in tokens)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from data.config import Watch
from data.query import And, Near, Node, Not, Or, Term, all_terms, parse, phrase, positive_terms

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

Spans = dict[Term, list[tuple[int, int]]]


def watch_tree(w: Watch) -> Node:
    """What a watch matches, as one tree: its terms OR its query, AND NOT its exclusions."""
    alternatives: list[Node] = [phrase(t) for t in w.terms]
    if w.query:
        alternatives.append(parse(w.query))
    tree: Node = alternatives[0] if len(alternatives) == 1 else Or(tuple(alternatives))
    if w.exclude:
        tree = And((tree, Not(Or(tuple(phrase(x) for x in w.exclude)))))
    return tree


class QueryMatcher:
    def __init__(self, nlp: Language, watch: Sequence[Watch]) -> None:
        # spaCy is imported where it is used: a pass whose items are all known, or match
        # nothing (Prefilter), never loads it.
        from spacy.matcher import Matcher, PhraseMatcher
        from spacy.tokens import Doc

        # Whole words and phrases go to a PhraseMatcher (hashing, fast); only terms ending
        # in * need the Matcher's regular expressions.
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.matcher = Matcher(nlp.vocab)
        self.keys: dict[Term, str] = {}
        self.entities: list[tuple[str, Node, list[Term], Watch]] = []
        for w in watch:
            tree = watch_tree(w)
            terms = all_terms(tree)
            if w.context:
                terms += [phrase(t) for t in w.context.requires + w.context.excludes]
            for t in terms:
                if t not in self.keys:
                    self.keys[t] = key = f"q{len(self.keys)}"
                    if t.prefix:
                        self.matcher.add(key, [_pattern(t)])
                    else:
                        self.phrases.add(key, [Doc(nlp.vocab, words=list(t.words))])
            self.entities.append((w.name, tree, positive_terms(tree), w))
        self.by_key = {k: t for t, k in self.keys.items()}
        # The same matches from the tokens' LOWER alone, for texts without a Doc
        # (nlp.tokenizer.Text): each phrase as its pattern Doc's LOWER, by its first word;
        # each prefix term as the Matcher reads it (words, then a LOWER starting so).
        self._phrases: dict[int, list[tuple[Term, tuple[int, ...]]]] = {}
        self._prefixed: list[tuple[Term, tuple[int, ...], str]] = []
        for t in self.keys:
            if not t.words:
                continue
            if t.prefix:
                before = tuple(nlp.vocab.strings.add(w) for w in t.words[:-1])
                self._prefixed.append((t, before, t.words[-1]))
            else:
                lowers = tuple(nlp.vocab[w].lower for w in t.words)
                self._phrases.setdefault(lowers[0], []).append((t, lowers))
        self.first_words = sorted(self._phrases)  # the LOWER each phrase begins with
        self._strings = nlp.vocab.strings
        self._starting: dict[int, tuple[int, ...]] = {}  # LOWER → the prefixes it starts with
        # Each entity with its tree's terms and whether the tree holds when none is found: a
        # text naming none of an entity's terms is answered without walking its tree.
        self._by_name = [
            (name, tree, positive, w, frozenset(all_terms(tree)), _holds(tree, {}))
            for name, tree, positive, w in sorted(self.entities, key=lambda e: e[0])
        ]
        # The same by the terms' numbers (a Term's hash is a Python call; an int's is not),
        # with whether the entity holds wherever one of its terms is found (its tree is its
        # terms OR-ed, no context rule): candidates_in answers those without the tree.
        self._terms = list(self.keys)
        number = {t: k for k, t in enumerate(self._terms)}
        self._phrases = {
            first: [(number[t], words) for t, words in found]
            for first, found in self._phrases.items()
        }
        self._prefixed = [(number[t], before, last) for t, before, last in self._prefixed]
        self._numbered = [
            (
                (name, tree, positive, w, terms, bare),
                frozenset(number[t] for t in terms),
                [number[t] for t in positive],
                w.context is None and _only_terms(tree),
            )
            for name, tree, positive, w, terms, bare in self._by_name
        ]

    def __call__(self, doc: Doc) -> dict[str, list[int]]:
        """The entities the doc is about, each with the token positions where it is named."""
        return {
            name: [start for start, _ in spans]
            for name, (spans, rule) in self.candidates(doc).items()
            if rule is not False
        }

    def candidates(self, doc: Doc) -> dict[str, tuple[list[tuple[int, int]], bool | None]]:
        """The entities whose terms or query match (their exclusions absent), each with the
        token ranges where it is named and whether its context rule holds (None: it has
        none). nlp.relevance weighs the rule's verdict; the rules alone keep only True/None."""
        found: Spans = {}
        matches = self.phrases(doc) + (self.matcher(doc) if len(self.matcher) else [])
        for match_id, start, end in matches:
            term = self.by_key[doc.vocab.strings[match_id]]
            found.setdefault(term, []).append((start, end))
        return self._candidates(found)

    def candidates_in(
        self, lowers: list[int], firsts: Iterable[int] | None = None
    ) -> dict[str, tuple[list[tuple[int, int]], bool | None]]:
        """candidates() of a text from its tokens' LOWER; `firsts` are the positions where a
        phrase's first word stands (those of self.first_words), if known, else all are
        looked at. The matches are the PhraseMatcher's and the Matcher's (tests hold them
        together)."""
        found: dict[int, list[tuple[int, int]]] = {}
        n = len(lowers)
        for i in range(n) if firsts is None else firsts:
            for term, words in self._phrases.get(lowers[i], ()):
                end = i + len(words)
                if end <= n and tuple(lowers[i:end]) == words:
                    found.setdefault(term, []).append((i, end))
        for last, lower in enumerate(lowers) if self._prefixed else ():
            starting = self._starting.get(lower)
            if starting is None:
                word = self._strings[lower]
                prefixes = enumerate(p for _, _, p in self._prefixed)
                starting = tuple(k for k, p in prefixes if word.startswith(p))
                if len(self._starting) > 100_000:
                    self._starting.clear()
                self._starting[lower] = starting
            for k in starting:
                term, before, _ = self._prefixed[k]
                start = last - len(before)
                if start >= 0 and tuple(lowers[start:last]) == before:
                    found.setdefault(term, []).append((start, last + 1))
        out = {}
        by_term: Spans | None = None
        for (
            entity,
            numbers,
            positive,
            plain,
        ) in self._numbered:
            if plain:
                if not numbers.isdisjoint(found):
                    out[entity[0]] = (sorted(s for t in positive for s in found.get(t, [])), None)
                continue
            if by_term is None:
                by_term = {self._terms[t]: spans for t, spans in found.items()}
            out.update(self._candidates(by_term, [entity]))
        return out

    def _candidates(
        self, found: Spans, entities: list | None = None
    ) -> dict[str, tuple[list[tuple[int, int]], bool | None]]:
        return {
            name: (
                sorted(s for t in positive for s in found.get(t, [])),
                None if w.context is None else _in_context(w, positive, found),
            )
            for name, tree, positive, w, terms, bare in (
                self._by_name if entities is None else entities
            )
            if (_holds(tree, found) if not terms.isdisjoint(found) else bare)
        }


def _pattern(t: Term) -> list[dict]:
    """A token pattern for a term whose last word is a prefix."""
    pattern: list[dict] = [{"LOWER": w} for w in t.words[:-1]]
    return [*pattern, {"LOWER": {"REGEX": f"^{re.escape(t.words[-1])}"}}]


def _only_terms(node: Node) -> bool:
    """Whether the tree is terms OR-ed: it holds wherever one of them is found."""
    if isinstance(node, Term):
        return True
    return isinstance(node, Or) and all(_only_terms(n) for n in node.nodes)


def _holds(node: Node, found: Spans) -> bool:
    if isinstance(node, Term):
        return node in found
    if isinstance(node, Near):
        return any(
            max(b0 - a1, a0 - b1, 0) <= node.distance
            for a0, a1 in found.get(node.left, [])
            for b0, b1 in found.get(node.right, [])
        )
    if isinstance(node, Not):
        return not _holds(node.node, found)
    if isinstance(node, And):
        return all(_holds(n, found) for n in node.nodes)
    return any(_holds(n, found) for n in node.nodes)


def _in_context(w: Watch, positive: list[Term], found: Spans) -> bool:
    """The entity's context rule holds near at least one of its matches."""
    if w.context is None:
        return True
    hits = [span for t in positive for span in found.get(t, [])]
    window = w.context.window

    def near(words: list[str], start: int, end: int) -> bool:
        return any(
            max(s - end, start - e, 0) <= window
            for t in map(_phrase, words)
            for s, e in found.get(t, [])
        )

    for start, end in hits:
        required = not w.context.requires or near(w.context.requires, start, end)
        if required and not near(w.context.excludes, start, end):
            return True
    return False


# A context rule's words, parsed once rather than for every match of every post.
_phrase = lru_cache(maxsize=4096)(phrase)


class Prefilter:
    """A cheap regex over the raw text finds the few items that can match at all, so that
    tokenizing is spent only on those: most feed items mention nothing we watch."""

    def __init__(self, watch: Sequence[Watch]) -> None:
        first_words = prefilter_words(watch)
        words = [
            re.escape(word) + (r"\w*" if prefix else r"(?!\w)") for word, prefix in first_words
        ]
        self._maybe = re.compile(r"(?<!\w)(?:" + "|".join(words) + ")", re.I) if words else None
        # In an ASCII text, an ASCII word matches, whatever its case, where the lower-cased
        # text holds it lower-cased: a text holding none of them is answered without the
        # search (which ignores case slowly; most feed items name nothing watched).
        lowered = tuple(word.lower() for word, _ in first_words)
        self._ascii_words = lowered if all(w.isascii() for w in lowered) else None

    def might_mention(self, text: str) -> bool:
        if self._maybe is None:
            return False
        if (
            self._ascii_words is not None
            and text.isascii()
            and not any(map(text.lower().__contains__, self._ascii_words))
        ):
            return False
        return self._maybe.search(text) is not None


def prefilter_words(watch: Sequence[Watch]) -> list[tuple[str, bool]]:
    """First words of every positive term, with whether they are prefixes: a text without any
    of them cannot match, so the pipeline can skip it without tokenizing."""
    out = []
    for w in watch:
        for t in positive_terms(watch_tree(w)):
            out.append((t.words[0], t.prefix and len(t.words) == 1))
    return sorted(set(out), key=lambda x: -len(x[0]))


def name_masker(watch: Sequence[Watch]) -> Callable[[str], str]:
    """A function replacing the watched names in a text by "it": what the classifiers learn
    from, so that corrections teach how people say things, not that a brand is bad."""
    names = sorted(
        {
            r"\s+".join(re.escape(w) for w in t.words) + (r"\w*" if t.prefix else r"(?!\w)")
            for w in watch
            for t in positive_terms(watch_tree(w))
        },
        key=len,
        reverse=True,
    )
    if not names:
        return lambda text: text
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(names) + ")", re.I)
    return partial(pattern.sub, "it")
