"""The return path on the clients' endpoint: a click's signed redirect, "more / less like this",
check-in answers, an offer to hear more often and (only when enabled) opens.

Mail scanners open every link in a mail, so nothing that a person decides is recorded by a GET:
feedback, answers and offers open a page whose button POSTs. A click is the exception, as it
must take the reader to the article at once; a HEAD (what many scanners send) records nothing,
and a GET that looks like a machine's (`by_a_machine`) is kept as a scan: it still redirects,
but it is neither counted as a click (which the engagement rules act on) nor learned from.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import duckdb
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from data import clients, engagement, store
from data.clients import Client
from data.config import Config
from notify.digest import FASTER, learn, matched_phrases
from notify.links import Links, verify

# A 1×1 transparent GIF: what an open-tracking image answers.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Link scanners and previewers that say what they are (a person's browser names none of these).
MACHINE_AGENTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|scanner|safelinks|proofpoint|mimecast|barracuda"
    r"|urldefense|facebookexternalhit|headlesschrome|phantomjs",
    re.IGNORECASE,
)
# A scanner at the recipient's gateway opens the links as the mail arrives, and all at once; a
# person needs longer than this to open the mail, and to come back for a second link.
SCAN_AFTER_SENDING = timedelta(seconds=20)
SCAN_BURST = timedelta(seconds=2)
SCALES = {"1-5": [(n, str(n)) for n in range(1, 6)], "thumbs": [(5, "👍"), (1, "👎")]}


def _page(title: str, body: str, status: int = 200) -> Response:
    from notify.web import NO_STORE, PAGE

    return HTMLResponse(PAGE.format(title=title, body=body), status_code=status, headers=NO_STORE)


def invalid_link() -> Response:
    return _page(
        "Link not valid",
        "<h2>This link is not valid</h2><p>It may have been cut short or changed. The links in "
        "our mail work as they were sent.</p>",
        404,
    )


def tracked(config: Config, secret: bytes, client: Client, items: list[dict]) -> list[dict]:
    """Feed items whose link goes through the endpoint's redirect, as the mail's do."""
    links = Links(config.push.public_url, secret, client)
    return [{**i, "url": links.click(i["id"])} for i in items]


def learn_from(
    db: duckdb.DuckDBPyConnection, client: Client, mention_id: str, signal: str, now: datetime
) -> dict[str, float]:
    """Move the client's weights for the phrases an item matched; return the new ones."""
    article = engagement.article(db, mention_id) or {}
    changed = learn(engagement.weights(db, client.id), matched_phrases(client, article), signal)
    engagement.set_weights(db, client.id, changed, "learned", now)
    return changed


def by_a_machine(
    db: duckdb.DuckDBPyConnection,
    user_agent: str,
    client_id: str,
    digest_id: str,
    mention_id: str,
    now: datetime,
) -> str | None:
    """Why a GET of a digest's link looks like a machine's, or None if it looks like a person's:
    no browser's user agent, the mail only just sent, or another of its links opened at once."""
    if not user_agent.strip() or MACHINE_AGENTS.search(user_agent):
        return "user agent"
    sent = engagement.digest_sent_at(db, digest_id)
    if sent is not None and timedelta(0) <= now - sent < SCAN_AFTER_SENDING:
        return "as the mail arrived"
    if engagement.opened_since(db, client_id, digest_id, mention_id, now - SCAN_BURST):
        return "with another link at once"
    return None


