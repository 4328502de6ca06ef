"""A regex tokenizer for spaCy, built for short social and news text and for speed.

spaCy's rule-based English tokenizer costs about 150 µs for a 50-token post here, which would
make tokenizing the bottleneck of a pass. One compiled regex does the same job about three times
faster and keeps what matters to us as single tokens: URLs, emoticons, words with inner
apostrophes or hyphens, and "n't" split off for negation. "#" and "@" are tokens of their own, so
that a watched "Acme" matches "#Acme" and "@acme" too. The Doc's text is
the input, character for character.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import spacy
from spacy.attrs import (
    IDX,
    IS_ALPHA,
    IS_DIGIT,
    IS_SPACE,
    IS_UPPER,
    LENGTH,
    LIKE_NUM,
    LIKE_URL,
    LOWER,
    ORTH,
)
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab

_PATTERN = r"""
  (
    https?://[^\s<>"]+[^\s<>".,;:!?)\]'’]      # URLs, minus trailing punctuation
  | (?:[<>]?[:;=8][\-o*'^]?[)\](\[dDpP/\\|@3*]+|<3)(?!\w)   # emoticons :) ;-( :D <3
  | \w+(?=n[’']t\b)                         # "do" of "don't"
  | n[’']t\b                                 # "n't"
  | \w+(?:[-'’.&]\w+)*                      # words, "rock'n'roll", "v4.2", "AT&T"
  | \n[^\S\n]*                               # a line break (and its indentation) is a token
  | [^\w\s]                                  # any other symbol, emoji included, one by one
  )
  (\ ?)                                      # the one space that usually follows
    """
_TOKEN = re.compile(_PATTERN, re.VERBOSE)
# The same without the two alternatives that split off "n't", for the texts that hold no "n't"
# (most): neither can match there, and trying them costs a fifth of the search at every word.
_NT = ("n't", "n’t")
_TOKEN_WITHOUT_NT = re.compile(
    "\n".join(line for line in _PATTERN.split("\n") if "n[’']t" not in line), re.VERBOSE
)


def split(text: str) -> tuple[Sequence[str], Sequence[str]]:
    """The words of `text` and the space that follows each (" " or ""): its Doc's tokens."""
    token = _TOKEN if _NT[0] in text or _NT[1] in text else _TOKEN_WITHOUT_NT
    pairs = token.findall(text)
    if pairs:
        # Transposed in C rather than word by word (the lists were a third of the tokenizer).
        words, spaces = zip(*pairs, strict=True)
        if sum(map(len, words)) + len("".join(spaces)) == len(text):
            return words, spaces
    if not text:
        return (), ()
    words, gaps = RegexTokenizer._with_gaps(text, token)  # runs of white space: the slow path
    return words, [" " if gap else "" for gap in gaps]


class RegexTokenizer:
    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words, spaces = split(text)
        doc = Doc(self.vocab, words=list(words), spaces=[sp == " " for sp in spaces])
        doc.user_data["text"] = text  # doc.text rebuilds the string from its tokens each time
        return doc

    @staticmethod
    def _with_gaps(text: str, token: re.Pattern[str] = _TOKEN) -> tuple[list[str], list[bool]]:
        words: list[str] = []
        spaces: list[bool] = []
        end = 0
        for m in token.finditer(text):
            if m.start() > end:
                _gap(text[end : m.start()], words, spaces)
            words.append(m.group(1))
            spaces.append(bool(m.group(2)))
            end = m.end()
        if end < len(text):
            _gap(text[end:], words, spaces)
        return words, spaces

    # spaCy serializes a pipeline's tokenizer with it; this one has no state to save.
    def to_bytes(self, **kwargs: object) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: object) -> RegexTokenizer:
        return self

    def to_disk(self, path: object, **kwargs: object) -> None:
        pass

    def from_disk(self, path: object, **kwargs: object) -> RegexTokenizer:
        return self


@registry.tokenizers("tidings.regex_tokenizer.v1")
def _regex_tokenizer() -> Callable[[Language], RegexTokenizer]:
    return lambda nlp: RegexTokenizer(nlp.vocab)


def blank() -> Language:
    """A blank English pipeline (English lexical attributes) with this tokenizer. Built as
    spaCy's config says rather than replacing the English rule tokenizer afterwards, which
    takes longer to build (0.1-0.2 s, for each pipeline) than a pass of one item to score."""
    tokenizer = {"@tokenizers": "tidings.regex_tokenizer.v1"}
    return spacy.blank("en", config={"nlp": {"tokenizer": tokenizer}})


def _gap(gap: str, words: list[str], spaces: list[bool]) -> None:
    """Put the white space between two tokens back into the Doc, as spaCy does."""
    if gap[0] == " " and words and not spaces[-1]:
        spaces[-1] = True
        gap = gap[1:]
    if gap:
        words.append(gap)
        spaces.append(False)


def text_of(doc: Doc | Text) -> str:
    """The doc's text, without rebuilding it from the tokens when the tokenizer kept it."""
    if isinstance(doc, Text):
        return doc.text
    return doc.user_data.get("text") or doc.text


# The token attributes the readings need, in this order: every one a property of the word
# itself (its lexeme), never of its place in the text.
ATTRS = (LOWER, IS_SPACE, IS_UPPER, LENGTH, LIKE_URL, LIKE_NUM, IS_ALPHA, IS_DIGIT)
_LEXEME_PROPS = ("lower", "is_space", "is_upper", "like_url", "like_num", "is_alpha", "is_digit")
_CACHE_LIMIT = 100_000  # distinct words remembered per vocabulary (about 25 MB), then forgotten


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens of many docs as one array: what `Doc.to_array(ATTRS)` gives for each doc,
    the docs one after another; doc d's rows are rows[starts[d]:starts[d + 1]]."""

    rows: np.ndarray  # (tokens, len(ATTRS)) uint64
    starts: np.ndarray  # (docs + 1,) int64

    def of(self, docs: np.ndarray | list[int]) -> Tokens:
        """The same for some of the docs, in the order given."""
        docs = np.asarray(docs, dtype=np.int64)
        sizes = self.starts[docs + 1] - self.starts[docs]
        starts = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        within = np.arange(starts[-1]) - np.repeat(starts[:-1], sizes)
        return Tokens(self.rows[np.repeat(self.starts[docs], sizes) + within], starts)

    def doc_ids(self) -> np.ndarray:
        """Which doc each row belongs to."""
        return np.repeat(np.arange(len(self.starts) - 1), np.diff(self.starts))


class Words:
    """The distinct words of one vocabulary, numbered as they are first met, each with its
    ORTH and its ATTRS (its lexeme's, as Doc.to_array gives them): a batch's texts become word
    numbers (Text) and their attributes one array, without building a spaCy Doc, whose
    construction (a lexeme look-up per token) cost more than the tokenizer's regex."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.numbers: dict[str, int] = _Numbering(self)
        self.rows = np.zeros((1024, len(ATTRS)), dtype=np.uint64)
        self.orths = np.zeros(1024, dtype=np.uint64)
        self._adding = threading.Lock()
        # A piece of text between two spaces → its tokens' numbers (see tokenize).
        self.pieces: dict[str, tuple[int, ...] | bool] = {}

    def add(self, word: str) -> int:
        """The number of a word not met before."""
        with self._adding:  # two threads' new words must not take the same number
            number = dict.get(self.numbers, word)
            if number is not None:
                return number
            number = len(self.numbers)
            if number == len(self.orths):
                self.rows = np.concatenate([self.rows, np.zeros_like(self.rows)])
                self.orths = np.concatenate([self.orths, np.zeros_like(self.orths)])
            lexeme = self.vocab[word]
            lower, space, upper, url, num, alpha, digit = (
                getattr(lexeme, p) for p in _LEXEME_PROPS
            )
            self.rows[number] = (lower, space, upper, len(lexeme.orth_), url, num, alpha, digit)
            self.orths[number] = lexeme.orth
            self.numbers[word] = number
            return number


class _Numbering(dict):
    """word → its number in a Words table, numbering a new word as it is asked for."""

    def __init__(self, words: Words) -> None:
        super().__init__()
        self.words = words

    def __missing__(self, word: str) -> int:
        return self.words.add(word)


_words_by_vocab: dict[int, Words] = {}


def words_of(vocab: Vocab) -> Words:
    """The vocabulary's Words table; a new one once it holds more than _CACHE_LIMIT words
    (texts tokenized before keep the old one)."""
    words = _words_by_vocab.get(id(vocab))
    if words is None or words.vocab is not vocab or len(words.numbers) > _CACHE_LIMIT:
        words = _words_by_vocab[id(vocab)] = Words(vocab)
    return words


class Text:
    """A text as the tokenizer splits it into a Doc's tokens, without the Doc: its tokens'
    numbers in `table` (and, split again when first asked for, its words and the space after
    each). What scoring reads of a Doc (its length, vocabulary, tokens' attributes, the text of
    a range of tokens) reads the same here."""

    __slots__ = ("_spaces", "_words", "ids", "table", "text", "user_data")

    def __init__(
        self,
        text: str,
        ids: np.ndarray,
        table: Words,
        words: Sequence[str] | None = None,
        spaces: Sequence[str] | None = None,
    ) -> None:
        self.text = text
        self.ids = ids  # int64: each token's word in `table`
        self.table = table
        self.user_data: dict = {}
        self._words, self._spaces = words, spaces

    @property
    def words(self) -> Sequence[str]:
        if self._words is None:
            self._words, self._spaces = split(self.text)
        return self._words

    @property
    def spaces(self) -> Sequence[str]:
        """ " " or "": the Doc's whitespace_ of each token."""
        if self._spaces is None:
            self._words, self._spaces = split(self.text)
        return self._spaces

    @property
    def vocab(self) -> Vocab:
        return self.table.vocab

    def __len__(self) -> int:
        return len(self.ids)

    def orths(self) -> np.ndarray:
        """Each token's ORTH, as Doc.to_array(ORTH) gives it."""
        return self.table.orths[self.ids]

    def char_starts(self) -> list[int]:
        """Where each token begins in the text, as Doc.to_array(IDX) gives it."""
        starts, at = [], 0
        for word, space in zip(self.words, self.spaces, strict=True):
            starts.append(at)
            at += len(word) + len(space)
        return starts

    def span_text(self, start: int, end: int) -> str:
        """The text of tokens start..end-1, as doc[start:end].text gives it."""
        if end <= start:
            return ""
        starts = self.char_starts()
        return self.text[starts[start] : starts[end - 1] + len(self.words[end - 1])]


# White space other than a space or a line break: a piece holding some is not read alone.
_OTHER_SPACE = re.compile(r"[^\S\n]")
_PIECES_REMEMBERED = 200_000


def _piece_numbers(piece: str, number: Callable[[str], int]) -> tuple[int, ...] | bool:
    """The numbers of the tokens of a piece of text between two spaces, as split() makes them
    in the whole text; False where they may differ: an empty piece (two spaces, or one
    at either end), other white space, or a line break before a space (the line break's
    token holds the indentation after it)."""
    if not piece or piece[-1] == "\n" or _OTHER_SPACE.search(piece):
        return False
    words = [w for w, _ in _TOKEN.findall(piece)]
    if sum(map(len, words)) != len(piece):  # never: every other character starts a token
        return False
    return tuple(map(number, words))


def tokenize(texts: Sequence[str], vocab: Vocab) -> list[Text]:
    """Each text tokenized as RegexTokenizer tokenizes it for a Doc, as a Text.

    No token holds a space, nor does a match of the tokenizer's pattern look past one: a text
    whose spaces are single is tokenized as its pieces between spaces, one after another.
    Pieces repeat from text to text ("the", "app,", "2026."), and the table remembers each
    one's word numbers: most of a batch's words are found with one look-up per piece, without
    the pattern. A text with a piece that cannot be read alone is split whole."""
    table = words_of(vocab)
    pieces = table.pieces
    if len(pieces) > _PIECES_REMEMBERED:
        pieces.clear()
    number = table.numbers.__getitem__
    every: list[int] = []
    sizes = []
    for text in texts:
        at = len(every)
        split_text = text.split(" ")
        got = list(map(pieces.get, split_text))  # (in C: most pieces are known)
        if not all(got):  # a piece not met before, or one not read alone (never empty)
            for k, piece in enumerate(split_text):
                if got[k] is None:
                    got[k] = pieces.get(piece)
                    if got[k] is None:
                        got[k] = pieces[piece] = _piece_numbers(piece, number)
        if all(got):
            every += chain.from_iterable(got)
        else:
            every += map(number, split(text)[0])
        sizes.append(len(every) - at)
    ids = np.array(every, dtype=np.int64)
    out, at = [], 0
    for text, size in zip(texts, sizes, strict=True):
        out.append(Text(text, ids[at : at + size], table))
        at += size
    return out


def char_starts(doc: Doc | Text) -> list[int]:
    """Where each token of the doc begins in its text."""
    if isinstance(doc, Text):
        return doc.char_starts()
    return doc.to_array([IDX]).tolist()


def span_text(doc: Doc | Text, start: int, end: int) -> str:
    """The text of the doc's tokens start..end-1 (doc[start:end].text)."""
    if isinstance(doc, Text):
        return doc.span_text(start, end)
    return doc[start:end].text


def orths_of(doc: Doc | Text) -> np.ndarray:
    """Each token's ORTH (Doc.to_array(ORTH))."""
    if isinstance(doc, Text):
        return doc.orths()
    return doc.to_array(ORTH)


_by_vocab: dict[int, dict[int, tuple[int, ...]]] = {}


def tokens_of(docs: Sequence[Doc] | Sequence[Text]) -> Tokens:
    """The ATTRS of every token of `docs`, looked up once per distinct word of the batch (and
    remembered): a doc's own to_array costs several times more, once per attribute. Texts'
    are picked from their Words table at once."""
    starts = np.zeros(len(docs) + 1, dtype=np.int64)
    if not docs:
        return Tokens(np.zeros((0, len(ATTRS)), dtype=np.uint64), starts)
    if isinstance(docs[0], Text):
        np.cumsum([len(t.ids) for t in docs], out=starts[1:])
        return Tokens(docs[0].table.rows[np.concatenate([t.ids for t in docs])], starts)
    orths = [doc.to_array(ORTH) for doc in docs]
    np.cumsum([len(o) for o in orths], out=starts[1:])
    distinct, inverse = np.unique(np.concatenate(orths), return_inverse=True)
    vocab = docs[0].vocab
    known = _by_vocab.get(id(vocab))
    if known is None or len(known) > _CACHE_LIMIT:
        known = _by_vocab[id(vocab)] = {}
    table = []
    for orth in distinct.tolist():
        row = known.get(orth)
        if row is None:
            lexeme = vocab[orth]
            lower, space, upper, url, num, alpha, digit = (
                getattr(lexeme, p) for p in _LEXEME_PROPS
            )
            row = known[orth] = (lower, space, upper, len(lexeme.orth_), url, num, alpha, digit)
        table.append(row)
    rows = np.array(table, dtype=np.uint64).reshape(-1, len(ATTRS))
    return Tokens(rows[inverse.reshape(-1)], starts)
