"""Dates as feeds and pages write them: RFC 822 and ISO 8601 (feedparser reads those), and the
same with day and month names in other languages ("Seg, 24 Set 2018 19:42:40 -0300",
"mer, 16 nov 2022 00:38:15 +0100", "24. März 2023 10:00 MEZ"), which feedparser does not.

A date none of these reads is None: the caller marks the item's date unknown rather than
pretending it was published when we fetched it.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import timegm
from datetime import UTC, datetime

import feedparser
from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.datetimes.rfc822 import _parse_date_rfc822

# Month names (full, and abbreviations that are not a prefix of the full name), lower case
# without accents. Any prefix of three letters or more of a full name is read too, unless
# two months share it (Czech "cer": červen and červenec; "mar" is March, not Finnish marraskuu).
MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "januar", "januari", "janvier", "enero", "gennaio", "janeiro",
        "stycznia", "styczen", "leden", "ledna", "tammikuu", "tammikuuta", "ocak", "ianuarie",
        "gener", "jan", "ene", "gen", "январь", "января", "січень", "січня"),
    2: ("february", "februar", "februari", "fevrier", "febrero", "febbraio", "fevereiro",
        "luty", "lutego", "unor", "unora", "helmikuu", "helmikuuta", "subat", "februarie",
        "febrer", "февраль", "февраля", "лютий", "лютого", "fevr", "febr", "feb", "fev"),
    3: ("march", "marz", "maerz", "maart", "mars", "marzo", "marco", "marts", "marzec",
        "marca", "brezen", "brezna", "maaliskuu", "maaliskuuta", "mart", "martie", "marc",
        "март", "марта", "березень", "березня", "mrt", "mar"),
    4: ("april", "avril", "abril", "aprile", "kwiecien", "kwietnia", "duben", "dubna",
        "huhtikuu", "huhtikuuta", "nisan", "aprilie", "апрель", "апреля", "квітень", "квітня"),
    5: ("may", "mai", "mei", "mayo", "maggio", "maio", "maj", "maja", "kveten", "kvetna",
        "toukokuu", "toukokuuta", "mayis", "maig", "май", "мая", "травень", "травня"),
    6: ("june", "juni", "juin", "junio", "giugno", "junho", "czerwiec", "czerwca", "cerven",
        "cervna", "kesakuu", "kesakuuta", "haziran", "iunie", "juny", "июнь", "июня",
        "червень", "червня"),
    7: ("july", "juli", "juillet", "julio", "luglio", "julho", "lipiec", "lipca", "cervenec",
        "cervence", "heinakuu", "heinakuuta", "temmuz", "iulie", "juliol", "июль", "июля",
        "липень", "липня", "juil"),
    8: ("august", "augustus", "augusti", "aout", "agosto", "sierpien", "sierpnia", "srpen",
        "srpna", "elokuu", "elokuuta", "agustos", "agost", "август", "августа", "серпень",
        "серпня"),
    9: ("september", "septembre", "septiembre", "settembre", "setembro", "wrzesien",
        "wrzesnia", "zari", "syyskuu", "syyskuuta", "eylul", "septembrie", "setembre",
        "сентябрь", "сентября", "вересень", "вересня", "sept"),
    10: ("october", "oktober", "octobre", "octubre", "ottobre", "outubro", "pazdziernik",
         "pazdziernika", "rijen", "rijna", "lokakuu", "lokakuuta", "ekim", "octombrie",
         "октябрь", "октября", "жовтень", "жовтня"),
    11: ("november", "novembre", "noviembre", "novembro", "listopad", "listopada",
         "marraskuu", "marraskuuta", "kasim", "noiembrie", "ноябрь", "ноября", "листопад",
         "листопада"),
    12: ("december", "dezember", "decembre", "diciembre", "dicembre", "dezembro", "grudzien",
         "grudnia", "prosinec", "prosince", "joulukuu", "joulukuuta", "aralik", "decembrie",
         "desembre", "desember", "декабрь", "декабря", "грудень", "грудня"),
}  # fmt: skip
ENGLISH = ("", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Words between day, month and year: "24 de setembro de 2018", "16. listopadu".
FILLERS = {"de", "del", "di", "der", "den", "el", "le", "la", "of", "the", "г", "года", "р", "um",
           "a", "as", "alle", "ore", "las", "kl", "klo", "o", "at", "в", "о"}  # fmt: skip
# Zone names feedparser does not know, by their offset.
ZONES = {"cet": "+0100", "cest": "+0200", "mez": "+0100", "mesz": "+0200", "wet": "+0000",
         "west": "+0100", "eet": "+0200", "eest": "+0300", "bst": "+0100", "msk": "+0300",
         "utc": "+0000", "z": "+0000"}  # fmt: skip


def _plain(word: str) -> str:
    """Lower case, accents and trailing punctuation off: "févr." -> "fevr"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    # Cyrillic й decomposes to и + a breve: keep Cyrillic letters whole.
    kept = "".join(
        c for c in decomposed if not unicodedata.combining(c) or "\u0400" <= c <= "\u04ff"
    )
    return unicodedata.normalize("NFC", kept).strip(".,;")


