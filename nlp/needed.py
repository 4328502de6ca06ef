"""The strings a regular expression's every match needs, read from the pattern itself, so that
a text holding none of them is answered without the search.

Cue patterns of many alternatives ("refund|unacceptable|terrible|…") cost tens of microseconds
a post to search with Python's re; the few `in` tests that show a post holds none of the
strings they need cost one or two. The answer is the search's own: a skipped search would
have found nothing (tests/test_scoring_unchanged.py holds the two together)."""

from __future__ import annotations

import re
from collections.abc import Callable


def _needed(items: object) -> frozenset[str] | None:
    """Strings one of which every match of these parsed regex items contains (the longest
    run of plain characters, or those of a group's alternatives), or None if none is needed."""
    from re import _constants as c

    runs, run, group = [], "", None
    for op, av in items:  # type: ignore[attr-defined]
        if op is c.LITERAL:
            run += chr(av)
            continue
        runs.append(run)
        run = ""
        if op is c.BRANCH:
            found = [_needed(alternative) for alternative in av[1]]
            group = group or (None if None in found else frozenset().union(*found))
        elif op is c.SUBPATTERN and not av[1] and not av[2]:  # a group, no flags of its own
            group = group or _needed(av[3])
    longest = max([*runs, run], key=len)
    return frozenset([longest]) if longest else group


def needed_strings(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings one of which every match of `pattern` contains, or None when it needs none
    (or it ignores case, or this Python's re cannot be read)."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        from re import _parser

        return _needed(_parser.parse(pattern.pattern, pattern.flags)) or None
    except (ImportError, AttributeError, TypeError, ValueError):  # another Python's re
        return None


def quick_search(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """Whether `pattern` is found in a text, the search skipped where a needed string is not."""
    needed = needed_strings(pattern)
    if not needed:
        return lambda text: pattern.search(text) is not None
    return lambda text: any(n in text for n in needed) and pattern.search(text) is not None


def quick_count(pattern: re.Pattern[str]) -> Callable[[str], int]:
    """How many matches `pattern.findall` finds in a text, 0 without the search where a needed
    string is not there."""
    needed = needed_strings(pattern)
    if not needed:
        return lambda text: len(pattern.findall(text))
    strings = tuple(needed)

    def count(text: str) -> int:
        for n in strings:
            if n in text:
                return len(pattern.findall(text))
        return 0

    return count
