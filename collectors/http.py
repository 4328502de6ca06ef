"""The one shared HTTP client every collector fetches through.

It owns the politeness and robustness rules so that no collector re-implements them: timeouts
(per read and per whole request, so a server trickling bytes cannot hold a pass), which
failures are worth another attempt (timeouts, connection errors, 429 and 5xx) and how long a
server asks us to wait (`Retry-After`), conditional GET headers, a cap on body size, a cap on
concurrent requests per host, and one User-Agent.

The attempts themselves are Prefect's: a source's fetch is one task (flows.pipeline) whose
retries, back-off and jitter come from `[http]` (flows.retries). Within it the client makes one
attempt per request; a transient failure with attempts left raises `FetchAgain`, which fails
the task's attempt, and the source's `Attempts` carries what the next attempt needs: the
answers already received (a search source's pages are not fetched again) and the time the
server asked us to wait.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import email.utils
import json
import os
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from data.config import Http as HttpSettings
from data.config import Source
from data.records import RETRY_AFTER_MAX_SECONDS, Fetched
from data.text import safe_link

RETRYABLE = {429, 500, 502, 503, 504}


class FetchError(Exception):
    """A URL could not be fetched; the message says why in one line and names the URL."""

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status

    @property
    def needs_credentials(self) -> bool:
        return self.status in (401, 403)


class FetchAgain(Exception):  # noqa: N818 (an instruction to the task, not an error)
    """A transient failure (timeout, connection error, 429 or 5xx) while the source's fetch has
    attempts left. Not a FetchError, so collectors let it through and the source's task fails
    this attempt: Prefect runs it again after its back-off (flows.retries)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __repr__(self) -> str:  # Prefect's retry line in the run's log shows repr()
        return str(self)


class Attempts:
    """One source's fetch across the attempts of its task: which attempt is under way, the
    answers earlier attempts received (not asked for again), and until when a server asked us
    to wait. Created once per source and pass, before its task's first attempt."""

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts
        self.number = 0
        self.answers: dict[tuple[str, str, bytes], Response] = {}
        self._resume_at = 0.0  # time.monotonic()

    @property
    def last(self) -> bool:
        return self.number >= self.max_attempts

    async def begin(self) -> None:
        """Start the next attempt, once the wait a server asked for (Retry-After) is over:
        the task's back-off may be shorter."""
        self.number += 1
        wait = self._resume_at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def wait_at_least(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)


