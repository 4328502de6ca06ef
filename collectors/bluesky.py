"""Bluesky post search through the public AppView API; when the public endpoint refuses, an
app password (BLUESKY_HANDLE and BLUESKY_APP_PASSWORD in the environment) opens a session.

Documented limit: 3,000 requests per 5 minutes per IP.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from collectors.http import FetchError, Http, failed, source_headers, token_in
from collectors.search import first_line, iso, min_interval, search_all
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import safe_url

PUBLIC = "https://public.api.bsky.app"
SESSION = "https://bsky.social"
PER_MINUTE = 300
CREDENTIALS = "set BLUESKY_HANDLE and BLUESKY_APP_PASSWORD (an app password, not your password)"


def parse_post(post: dict, source: str) -> Mention:
    record, author = post["record"], post["author"]
    handle = author["handle"]
    rkey = post["uri"].rsplit("/", 1)[1]
    external = ((record.get("embed") or {}).get("external") or {}).get("uri")
    likes, reposts = post.get("likeCount"), post.get("repostCount")
    return Mention(
        source=source,
        native_id=post["uri"],
        url=f"https://bsky.app/profile/{handle}/post/{rkey}",
        title=first_line(record["text"]),
        text=record["text"],
        author="@" + handle,
        published=iso(record["createdAt"]),
        reach=None if likes is None and reposts is None else (likes or 0) + (reposts or 0),
        shared_url=safe_url(external) or None,
    )


async def _session(http: Http, base: str, handle: str, password: str) -> str:
    url = f"{base}/xrpc/com.atproto.server.createSession"
    response = await http.request(
        "POST", url, json_body={"identifier": handle, "password": password}
    )
    return token_in(response, "accessJwt", url)


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str]
) -> Fetched:
    try:
        configured = source_headers(source)  # the config's own headers, from the environment
    except FetchError as e:
        return failed(source, e)
    interval = min_interval(source, PER_MINUTE)
    endpoint = {"base": str(source.base_url or PUBLIC).rstrip("/"), "headers": configured}

    async def search(query: str, cursor: str | None, since: datetime) -> tuple[list, str, int]:
        oldest = iso(cursor) if cursor else since
        mentions, skipped, newest, page_cursor = [], Unexpected(), oldest, None
        for _ in range(source.max_pages):
            params: dict[str, str | int] = {
                "q": query, "sort": "latest", "limit": 100,
                "since": oldest.isoformat().replace("+00:00", "Z"),
            }  # fmt: skip
            if page_cursor:
                params["cursor"] = page_cursor
            url = f"{endpoint['base']}/xrpc/app.bsky.feed.searchPosts"
            data = await http.get_json(
                url, headers=endpoint["headers"], params=params, min_interval=interval
            )
            posts = data.get("posts") if isinstance(data, dict) else None
            if not isinstance(posts, list):
                raise FetchError(f"{url}: unexpected answer (no 'posts' list)")
            for post in posts:
                try:
                    m = parse_post(post, source.id)
                except ITEM_SHAPE_ERRORS:
                    skipped.add(post)
                    continue
                if m.published > oldest:
                    mentions.append(m)
                    newest = max(newest, m.published)
            page_cursor = data.get("cursor")
            if not page_cursor or not posts:
                break
        return mentions, newest.isoformat(), skipped

    fetched = await search_all(source, state, queries, search, CREDENTIALS)
    handle, password = os.environ.get("BLUESKY_HANDLE"), os.environ.get("BLUESKY_APP_PASSWORD")
    if fetched.needs_credentials and handle and password:
        session_base = str(source.base_url or SESSION).rstrip("/")
        try:
            token = await _session(http, session_base, handle, password)
        except FetchError as e:
            return Fetched(source.id, error=f"{e} — {CREDENTIALS}", needs_credentials=True)
        endpoint.update(
            base=session_base, headers={"Authorization": f"Bearer {token}", **configured}
        )
        fetched = await search_all(source, state, queries, search, CREDENTIALS)
    return fetched
