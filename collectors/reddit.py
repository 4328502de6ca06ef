"""Reddit posts and comments, from the search listings (newest first).

Without credentials the public JSON listings allow about 10 requests a minute; with OAuth
client credentials (REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET in the environment) the API
allows 100 a minute, and we ask for a token first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from collectors.http import FetchError, Http, basic_auth, failed, source_headers, token_in
from collectors.search import epoch, min_interval, search_all
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_url

PUBLIC = "https://www.reddit.com"
OAUTH = "https://oauth.reddit.com"
PER_MINUTE_PUBLIC, PER_MINUTE_OAUTH = 10, 100
CREDENTIALS = "set REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET (a Reddit 'script' app)"
COMMENTS = " [comments]"  # cursor key suffix: posts and comments are searched separately


def parse_child(child: dict, source: str) -> Mention:
    """One listing child (t3 post or t1 comment) as a mention; raises on the wrong shape."""
    kind, data = child["kind"], child["data"]
    permalink = _permalink(kind, data)
    if kind == "t3":
        title = html_to_text(data["title"])
        text = html_to_text(data.get("selftext") or "")
        link = safe_url(data.get("url"))
        shared = None if data.get("is_self") or "reddit.com" in link else (link or None)
    elif kind == "t1":
        title = f"Re: {html_to_text(data.get('link_title') or 'a post')}"
        text = html_to_text(data["body"])
        shared = None
    else:
        raise ValueError(f"unexpected kind {kind!r}")
    author = data.get("author")
    return Mention(
        source=source,
        native_id=data.get("name") or f"{kind}_{data['id']}",
        url=permalink,
        title=title,
        text=text,
        author=None if author in (None, "[deleted]") else f"u/{author}",
        published=epoch(data["created_utc"]),
        reach=int(data["score"]) if data.get("score") is not None else None,
        shared_url=shared,
    )


def _permalink(kind: str, data: dict) -> str:
    """The item's page. Some answers (comments especially) come without `permalink`: Reddit
    finds a comment from its post's id and its own, under any slug."""
    if data.get("permalink"):
        return "https://www.reddit.com" + str(data["permalink"])
    if kind == "t1":
        post = str(data["link_id"]).removeprefix("t3_")
        return f"https://www.reddit.com/comments/{post}/_/{data['id']}/"
    return f"https://www.reddit.com/comments/{data['id']}/"


async def _token(http: Http, base: str, client_id: str, secret: str) -> str:
    response = await http.request(
        "POST",
        f"{base}/api/v1/access_token",
        data={"grant_type": "client_credentials"},
        headers=basic_auth(client_id, secret),
    )
    return token_in(response, "access_token", f"{base}/api/v1/access_token")


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str]
) -> Fetched:
    try:
        configured = source_headers(source)  # the config's own headers, from the environment
    except FetchError as e:
        return failed(source, e)
    client_id = os.environ.get("REDDIT_CLIENT_ID")
    secret = os.environ.get("REDDIT_CLIENT_SECRET")
    headers: dict[str, str] = dict(configured)
    if client_id and secret:
        auth_base = str(source.base_url or PUBLIC).rstrip("/")
        try:
            headers["Authorization"] = f"Bearer {await _token(http, auth_base, client_id, secret)}"
        except FetchError as e:
            return Fetched(
                source.id,
                error=f"{e} — check {CREDENTIALS.removeprefix('set ')}",
                needs_credentials=e.needs_credentials,
            )
        base = str(source.base_url or OAUTH).rstrip("/")
        interval = min_interval(source, PER_MINUTE_OAUTH)
    else:
        base = str(source.base_url or PUBLIC).rstrip("/")
        interval = min_interval(source, PER_MINUTE_PUBLIC)
    url = f"{base}/search.json"

    async def search(key: str, cursor: str | None, since: datetime) -> tuple[list, str, int]:
        query = key.removesuffix(COMMENTS)
        kind = "comment" if key.endswith(COMMENTS) else "link"
        oldest = float(cursor) if cursor else since.timestamp()
        mentions, skipped, newest, after = [], Unexpected(), oldest, None
        for _ in range(source.max_pages):
            params: dict[str, str | int] = {
                "q": query, "sort": "new", "type": kind, "limit": 100, "raw_json": 1,
            }  # fmt: skip
            if after:
                params["after"] = after
            data = await http.get_json(url, headers=headers, params=params, min_interval=interval)
            try:
                listing = data["data"]  # type: ignore[index]
                children = listing["children"]
                if not isinstance(children, list):
                    raise TypeError
            except ITEM_SHAPE_ERRORS:
                raise FetchError(f"{url}: unexpected answer (no listing)") from None
            reached_old = False
            for child in children:
                try:
                    m = parse_child(child, source.id)
                except ITEM_SHAPE_ERRORS:
                    skipped.add(child)
                    continue
                stamp = m.published.timestamp()
                if stamp <= oldest:
                    reached_old = True  # newest first: everything after this is known
                    break
                mentions.append(m)
                newest = max(newest, stamp)
            after = listing.get("after")
            if reached_old or not after:
                break
        return mentions, str(newest), skipped

    keys = [k for q in queries for k in (q, q + COMMENTS)]
    return await search_all(source, state, keys, search, CREDENTIALS)
