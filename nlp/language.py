"""Which language a text is in, with CLD2 (Google's compact language detector, Apache 2.0,
shipped in the `pycld2` wheel: no model download).

CLD2 declines short texts. For those: a text mostly in another script than Latin is not
English (its best guess, or "xx"); a Latin-script text of three words or more with no English
function word gets CLD2's best guess, if that is not English; anything else is "und"
(undetermined), which is scored as English: "Nimbus Notes 😍" must still count. Measured in
bench/nlp.py."""

from __future__ import annotations

import re

import pycld2

UNDETERMINED = "und"
OTHER = "xx"  # not English, language unknown
SCORED_AS_ENGLISH = frozenset({"en", UNDETERMINED})
FUNCTION_WORDS = frozenset(
    "the a an and or but of to in on at for with from by is are was were be been am it its "
    "this that these those you i we they he she me my your our their his her have has had do "
    "does did will would can could should not no so just what why how if there than then".split()
)
_WORDS = re.compile(r"[a-z']+")


def _cld2(text: str, best_effort: bool) -> tuple[bool, str]:
    try:
        reliable, _, details = pycld2.detect(text[:2000], bestEffort=best_effort)
    except (pycld2.error, UnicodeEncodeError):  # e.g. invalid UTF-8, unpaired surrogates
        return False, "un"
    return reliable, details[0][1].split("-")[0]


def detect(text: str) -> str:
    """An ISO 639-1 code ("en", "fr"…), "xx" (not English, unknown) or "und"."""
    reliable, code = _cld2(text, best_effort=False)
    if reliable and code not in ("un", "xx"):
        return code
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return UNDETERMINED
    if sum(c.isascii() for c in letters) / len(letters) < 0.5:
        _, guess = _cld2(text, best_effort=True)
        return guess if guess not in ("un", "xx", "en") else OTHER
    words = _WORDS.findall(text.lower())
    if len(words) >= 3 and not any(w in FUNCTION_WORDS for w in words):
        _, guess = _cld2(text, best_effort=True)
        if guess not in ("un", "xx", "en"):
            return guess
    return UNDETERMINED
