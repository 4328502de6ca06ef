"""The boolean query language of watched entities (and client interests):

    "acme corp" OR (acme AND (iphone OR mac*)) AND NOT pie
    acme NEAR/5 refund

Words and "exact phrases" match case-insensitively as whole words; a trailing * matches any
ending; adjacent terms mean AND; NOT binds tighter than AND, AND tighter than OR; NEAR/n joins
two words or phrases at most n words apart. Parsing is pure (no spaCy): the config is checked
with it, and `nlp` compiles the tree into spaCy matchers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class QuerySyntaxError(ValueError):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # lower-case
    prefix: bool = False  # the last word ends with * : any ending


@dataclass(frozen=True, slots=True)
class Near:
    left: Term
    right: Term
    distance: int


@dataclass(frozen=True, slots=True)
class Not:
    node: Node


@dataclass(frozen=True, slots=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Near | Not | And | Or

_TOKEN = re.compile(
    r'\s*(?:(?P<phrase>"[^"]*")|(?P<open>")|(?P<near>NEAR/\d+)|(?P<op>AND|OR|NOT)(?![\w*])'
    r"|(?P<paren>[()])|(?P<word>[^\s()\"]+))"
)


def parse(text: str) -> Node:
    """The query's tree, or QuerySyntaxError saying what and at which column (1-based)."""
    tokens = _tokens(text)
    parser = _Parser(tokens, len(text))
    node = parser.expression()
    if parser.pos < len(tokens):
        kind, value, col = tokens[parser.pos]
        raise QuerySyntaxError(f"unexpected {value!r}", col)
    if not positive_terms(node):
        raise QuerySyntaxError("the query needs at least one term that is not negated", 1)
    return node


def positive_terms(node: Node) -> list[Term]:
    """The terms a matching text must contain some of (those not under a NOT)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return [node.left, node.right]
    if isinstance(node, Not):
        return []
    return [t for n in node.nodes for t in positive_terms(n)]


_WORDS = re.compile(r"\w+(?:[-'’.&]\w+)*|[^\w\s*]")


def phrase(text: str) -> Term:
    """A plain word or phrase (a watch's terms, exclusions, context words) as a query term."""
    return Term(tuple(_WORDS.findall(text.lower())))


def all_terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return [node.left, node.right]
    if isinstance(node, Not):
        return all_terms(node.node)
    return [t for n in node.nodes for t in all_terms(n)]


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the word pattern takes anything else
            raise QuerySyntaxError("cannot read this", pos + 1)
        kind = m.lastgroup or ""
        col = m.start(kind) + 1
        if kind == "open":
            raise QuerySyntaxError("unclosed quote", col)
        out.append((kind, m.group(kind), col))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], length: int) -> None:
        self.tokens, self.pos, self.end = tokens, 0, length + 1

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expression(self) -> Node:
        nodes = [self.conjunction()]
        while (t := self.peek()) and t[0] == "op" and t[1] == "OR":
            self.pos += 1
            nodes.append(self.conjunction())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def conjunction(self) -> Node:
        nodes = [self.unary()]
        while (t := self.peek()) and (
            t[0] in ("phrase", "word", "paren") and t[1] != ")" or t[1] in ("AND", "NOT")
        ):
            if t[1] == "AND":
                self.pos += 1
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def unary(self) -> Node:
        t = self.peek()
        if t is None:
            raise QuerySyntaxError("a term is missing", self.end)
        if t[1] == "NOT":
            self.pos += 1
            return Not(self.unary())
        if t[1] == "(":
            self.pos += 1
            node = self.expression()
            close = self.peek()
            if close is None or close[1] != ")":
                raise QuerySyntaxError("unclosed parenthesis", t[2])
            self.pos += 1
            return node
        left = self.term()
        if (n := self.peek()) and n[0] == "near":
            self.pos += 1
            right = self.term()
            return Near(left, right, int(n[1].split("/")[1]))
        return left

    def term(self) -> Term:
        t = self.peek()
        if t is None:
            raise QuerySyntaxError("a term is missing", self.end)
        kind, value, col = t
        if kind not in ("phrase", "word"):
            raise QuerySyntaxError(f"a term is missing before {value!r}", col)
        self.pos += 1
        text = value[1:-1] if kind == "phrase" else value
        words = tuple(_WORDS.findall(text.lower()))
        prefix = text.endswith("*")
        if not words:
            raise QuerySyntaxError("an empty term", col)
        if "*" in text.rstrip("*"):
            raise QuerySyntaxError("* may only end a term", col)
        return Term(words, prefix)