class CredentialsMissing(FetchError):
    """A source's credentials are not in the environment: nothing was sent."""

    @property
    def needs_credentials(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # after redirects
    status: int  # 200-class or 304
    body: bytes
    headers: httpx.Headers

    @property
    def base_url(self) -> str:
        """What relative links in the body resolve against: its Content-Location, if the
        server gave one, else the address it came from after redirects."""
        location = self.headers.get("content-location", "").strip()
        return (safe_link(self.url, location) or self.url) if location else self.url


class Http:
    """Use as `async with Http(settings) as http:`; one per pass, shared by all sources.
    Each source fetches through `http.attempt(attempts)`, its view of the shared client."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._attempts: Attempts | None = None  # None: one attempt, a failure is final
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_seconds),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            event_hooks={"response": [_refuse_invalid_redirect]},
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._next_slot: dict[str, float] = defaultdict(float)  # per host, loop time

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    def attempt(self, attempts: Attempts) -> Http:
        """This client (its connections, per-host caps and spacing shared) for one attempt of
        one source's fetch."""
        view = copy.copy(self)
        view._attempts = attempts
        return view

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        min_interval: float = 0.0,
    ) -> Response:
        """One GET. Returns 2xx and 304 responses; raises FetchError otherwise, or FetchAgain
        after a transient failure while the source's fetch has attempts left.

        `min_interval` spaces requests to the URL's host by that many seconds, for APIs that
        document a request rate.
        """
        return await self.request(
            "GET", url, headers=headers, params=params, min_interval=min_interval
        )

    async def get_json(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        min_interval: float = 0.0,
    ) -> object:
        response = await self.get(url, headers, params, min_interval)
        try:
            return json.loads(response.body)
        except ValueError:
            raise FetchError(f"{url}: the answer is not JSON") from None
        except RecursionError:  # arrays in arrays, thousands deep
            raise FetchError(f"{url}: the answer is JSON nested too deep to read") from None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        data: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
        min_interval: float = 0.0,
    ) -> Response:
        s = self.settings
        host = urlsplit(url).netloc.lower()
        request = self._client.build_request(
            method, url, headers=headers, params=params, data=data, json=json_body
        )
        attempts = self._attempts
        key = (method, str(request.url), request.content)
        if attempts is not None and key in attempts.answers:
            return attempts.answers[key]  # an earlier attempt of this fetch got it
        wait: float | None = None
        async with self._host_slots(host):
            await self._take_slot(host, min_interval)
            try:
                async with asyncio.timeout(s.timeout_seconds):
                    response = await self._send_once(url, request)
            except _Retryable as e:
                reason, wait = str(e), e.retry_after
            except (TimeoutError, httpx.TimeoutException):
                reason = f"timed out after {s.timeout_seconds:g}s"
            except httpx.TooManyRedirects:
                raise FetchError(f"{url}: too many redirects (a redirect loop?)") from None
            except _InvalidRedirect as e:
                raise FetchError(f"{url}: redirected to an invalid address ({e})") from None
            except httpx.UnsupportedProtocol as e:  # a redirect to ftp:, file:, javascript:…
                raise FetchError(
                    f"{url}: redirected to an address that is not HTTP ({e})"
                ) from None
            except httpx.TransportError as e:
                reason = f"connection failed: {e or type(e).__name__}"
            except httpx.InvalidURL as e:
                raise FetchError(f"{url}: invalid URL: {e}") from None
            else:
                if attempts is not None and not attempts.last:
                    attempts.answers[key] = response
                return response
        if wait is not None and wait > s.max_retry_after_seconds:
            raise FetchError(f"{url}: {reason}; asked to wait {wait:.0f}s", retry_after=wait)
        if attempts is None or attempts.last:
            n = attempts.max_attempts if attempts is not None else 1
            after = f" (after {n} attempts)" if n > 1 else ""
            raise FetchError(f"{url}: {reason}{after}", retry_after=wait)
        if wait is not None:
            attempts.wait_at_least(wait)
        asked = f"; asked to wait {wait:g}s" if wait is not None else ""
        raise FetchAgain(
            f"{url}: {reason}; attempt {attempts.number} of {attempts.max_attempts}{asked}", wait
        )

    def _host_slots(self, host: str) -> asyncio.Semaphore:
        """The cap on concurrent requests to `host`: its own (`hosts`), else `per_host`."""
        if host not in self._hosts:
            caps, name = self.settings.hosts, urlsplit(f"//{host}").hostname or host
            cap = caps.get(host, caps.get(name, self.settings.per_host))  # "host:port", "host"
            self._hosts[host] = asyncio.Semaphore(cap)
        return self._hosts[host]

    async def _take_slot(self, host: str, min_interval: float) -> None:
        if min_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        wait = self._next_slot[host] - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_slot[host] = loop.time() + min_interval

    async def _send_once(self, url: str, request: httpx.Request) -> Response:
        cap = int(self.settings.max_body_mb * 1024 * 1024)
        r = await self._client.send(request, stream=True)
        try:
            if r.status_code in RETRYABLE:
                raise _Retryable(
                    f"HTTP {r.status_code} {r.reason_phrase}".strip(),
                    parse_retry_after(r.headers.get("retry-after")),
                )
            if r.status_code >= 400:
                raise FetchError(
                    f"{url}: HTTP {r.status_code} {r.reason_phrase}".strip(), status=r.status_code
                )
            if r.status_code == 304:
                return Response(str(r.url), 304, b"", r.headers)
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise FetchError(f"{url}: body of {int(declared):,} bytes exceeds the cap")
            chunks, size = [], 0
            async for chunk in _decoded(r, url, cap):
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"{url}: body exceeds the cap of {cap:,} bytes")
                chunks.append(chunk)
            return Response(str(r.url), r.status_code, b"".join(chunks), r.headers)
        except httpx.DecodingError as e:
            raise FetchError(f"{url}: the body cannot be decoded ({e})") from None
        finally:
            await r.aclose()


# Content codings (RFC 9110 and IANA's registry) that compress a body.
COMPRESSIONS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"})


