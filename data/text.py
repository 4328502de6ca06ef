"""The one place that turns untrusted HTML from the internet into plain text, and vets URLs."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

_DROP = re.compile(r"<(script|style|template|noscript)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BREAK = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>", re.I)
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
    text = _TAG.sub(" ", _BREAK.sub("\n", text))
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
