"""The one place that turns untrusted HTML from the internet into plain text, and vets URLs."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from data.records import Mention

_DROP = re.compile(r"<(script|style|template|noscript)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK = re.compile(r"<(?:br|p|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>", re.I)
_INLINE = re.compile(
    r"</?(?:a|b|i|u|s|em|strong|span|code|small|sub|sup|abbr|mark|q)\b[^>]*>", re.I
)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")
# What no stored or shown text may hold: C0/C1 controls but tab and newline, lone surrogates
# (they cannot be encoded, so one would stop a write), and the two noncharacters XML forbids.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Longest text kept for a mention; a longer one (a whole book pasted into a feed) is cut here.
MAX_TEXT = 100_000
# Longest link kept: a longer one is no link (cut, it would lead nowhere). A story is keyed by
# its link, and DuckDB refuses an index key over 120 KB: one such link failed a pass's write.
MAX_URL = 8_000


def clean_text(text: str) -> str:
    """`text` without the characters that cannot be stored, encoded or put in XML."""
    return _UNSAFE.sub("", text)


def clean_mention(m: Mention) -> Mention:
    """The mention as it may be stored: every field encodable, the text at most MAX_TEXT long.

    Collectors already clean what they turn from HTML into text; this is the one gate that
    every item passes, whatever its source, so that no single item can stop a write."""
    text = clean_text(m.text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT].rstrip() + " […]"
    author = clean_text(m.author) if m.author else m.author
    return replace(
        m,
        native_id=clean_text(m.native_id)[:2000],
        url=_link(m.url),
        title=" ".join(clean_text(m.title).split())[:1000],
        text=text,
        author=" ".join(author.split())[:200] if author else None,
        shared_url=(_link(m.shared_url) or None) if m.shared_url else m.shared_url,
    )


def _link(url: str) -> str:
    url = clean_text(url)
    return url if len(url) <= MAX_URL else ""


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, white space folded.

    The result is text, not markup: whoever puts it back into HTML must escape it.
    """
    if "<" not in markup and "&" not in markup:
        return clean_text(_SPACES.sub(" ", markup)).strip()
    text = _COMMENT.sub(" ", _DROP.sub(" ", markup))
    text = _TAG.sub(" ", _INLINE.sub("", _BREAK.sub("\n", text)))
    text = clean_text(html.unescape(text))
    return _LINES.sub("\n", _SPACES.sub(" ", text)).strip()


def safe_url(url: str | None) -> str:
    """The URL if it is an absolute http(s) URL, else "" (no javascript:, data:, relative)."""
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return url


def safe_link(base: str, href: str) -> str:
    """`href` resolved against `base`, if that makes an absolute http(s) URL, else "": a link
    that cannot be resolved at all ("http://[::1") is no link, not an error."""
    try:
        return safe_url(urljoin(base, href))
    except ValueError:
        return ""


_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid")


# A URL spelled as canonical_url spells it already: lower-case http(s) scheme and host (no
# "www.", no user or brackets), a path not ending in "/", no query or fragment. Most links
# are: they are taken as they are, without splitting them (a pass spells thousands).
_CANONICAL = re.compile(
    r"https?://(?!www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::[0-9]+)?(?:/[^?#\s]*[^/?#\s])?"
)


def canonical_url(url: str) -> str:
    """One spelling per page, so that posts sharing it can be linked: lower-case scheme and
    host, no "www.", no fragment, no tracking parameters, no trailing slash."""
    if _CANONICAL.fullmatch(url):
        return url
    return _canonical_parts(url)


def _canonical_parts(url: str) -> str:
    """canonical_url, the URL split in its parts."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if not parts.netloc:
        return url
    host = parts.netloc.lower().removeprefix("www.")
    query = "&".join(
        p
        for p in parts.query.split("&")
        if p and not p.split("=", 1)[0].lower().startswith(_TRACKING)
    )
    path = parts.path.rstrip("/") or ""
    return f"{parts.scheme.lower()}://{host}{path}" + (f"?{query}" if query else "")