async def _decoded(r: httpx.Response, url: str, cap: int) -> AsyncIterator[bytes]:
    """The body, decompressed a bounded piece at a time. httpx inflates each piece the network
    brings whole: a gzip "bomb" of 64 KB becomes 64 MB before any cap can look at it (and a
    few sources in flight, gigabytes), so gzip and deflate, what we ask for, are inflated here,
    never more than the cap allows. A compression we did not ask for, or one applied twice
    ("gzip, gzip": httpx would inflate each piece twice over, a bomb's square), is refused in
    one line; a value naming no compression ("identity", or a charset by mistake) is read as
    the plain body it is."""
    encoding = r.headers.get("content-encoding", "").strip().lower()
    codings = [c.strip() for c in encoding.split(",") if c.strip() not in ("", "identity")]
    if codings not in (["gzip"], ["x-gzip"], ["deflate"]):
        if any(c in COMPRESSIONS for c in codings):
            raise FetchError(
                f"{url}: the body is compressed as {encoding!r}, which Tidings does not read "
                "(it asks for gzip or deflate)"
            )
        async for chunk in r.aiter_raw():
            yield chunk
        return
    encoding = codings[0]
    gzip = "gzip" in encoding
    inflate, size, first = (
        zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS),
        0,
        True,
    )
    try:
        async for raw in r.aiter_raw():
            room = cap - size + 1  # one byte past the cap tells the caller it is exceeded
            try:
                piece = inflate.decompress(raw, room)
            except zlib.error:
                if gzip or not first:
                    raise
                inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate sent without its header
                piece = inflate.decompress(raw, room)
            first, size = False, size + len(piece)
            yield piece
        yield inflate.flush()
    except zlib.error as e:
        raise FetchError(f"{url}: the body is not valid {encoding} ({e})") from None


class _InvalidRedirect(Exception):
    pass


async def _refuse_invalid_redirect(response: httpx.Response) -> None:
    """Stop before following a redirect to an address httpx fails on with errors of its own
    (a malformed IDNA host such as xn--, a port beyond 65535), not the ones it says it raises."""
    if not response.has_redirect_location:
        return
    location = response.headers["location"]
    try:
        target = response.url.join(location)
        valid = bool(target.host) and (target.port is None or 0 < target.port < 65536)
    except (httpx.InvalidURL, UnicodeError, ValueError):
        valid = False
    if not valid:
        raise _InvalidRedirect(f"Location: {location[:200]}")


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), at most a
    week."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    waited = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, waited), RETRY_AFTER_MAX_SECONDS)


def token_in(response: Response, key: str, url: str) -> str:
    """The token an API's sign-in answer holds under `key`; a FetchError naming the URL when
    there is none a request header can carry back (no JSON, another type, a byte beyond ASCII:
    sent as it is, it would fail the source with an encoding error)."""
    try:
        token = json.loads(response.body)[key]
    except (ValueError, KeyError, TypeError, IndexError, RecursionError):
        token = None
    if not isinstance(token, str) or not token or not sendable(token):
        raise FetchError(f"{url}: no {key} in the answer")
    return token


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The headers that ask for the body only if it changed. A validator a server sent that no
    request header can carry (a byte beyond ASCII, read as Latin-1) is left out: sent back, it
    would fail every later fetch of the source, since a failure keeps the validators."""
    headers = {}
    if etag and sendable(etag):
        headers["If-None-Match"] = etag
    if last_modified and sendable(last_modified):
        headers["If-Modified-Since"] = last_modified
    return headers


def sendable(value: str) -> bool:
    """Whether a request header can carry `value` as it is."""
    return value.isascii() and value.isprintable()


def source_headers(source: Source) -> dict[str, str]:
    """The source's own request headers (`headers` in its config), each value read from its
    environment variable now. Values are never stored, and no message carries them."""
    headers = {}
    for name, variable in source.headers.items():
        value = os.environ.get(variable, "")
        if not value:
            raise CredentialsMissing(
                f"source {source.id}: header {name} needs the environment variable {variable}, "
                "which is not set"
            )
        if not sendable(value):
            raise CredentialsMissing(
                f"source {source.id}: the environment variable {variable} holds a line break "
                f"or a character an HTTP header cannot carry (header {name})"
            )
        headers[name] = value
    return headers


def failed(source: Source, error: FetchError) -> Fetched:
    """A feed's or page's failed fetch as the source's outcome: why, how long it asked us to
    wait, and whether it wants credentials (and how to give them)."""
    message = str(error)
    if error.status in (401, 403):
        message += f" — {credentials_hint(source)}"
    return Fetched(
        source.id,
        error=message,
        retry_after=error.retry_after,
        needs_credentials=error.needs_credentials,
    )


def credentials_hint(source: Source) -> str:
    """What to do when a feed or page refuses us (401/403)."""
    if source.headers:
        names = ", ".join(sorted(set(source.headers.values())))
        return f"needs credentials: check the value of {names}"
    return (
        "needs credentials: give the source headers read from the environment, such as "
        'headers = {Authorization = "FEED_TOKEN"}, and set FEED_TOKEN'
    )
