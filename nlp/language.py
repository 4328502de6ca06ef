"""Which language a text is in, with CLD2 (Google's compact language detector, Apache 2.0,
shipped in the `pycld2` wheel: no model download). Short or mixed texts that CLD2 cannot call
reliably are "und" (undetermined)."""

from __future__ import annotations

import pycld2

UNDETERMINED = "und"
SCORED_AS_ENGLISH = frozenset({"en", UNDETERMINED})


def detect(text: str) -> str:
    """An ISO 639-1 code ("en", "fr"…) or "und"."""
    try:
        reliable, _, details = pycld2.detect(text[:2000], bestEffort=False)
    except (pycld2.error, UnicodeEncodeError):  # e.g. invalid UTF-8, unpaired surrogates
        return UNDETERMINED
    code = details[0][1]
    if not reliable or code in ("un", "xx"):
        return UNDETERMINED
    return code.split("-")[0]