def routes(
    config: Config, connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
) -> list[Route]:
    from notify.web import origin, same_origin

    track_opens = config.push.track_opens
    own_origin = origin(config.push.public_url)

    def resolve(
        db: duckdb.DuckDBPyConnection, request: Request, purpose: str
    ) -> tuple[Client, str] | None:
        """The client and the thing a signed link names, if the link is genuine."""
        client = clients.by_token(db, request.path_params["token"])
        if client is None:
            return None
        thing = verify(
            engagement.link_secret(db), purpose, client.token, request.path_params["thing"]
        )
        return (client, thing) if thing else None

    def click(request: Request) -> Response:
        with connect() as db:
            db.begin()
            found = resolve(db, request, "r")
            if found is None:
                db.rollback()
                return invalid_link()
            client, mention_id = found
            digest = engagement.delivered_in(db, client.id, mention_id)
            url = engagement.article_url(db, mention_id) if digest else None
            if url is None or urlsplit(url).scheme.lower() not in ("http", "https"):
                db.rollback()
                return invalid_link()
            if request.method == "GET":
                now = store.utcnow()
                agent = request.headers.get("user-agent", "")
                why = by_a_machine(db, agent, client.id, digest, mention_id, now)
                if why is None:
                    # Every click is kept; the interests learn from the first on an item only,
                    # so a link opened again weighs nothing more.
                    first = not engagement.clicked(db, client.id, mention_id)
                    engagement.record_event(db, client.id, "click", mention_id, digest, now)
                    if first:
                        learn_from(db, client, mention_id, "click", now)
                else:
                    engagement.record_event(db, client.id, "scan", mention_id, digest, now)
                    if why == "with another link at once":
                        # The link opened just before was the same machine's: take it back.
                        since = now - SCAN_BURST
                        for item in engagement.clicks_to_scans(db, client.id, digest, since):
                            learn_from(db, client, item, "unclick", now)
            db.commit()
        return RedirectResponse(
            url,
            status_code=302,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    def feedback(request: Request) -> Response:
        signal = request.url.path.strip("/").split("/", 1)[0]  # more | less
        with connect() as db:
            db.begin()
            found = resolve(db, request, signal)
            if found is None or not engagement.delivered_in(db, found[0].id, found[1]):
                db.rollback()
                return invalid_link()
            client, mention_id = found
            article = engagement.article(db, mention_id) or {}
            title = html.escape(article.get("title") or "this item")
            if request.method == "POST":
                now = store.utcnow()
                digest = engagement.delivered_in(db, client.id, mention_id)
                engagement.record_event(db, client.id, signal, mention_id, digest, now)
                learn_from(db, client, mention_id, signal, now)
            db.commit()
        if request.method == "POST":
            said = "more" if signal == "more" else "fewer"
            return _page(
                "Thank you",
                f"<h2>Thank you</h2><p>You will see {said} items like “{title}”.</p>",
            )
        word = "More" if signal == "more" else "Less"
        return _page(
            f"{word} like this",
            f"<h2>{word} like this?</h2><p>“{title}”</p><form method='post' action=''>"
            f"<button>{word} like this, please</button></form>",
        )

    def checkin(request: Request) -> Response:
        with connect() as db:
            db.begin()
            found = resolve(db, request, "checkin")
            ask = engagement.checkin(db, found[1]) if found else None
            if found is None or ask is None or ask.client_id != found[0].id:
                db.rollback()
                return invalid_link()
            options = SCALES.get(ask.scale, SCALES["1-5"])
            values = {v for v, _ in options}
            if request.method == "POST":
                form = _form(request)
                try:
                    answer = int(form.get("answer", ""))
                except ValueError:
                    answer = 0
                if answer not in values:
                    db.rollback()
                    return _page("Choose an answer", "<h2>Please choose an answer</h2>", 400)
                comment = form.get("comment", "")
                engagement.answer_checkin(db, ask.id, answer, comment, store.utcnow())
                db.commit()
                return _page("Thank you", "<h2>Thank you for your answer</h2>")
            db.commit()
        chosen = request.query_params.get("answer", "")
        radios = "".join(
            f"<label style='margin-right:12px'><input type='radio' name='answer' value='{v}'"
            f"{' checked' if str(v) == chosen else ''}> {html.escape(label)}</label>"
            for v, label in options
        )
        return _page(
            "Your answer",
            f"<h2>{html.escape(ask.question)}</h2><form method='post' action=''>"
            f"<p>{radios}</p><p><textarea name='comment' rows='3' cols='50' "
            f"placeholder='Anything to add? (optional)'></textarea></p>"
            "<button>Send my answer</button></form>",
        )

    def opened(request: Request) -> Response:
        if not track_opens:
            return invalid_link()
        with connect() as db:
            found = resolve(db, request, "o")
            if found is None:
                return invalid_link()
            if request.method == "GET":
                engagement.record_event(db, found[0].id, "open", None, found[1], store.utcnow())
        return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})

    def offer(request: Request) -> Response:
        """A client whom an engagement rule offered more: the button takes the faster cadence
        (logged, shown on the Clients page, undoable there)."""
        with connect() as db:
            db.begin()
            client = clients.by_token(db, request.path_params["token"])
            offered = client and engagement.last_mail(db, client.id, "offer")
            changed = client and engagement.last_cadence_change(db, client.id)
            open_offer = bool(offered) and (changed is None or offered > changed)
            faster = FASTER.get(client.cadence) if client else None
            if client is None or not open_offer or faster is None:
                db.rollback()
                if client is None:
                    return invalid_link()
                return _page("No offer", "<h2>There is no offer waiting for you</h2>")
            if request.method == "POST" and not same_origin(request, own_origin):
                db.rollback()
                return _page("Not changed", "<p>Use the button on the offer's own page.</p>", 403)
            if request.method == "POST":
                engagement.change_cadence(
                    db, client.id, faster, "the client accepted the offer of more", None,
                    store.utcnow(),
                )  # fmt: skip
                db.commit()
                return _page("Done", f"<h2>Done: your reading list now comes {faster}.</h2>")
            db.commit()
        return _page(
            "More often?",
            f"<h2>Your reading list {faster} instead of {client.cadence}?</h2>"
            "<form method='post' action=''><button>Yes, more often</button></form>",
        )

    return [
        Route("/r/{token}/{thing}", click, methods=["GET", "HEAD"]),
        Route("/more/{token}/{thing}", feedback, methods=["GET", "HEAD", "POST"]),
        Route("/less/{token}/{thing}", feedback, methods=["GET", "HEAD", "POST"]),
        Route("/checkin/{token}/{thing}", checkin, methods=["GET", "HEAD", "POST"]),
        Route("/o/{token}/{thing}", opened, methods=["GET", "HEAD"]),
        Route("/offer/{token}", offer, methods=["GET", "HEAD", "POST"]),
    ]


def _form(request: Request) -> dict[str, str]:
    """The posted form, read in the handler's thread (handlers are plain functions)."""
    import anyio.from_thread

    async def read() -> dict[str, str]:
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    return anyio.from_thread.run(read)
