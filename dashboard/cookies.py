"""The sign-in cookies, set by the dashboard's web server as HttpOnly, so that no script in a
page can read them (a script that got into a page could otherwise send the session away).

A Streamlit page has no HTTP response to set a cookie on. So a page hands the cookie over
(`hand_over`): it is kept in this process under a one-time code, and the browser is sent to
ROUTE with that code; the route (`set_cookie`, served by dashboard/server.py) sets the cookie
and sends the browser back to the page, which starts a new session that the cookie signs in.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

ROUTE = "/_tidings/cookie"
CODE_SECONDS = 60  # a code is used at once, by the redirect that follows it


@dataclass(frozen=True, slots=True)
class HandedOver:
    name: str
    value: str
    max_age: int  # seconds; 0 removes the cookie
    until: float  # epoch s: the code is refused after


_handed: dict[str, HandedOver] = {}
_lock = threading.Lock()
_served = False


def route() -> Route:
    """The route that sets the handed-over cookies, for the dashboard's web server."""
    global _served
    _served = True
    return Route(ROUTE, set_cookie, methods=["GET"])


def served() -> bool:
    """Whether this process serves ROUTE (not when the pages run under `streamlit run
    dashboard/app.py` or in tests of a page): without it, a sign-in lasts as long as the
    browser tab's session."""
    return _served


def hand_over(name: str, value: str, max_age: int, now: float | None = None) -> str:
    """Keep a cookie for ROUTE to set; the one-time code that sets it."""
    now = time.time() if now is None else now
    code = secrets.token_urlsafe(24)
    with _lock:
        for old in [c for c, h in _handed.items() if h.until <= now]:
            del _handed[old]
        _handed[code] = HandedOver(name, value, max_age, now + CODE_SECONDS)
    return code


def take(code: str, now: float | None = None) -> HandedOver | None:
    """The cookie handed over under `code`, once and before it expires."""
    now = time.time() if now is None else now
    with _lock:
        handed = _handed.pop(code, None)
    return handed if handed is not None and handed.until > now else None


def back_to(where: str) -> str:
    """A path of this site to send the browser back to: never another site's address."""
    if not where.startswith("/") or where.startswith(("//", "/\\")):
        return "/"
    return where


async def set_cookie(request: Request) -> Response:
    """Set the cookie handed over under ?code=, then go back to ?back= (a path of this site).
    Only a page of this site sends the browser here: a link from elsewhere sets nothing, so
    no other site can sign a visitor in as someone else."""
    response = RedirectResponse(back_to(request.query_params.get("back", "/")), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return response
    handed = take(request.query_params.get("code", ""))
    if handed is not None:
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
        response.set_cookie(
            handed.name,
            handed.value,
            max_age=handed.max_age,
            path="/",
            # Secure over https only: a browser refuses a Secure cookie from a plain http page.
            secure="https" in (request.url.scheme, forwarded),
            httponly=True,
            samesite="strict",
        )
    return response


def go_set(code: str) -> str:
    """The page's script that sends the browser to ROUTE with `code`, and back here after.
    The code is URL-safe base64: nothing in it can break out of the string."""
    return (
        f"<script>location.replace('{ROUTE}?code={code}&back=' + "
        "encodeURIComponent(location.pathname + location.search));</script>"
    )
