"""The endpoint's signed links: each link in a client's mail or feed names the client (their
token) and what it is about (an item, a check-in, a digest), signed with HMAC-SHA256 so that no
one can make a link for an item the client never received. A redirect goes to the article's
stored URL, never to one read from the link: the endpoint is no open redirect."""

from __future__ import annotations

import base64
import hashlib
import hmac

from data.clients import Client


def sign(secret: bytes, *parts: str) -> str:
    """A short signature (128 bits, URL-safe) over the parts."""
    mac = hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signed(secret: bytes, purpose: str, token: str, thing: str) -> str:
    """`thing.signature`: the last path segment of a link for `purpose`."""
    return f"{thing}.{sign(secret, purpose, token, thing)}"


def verify(secret: bytes, purpose: str, token: str, segment: str) -> str | None:
    """The thing a signed segment names, or None if its signature is not ours."""
    thing, _, sig = segment.rpartition(".")
    if not thing or not hmac.compare_digest(
        sig.encode(), sign(secret, purpose, token, thing).encode()
    ):
        return None
    return thing


class Links:
    """The URLs of one client's links, under the endpoint's public URL."""

    def __init__(self, base: str, secret: bytes, client: Client) -> None:
        self.base = base.rstrip("/")
        self.secret = secret
        self.token = client.token

    def _url(self, purpose: str, thing: str) -> str:
        return (
            f"{self.base}/{purpose}/{self.token}/{signed(self.secret, purpose, self.token, thing)}"
        )

    def click(self, mention_id: str) -> str:
        return self._url("r", mention_id)

    def more(self, mention_id: str) -> str:
        return self._url("more", mention_id)

    def less(self, mention_id: str) -> str:
        return self._url("less", mention_id)

    def checkin(self, checkin_id: str, answer: int) -> str:
        return f"{self._url('checkin', checkin_id)}?answer={answer}"

    def opened(self, digest_id: str) -> str:
        return self._url("o", digest_id)

    def offer(self) -> str:
        return f"{self.base}/offer/{self.token}"
