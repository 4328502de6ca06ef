"""Which character encoding a fetched document is in: what the server says (the HTTP charset),
what the document says (its XML declaration or HTML meta), and what the bytes say.

Declarations win, except over bytes that are valid UTF-8 with non-ASCII text in them (a server
configured for Latin-1 serving UTF-8 is common; the reverse cannot be valid UTF-8 by chance).
A document declaring nothing usable, in a legacy encoding (Shift_JIS, KOI8-R, TIS-620…), has
its encoding detected from its text, and the result says it was guessed.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

_XML_DECLARED = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']"""
)
_META_DECLARED = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)
_MARKUP = re.compile(rb"<[^>]{0,2000}>")
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
         codecs.BOM_UTF16_BE)  # fmt: skip
DETECT_BYTES = 256 * 1024  # of text: enough to tell, bounded cost on a 10 MB body


@dataclass(frozen=True, slots=True)
class Encoding:
    name: str | None  # a Python codec name; None: leave it to the parser (a BOM, UTF-16)
    guessed: bool = False


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a known codec."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return _known(value.strip().strip("\"'"))
    return None


def declared_in(body: bytes) -> str | None:
    """The encoding the document declares: its XML declaration, else an HTML meta charset."""
    head = body[:2048]
    found = _XML_DECLARED.match(head) or _META_DECLARED.search(head)
    return _known(found[1].decode("ascii")) if found else None


def _known(name: str) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None


def choose_encoding(body: bytes, content_type: str | None = None) -> Encoding:
    """The encoding to read `body` in (see the module's docstring for the order)."""
    if body.startswith(_BOMS) or body[:4].count(0) >= 2:
        return Encoding(None)  # a BOM, or UTF-16/32 without one: the parser knows these
    declared = charset_of(content_type) or declared_in(body)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Pure ASCII is also valid in the 7-bit encodings (ISO-2022-JP): those keep their name.
        seven_bit = declared is not None and declared.startswith(("iso2022", "hz", "utf-7"))
        return Encoding(declared if seven_bit and body.isascii() else "utf-8")
    if declared and not declared.startswith("utf"):
        try:
            body.decode(declared)
            return Encoding(declared)
        except (UnicodeError, LookupError):
            pass  # declared wrongly (or "undefined", which reads nothing): detect
    text = _MARKUP.sub(b" ", body)[:DETECT_BYTES]
    best = charset_normalizer.from_bytes(text).best()
    name = _known(best.encoding) if best is not None else None
    if name is None or _is_latin(str(best)):
        name = _latin_encoding(text)
    return Encoding(name, guessed=True)


# Single-byte encodings of Latin scripts, the Web's default (windows-1252) first. On a few
# hundred bytes the detector cannot tell them apart (Portuguese comes out as Central European,
# French as Baltic); a word broken by a symbol ("wi¹zka") can.
LATIN = ("cp1252", "cp1250", "cp1257", "cp1254")


def _is_latin(text: str) -> bool:
    letters = [c for c in text if ord(c) > 127 and c.isalpha()]
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in letters)
    return latin * 2 >= len(letters)  # no letter beyond ASCII: typographic quotes, dashes


def _latin_encoding(text: bytes) -> str:
    def broken_words(encoding: str) -> int:
        decoded = text.decode(encoding, errors="replace")
        inside = _INSIDE_WORD.findall(decoded)  # "mo¿e": punctuation between two letters
        touching = [c for c in _TOUCHING_WORD.findall(decoded) if c not in _WORD_MARKS]
        return decoded.count("\ufffd") + len(inside) + len(touching)

    return min(LATIN, key=broken_words)  # the first of the best: windows-1252 on a tie


_LETTER = r"[^\W\d_]"
_INSIDE_WORD = re.compile(rf"(?<={_LETTER})[^\w\s\x00-\x7f](?={_LETTER})")
# "pojawi¹", "£odzi": a symbol (not punctuation) against a letter
_TOUCHING_WORD = re.compile(
    rf"(?<={_LETTER})[\u00a2-\u00be\u00d7\u00f7]|[\u00a2-\u00be\u00d7\u00f7](?={_LETTER})"
)
_WORD_MARKS = set("©®°ª«»·ºµ\u00ad")  # these do stand against words: "Nimbus®", "«Nimbus»", "1º"
