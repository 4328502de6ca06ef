"""The one place that turns untrusted HTML from the internet into plain text, and vets URLs."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

_DROP = re.compile(r"<(script|style|template|noscript)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK = re.compile(r"<(?:br|p|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>", re.I)
_INLINE = re.compile(
    r"</?(?:a|b|i|u|s|em|strong|span|code|small|sub|sup|abbr|mark|q)\b[^>]*>", re.I
)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINES = re.compile(r"\s*\n\s*")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, white space folded.

    The result is text, not markup: whoever puts it back into HTML must escape it.
    """
    if "<" not in markup and "&" not in markup:
        return _SPACES.sub(" ", markup).strip()
    text = _COMMENT.sub(" ", _DROP.sub(" ", markup))
    text = _TAG.sub(" ", _INLINE.sub("", _BREAK.sub("\n", text)))
    text = html.unescape(text)
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


_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "ref_src", "igshid")


def canonical_url(url: str) -> str:
    """One spelling per page, so that posts sharing it can be linked: lower-case scheme and
    host, no "www.", no fragment, no tracking parameters, no trailing slash."""
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