def _month_index() -> dict[str, int]:
    exact: dict[str, int] = {}
    for month, names in MONTHS.items():
        for name in names:
            key = _plain(name)
            if exact.setdefault(key, month) != month:
                raise ValueError(f"month name {name!r} is two months")
    prefixes: dict[str, set[int]] = {}
    for month, names in MONTHS.items():
        for name in names:
            key = _plain(name)
            for n in range(3, len(key)):
                prefixes.setdefault(key[:n], set()).add(month)
    index = {p: ms.pop() for p, ms in prefixes.items() if len(ms) == 1}
    index.update(exact)  # a full name wins over another month's prefix
    return index


MONTH_INDEX = _month_index()


def month_of(word: str) -> int | None:
    return MONTH_INDEX.get(_plain(word))


def parse_localized_date(text: str) -> tuple[int, ...] | None:
    """A date with day and month names in a European language, as feedparser's UTC 9-tuple;
    None when it is not one. Registered with feedparser, so every feed date goes through it
    after feedparser's own readers declined."""
    words = [_plain(w) for w in re.split(r"[\s,]+", text)]
    words = [w for w in words if w and w not in FILLERS]
    months = [i for i, w in enumerate(words) if w.isalpha() and w in MONTH_INDEX]
    if not months:
        return None
    # A leading word other than the month is a weekday (Spanish "mar" is Tuesday, too).
    if len(months) > 1 and months[0] == 0:
        months = months[1:]
    at = months[0]
    words = [w for i, w in enumerate(words) if i >= at or w[:1].isdigit()]
    at = words.index(next(w for w in words if w.isalpha() and w in MONTH_INDEX))
    words[at] = ENGLISH[MONTH_INDEX[words[at]]]
    words = [w.rstrip(".") if w[:1].isdigit() else w for w in words]
    words = [ZONES.get(w, w) for w in words]
    if words and words[-1][:1].isdigit() and ":" in words[-1] and len(words) == 4:
        words.append("+0000")  # a time without a zone: read as UTC
    return _parse_date_rfc822(" ".join(words))


feedparser.registerDateHandler(parse_localized_date)


def read_date(text: str | None) -> datetime | None:
    """Any date a feed or page may carry (RFC 822, ISO 8601, W3C, localized names), in UTC;
    None when it cannot be read."""
    if not text or len(text) > 200:
        return None
    try:
        parsed = feedparser_date(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return from_struct(parsed) if parsed else None


def from_struct(parsed: tuple[int, ...] | None) -> datetime | None:
    """feedparser's UTC 9-tuple as an aware datetime; None when out of range."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(timegm(parsed), UTC)  # type: ignore[arg-type]
    except (OverflowError, ValueError, OSError):
        return None
