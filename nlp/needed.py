"""The strings a regular expression's every match needs, read from the pattern itself, so that
a text holding none of them is answered without the search.

Cue patterns of many alternatives ("refund|unacceptable|terrible|…") cost tens of microseconds
a post to search with Python's re; the few `in` tests that show a post holds none of the
strings they need cost one or two. The answer is the search's own: a skipped search would
have found nothing (tests/test_scoring_unchanged.py holds the two together)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import cache


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
    strings = tuple(needed)
    # map() of the text's own `in`: no Python frame per needed string, as a generator has.
    return lambda text: any(map(text.__contains__, strings)) and pattern.search(text) is not None


def quick_count(pattern: re.Pattern[str]) -> Callable[[str], int]:
    """How many matches `pattern.findall` finds in a text, 0 without the search where a needed
    string is not there."""
    needed = needed_strings(pattern)
    if not needed:
        return lambda text: len(pattern.findall(text))
    strings = tuple(needed)

    def count(text: str) -> int:
        if any(map(text.__contains__, strings)):
            return len(pattern.findall(text))
        return 0

    return count


class Joined:
    """Many texts searched at once for the strings a pattern needs: joined by a character no
    needed string holds, each string is looked for with one `find` per text holding it, not
    one `in` per text (most texts hold none of most patterns' strings)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts
        self.joined = _SEPARATOR.join(texts)
        self.starts = [0]
        for text in texts:
            self.starts.append(self.starts[-1] + len(text) + 1)

    def holding(self, strings: Iterable[str]) -> set[int]:
        """The texts (their index) holding at least one of `strings`."""
        found: set[int] = set()
        joined, starts = self.joined, self.starts
        for s in strings:
            if _SEPARATOR in s:  # could match across two texts: never the case for cues
                raise ValueError(f"needed string {s!r} holds the separator")
            at = joined.find(s)
            while at >= 0:
                text = bisect_right(starts, at) - 1
                found.add(text)
                at = joined.find(s, starts[text + 1])
        return found

    def search(self, pattern: re.Pattern[str]) -> list[bool]:
        """quick_search(pattern) of each text."""
        needed = _needed_by_pattern(pattern)
        holding = range(len(self.texts)) if needed is None else self.holding(needed)
        out = [False] * len(self.texts)
        for t in holding:
            out[t] = pattern.search(self.texts[t]) is not None
        return out


@cache
def _needed_by_pattern(pattern: re.Pattern[str]) -> frozenset[str] | None:
    return needed_strings(pattern)


_SEPARATOR = "\0"


class Needles:
    """The strings some patterns need, looked for in many texts at once by the texts' pieces
    between spaces: a string holding no space stands within one piece, and pieces repeat from
    text to text, so each piece's answer is remembered. A needed string holding spaces is
    first looked for by its longest part without one ("thanks a lot": "thanks"), then, in the
    few texts holding that part, whole."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        parts: dict[str, int] = {}
        # Per pattern: None (every text may match), else each part it needs → None (the part
        # is a needed string) or the needed strings it is the part of.
        self._of: dict[re.Pattern[str], dict[int, tuple[str, ...] | None] | None] = {}
        for pattern in patterns:
            needed = needed_strings(pattern)
            wanted: dict[int, tuple[str, ...] | None] | None = None if needed is None else {}
            for string in sorted(needed or ()):
                part = max(string.split(" "), key=len)
                if not part or wanted is None:  # only spaces: every text may hold it
                    wanted = None
                    break
                k = parts.setdefault(part, len(parts))
                if part == string or wanted.get(k, ()) is None:
                    wanted[k] = None
                else:
                    wanted[k] = (*wanted.get(k, ()), string)  # type: ignore[misc]
            self._of[pattern] = wanted
        self._parts = list(parts)
        self._pieces: dict[str, frozenset[int]] = {}

    def held(self, lows: Sequence[str]) -> list[set[int]]:
        """For each (lower-cased) text, the parts it holds."""
        pieces, parts = self._pieces, self._parts
        if len(pieces) > _PIECES_REMEMBERED:
            pieces.clear()
        out = []
        for text in lows:
            split_text = text.split(" ")
            got = list(map(pieces.get, split_text))  # (in C: most pieces are known)
            if None in got:
                for k, piece in enumerate(split_text):
                    if got[k] is None:
                        got[k] = pieces[piece] = frozenset(
                            j for j, part in enumerate(parts) if part in piece
                        )
            out.append(set().union(*filter(None, got)))
        return out

    def holding(
        self, pattern: re.Pattern[str], lows: Sequence[str], held: Sequence[set[int]]
    ) -> Iterable[int]:
        """The (lower-cased) texts, their index, holding a string `pattern` needs: those
        Joined.holding finds, `held` being the texts' parts (held())."""
        wanted = self._of[pattern]
        if wanted is None:
            return range(len(lows))
        out = []
        for t, mine in enumerate(held):
            if not mine or wanted.keys().isdisjoint(mine):
                continue
            for k in wanted.keys() & mine:
                strings = wanted[k]
                if strings is None or any(map(lows[t].__contains__, strings)):
                    out.append(t)
                    break
        return out

    def search(
        self, pattern: re.Pattern[str], lows: Sequence[str], held: Sequence[set[int]]
    ) -> list[bool]:
        """quick_search(pattern) of each (lower-cased) text."""
        out = [False] * len(lows)
        for t in self.holding(pattern, lows, held):
            out[t] = pattern.search(lows[t]) is not None
        return out


_PIECES_REMEMBERED = 200_000
