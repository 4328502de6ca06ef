"""Items of a shape we did not expect: a source changed its API or its markup, or sends
something nobody has seen yet. Each is skipped (never the end of the source), counted, and the
first few are kept as they came, cut short, for the Sources page, so that a user can report
them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

# What reading one malformed item raises: a missing key, a wrong type, a date out of range.
ITEM_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)
MAX_SAMPLES = 3  # per source and fetch
SAMPLE_CHARS = 2000  # per sample
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sample(item: object) -> str:
    """An item as it came (JSON for API items, markup for feed entries and page elements),
    cut to SAMPLE_CHARS, without control characters or lone surrogates."""
    if isinstance(item, str):
        text = item[: SAMPLE_CHARS + 1]
    else:
        try:
            text = json.dumps(item, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(item)
    cut = len(text) > SAMPLE_CHARS
    text = text[:SAMPLE_CHARS].encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text) + ("…" if cut else "")


class Unexpected:
    """What one fetch skipped: how many items, and the first few samples."""

    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []

    def add(self, item: object) -> None:
        self.count += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(sample(item))

    def extend(self, count: int, samples: Sequence[str]) -> None:
        self.count += count
        self.samples += list(samples[: MAX_SAMPLES - len(self.samples)])
