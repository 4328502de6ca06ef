"""The knowledge feed's small web endpoint: each client's Atom feed at an unguessable URL, and
one-click unsubscribe (RFC 8058). `tidings serve` and `tidings demo` start it beside the
dashboard."""

from __future__ import annotations

import html
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from data import clients, engagement, store
from data.clients import Client
from data.config import Config
from data.text import clean_text
from notify import api
from notify.push import feed_url

ATOM = "http://www.w3.org/2005/Atom"


# The pages carry the client's token in their URL: never cached, never sent to another site.
# (same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the form's
# POST, which resubscribe could not tell from a cross-site one.)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
PAGE = (
    "<!doctype html><meta charset='utf-8'><meta name='robots' content='noindex'>"
    "<title>{title}</title><body style='font-family:sans-serif'>{body}</body>"
)


def not_found() -> Response:
    return PlainTextResponse("No such feed or subscription.", status_code=404)


def page(
    title: str, text: str, action: str, button: str, hidden: tuple[str, str] | None = None
) -> Response:
    """A page with one button, a form POSTing to `action` (relative to the page's URL, so it
    works behind a proxy that serves the endpoint under a path)."""
    field = f"<input type='hidden' name='{hidden[0]}' value='{hidden[1]}'>" if hidden else ""
    body = (
        f"<h2>{title}</h2><p>{text}</p><form method='post' action='{html.escape(action)}'>"
        f"{field}<button>{button}</button></form>"
    )
    return HTMLResponse(PAGE.format(title=title, body=body), headers=NO_STORE)


def mask_email(address: str) -> str:
    """Enough of an address for its owner to recognise it, e.g. a***@example.com: the page
    is reachable by whoever holds the link (a forwarded mail, a scanner)."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def origin(url: str) -> str:
    """scheme://host[:port] as a browser writes it in an Origin header."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return ""
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    shown = f":{port}" if port and port != default else ""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{shown}"


def same_origin(request: Request, own: str) -> bool:
    """Whether a POST comes from a page of this endpoint. Browsers say where a request comes
    from in Sec-Fetch-Site (a header no page can set), else in Origin (compared with the
    endpoint's public URL from the config, never the request's own Host header), else in
    Referer. A request with none of them is refused: every browser sends at least one on a
    form's POST, and so would a forged one. This needs no secret and no stored nonce, and a
    page served before a restart still works."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    sent = request.headers.get("origin") or request.headers.get("referer")
    return sent is not None and origin(sent) == own


def atom_feed(feed_url: str, client: Client, items: list[dict], now: datetime) -> bytes:
    """An Atom 1.0 document of what was pushed to the client, newest first. Always valid XML:
    text is stored as the internet gave it, so characters XML cannot hold (controls, lone
    surrogates) are left out here, and a missing author is no author element."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_text(text)
        return el

    def stamp(when: datetime) -> str:
        return when.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", f"urn:tidings:feed:{client.id}")
    sub(feed, "title", f"Reading for {client.name}")
    updated = max((i["delivered_at"] for i in items), default=now.replace(tzinfo=None))
    sub(feed, "updated", stamp(updated))
    sub(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    author = sub(feed, "author")
    sub(author, "name", "Tidings")
    for item in items:
        entry = sub(feed, "entry")
        sub(entry, "id", f"urn:tidings:item:{item['id']}")
        sub(entry, "title", xml_text(item["title"]) or "(untitled)")
        sub(entry, "updated", stamp(item["delivered_at"]))
        sub(entry, "published", stamp(item["published"]))
        sub(entry, "link", rel="alternate", href=item["url"])
        if name := xml_text(item.get("author")).strip():
            sub(sub(entry, "author"), "name", name)
        sub(entry, "summary", xml_text(item["text"])[:500], type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def xml_text(value: object) -> str:
    """Text that XML 1.0 can hold; anything but a string (None, a NaN) is no text."""
    return clean_text(value) if isinstance(value, str) else ""


def create_app(config: Config) -> Starlette:
    from notify import returns  # it uses this module's pages

    # Plain (not async) handlers: Starlette runs them in its thread pool, so a DuckDB file
    # held by the pipeline for a moment never blocks the event loop.
    def connect():  # noqa: ANN202
        return store.connect(config.db_path, config.database.lock_timeout_seconds)

    def feed(request: Request) -> Response:
        with connect() as db:
            client = clients.by_token(db, request.path_params["token"])
            items = clients.feed_items(db, client.id) if client else []
            if client is not None:  # each link through the endpoint's redirect, as in mail
                items = returns.tracked(config, engagement.link_secret(db), client, items)
        if client is None:
            return not_found()
        # The self link is the URL the clients were given, never one built from the request's
        # Host header, which whoever sends the request chooses.
        body = atom_feed(feed_url(config, client), client, items, store.utcnow())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    own_origin = origin(config.push.public_url)

    def unsubscribe(request: Request) -> Response:
        """GET and HEAD (mail link scanners send both) only show the page; the POST acts: the
        page's button, or a mail client's one-click request (RFC 8058), which comes from the
        mail provider's servers without Origin or cookies, so any POST is taken."""
        token = request.path_params["token"]
        with connect() as db:
            client = clients.by_token(db, token)
            if client is not None and request.method == "POST":
                clients.unsubscribe(db, client.id, "client (unsubscribe link)", store.utcnow())
                client = client.model_copy(update={"status": "unsubscribed"})
        if client is None:
            return not_found()
        who = html.escape(mask_email(client.email))
        if client.status == "unsubscribed":
            return page(
                "You are unsubscribed",
                f"{who} will get no more reading lists from us.",
                f"../resubscribe/{token}",
                "Subscribe me again",
            )
        return page(
            "Unsubscribe?",
            f"Stop the reading lists we send to {who}.",
            "",  # this same URL
            "Unsubscribe",
            hidden=("List-Unsubscribe", "One-Click"),
        )

    def resubscribe(request: Request) -> Response:
        """Undo an unsubscribe, from the button on the endpoint's own page only: a form on
        another site could otherwise subscribe someone again with a token it has seen."""
        if not same_origin(request, own_origin):
            return HTMLResponse(
                PAGE.format(
                    title="Not subscribed",
                    body="<p>This request did not come from this site. To subscribe again, use "
                    "the button on the page of your unsubscribe link.</p>",
                ),
                status_code=403,
                headers=NO_STORE,
            )
        with connect() as db:
            client = clients.by_token(db, request.path_params["token"])
            back = client is not None and clients.resubscribe(
                db, client.id, "client (undo link)", store.utcnow()
            )
        if client is None:
            return not_found()
        said = "Welcome back: you are subscribed again." if back else "You are subscribed."
        return HTMLResponse(
            PAGE.format(title="Subscribed", body=f"<h2>{said}</h2>"), headers=NO_STORE
        )

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/feed/{token}", feed),
            Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "HEAD", "POST"]),
            Route("/resubscribe/{token}", resubscribe, methods=["POST"]),
            Route("/health", health),
            *api.routes(config),
            *returns.routes(config, connect),
        ]
    )


def start(config: Config) -> uvicorn.Server:
    """Serve the endpoint from a daemon thread; `server.should_exit = True` stops it."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config), host=config.push.address, port=config.push.port, log_level="warning"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    return server
