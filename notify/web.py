"""The knowledge feed's small web endpoint: each client's Atom feed at an unguessable URL, and
one-click unsubscribe (RFC 8058). `tidings serve` and `tidings demo` start it beside the
dashboard."""

from __future__ import annotations

import html
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from data import clients, store
from data.clients import Client
from data.config import Config

ATOM = "http://www.w3.org/2005/Atom"


def not_found() -> Response:
    return PlainTextResponse("No such feed or subscription.", status_code=404)


def atom_feed(feed_url: str, client: Client, items: list[dict], now: datetime) -> bytes:
    """An Atom 1.0 document of what was pushed to the client, newest first."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
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
        sub(entry, "title", item["title"] or "(untitled)")
        sub(entry, "updated", stamp(item["delivered_at"]))
        sub(entry, "published", stamp(item["published"]))
        sub(entry, "link", rel="alternate", href=item["url"])
        if item.get("author"):
            sub(sub(entry, "author"), "name", item["author"])
        sub(entry, "summary", (item["text"] or "")[:500], type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def create_app(config: Config) -> Starlette:
    # Plain (not async) handlers: Starlette runs them in its thread pool, so a DuckDB file
    # held by the pipeline for a moment never blocks the event loop.
    def connect():  # noqa: ANN202
        return store.connect(config.db_path, config.database.lock_timeout_seconds)

    def set_status(token: str, status: str) -> Client | None:
        with connect() as db:
            client = clients.by_token(db, token)
            if client is not None and status == "unsubscribed":
                clients.unsubscribe(db, client.id, "client (unsubscribe link)", store.utcnow())
            elif client is not None:
                clients.resubscribe(db, client.id, "client (undo link)", store.utcnow())
        return client

    def feed(request: Request) -> Response:
        with connect() as db:
            client = clients.by_token(db, request.path_params["token"])
            items = clients.feed_items(db, client.id) if client else []
        if client is None:
            return not_found()
        body = atom_feed(str(request.url), client, items, store.utcnow())
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    def unsubscribe(request: Request) -> Response:
        token = request.path_params["token"]
        client = set_status(token, "unsubscribed")
        if client is None:
            return not_found()
        if request.method == "POST":  # a mail client's one-click request
            return PlainTextResponse("Unsubscribed.")
        return HTMLResponse(
            f"<!doctype html><title>Unsubscribed</title><body style='font-family:sans-serif'>"
            f"<h2>You are unsubscribed</h2><p>{html.escape(client.email)} will get no more "
            f"reading lists from us.</p><form method='post' action='/resubscribe/{token}'>"
            f"<button>That was a mistake: subscribe me again</button></form></body>"
        )

    def resubscribe(request: Request) -> Response:
        if set_status(request.path_params["token"], "active") is None:
            return not_found()
        return HTMLResponse("<!doctype html><title>Subscribed</title><h2>Welcome back.</h2>")

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/feed/{token}", feed),
            Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
            Route("/resubscribe/{token}", resubscribe, methods=["POST"]),
            Route("/health", health),
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
