"""Mastodon: public hashtag timelines on a list of instances and, with a token
(MASTODON_TOKEN in the environment), full-text search of statuses.

Boosts are resolved to the status they boost, so a boost and its original are one mention.
Documented limit: 300 requests per 5 minutes per account or IP.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote, urlsplit

from collectors.http import FetchError, Http, failed, source_headers
from collectors.search import first_line, iso, min_interval, search_all
from collectors.unexpected import ITEM_SHAPE_ERRORS, Unexpected
from data.config import Source
from data.records import Fetched, Mention, SourceState
from data.text import html_to_text, safe_url

PER_MINUTE = 60
CREDENTIALS = "set MASTODON_TOKEN (an access token with read:search scope)"


def hashtag(term: str) -> str:
    """The hashtag people would use for a term: "Nimbus Notes" -> "nimbusnotes"."""
    return re.sub(r"\W", "", term).lower()


def parse_status(status: dict, source: str, instance: str = "") -> Mention:
    """A status (or the status a boost boosts) as a mention; raises on the wrong shape.
    `instance`: the host the status was read from, whose own accounts come as plain `user`."""
    original = status.get("reblog") or status
    account = original["account"]
    text = html_to_text(original["content"])
    warning = original.get("spoiler_text")
    card = original.get("card") or {}
    return Mention(
        source=source,
        native_id=original["uri"],  # the same status seen through any instance has one uri
        url=safe_url(original.get("url")) or safe_url(original["uri"]),
        title=first_line(warning or text),
        text=text,
        author=handle(account, instance),
        published=iso(original["created_at"]),
        reach=account.get("followers_count"),
        shared_url=safe_url(card.get("url")) or None,
    )


# Pleroma and Akkoma number statuses with flake ids: a 128-bit number (its first 64 bits the
# time) in base 62, digits then capitals then small letters, as ASCII orders them.
FLAKE_ID = re.compile(r"[0-9A-Za-z]{1,24}")


def status_id(value: object) -> str:
    """A status's id, which orders an instance's statuses (the cursor is the newest seen).
    Mastodon's are 64-bit numbers written as text, Pleroma's and Akkoma's flake ids; a larger
    number or a longer id (a bug, a hostile server) would move the cursor past every status to
    come, so the status is skipped instead."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("the id is neither text nor a number")
    text = str(value).strip()
    if text.isdigit() or isinstance(value, int):
        if not 0 <= int(text) < 2**63:
            raise ValueError(f"id {value!r} is beyond a 64-bit number")
        return str(int(text))
    if not FLAKE_ID.fullmatch(text):
        raise ValueError(f"id {value!r} is neither a number nor a flake id")
    return text


def id_order(status_id: str) -> tuple[int, int, str]:
    """The order of two ids of one instance: numbers by value, flake ids by their base-62
    value (the longer the larger), a number before a flake id (an instance that moved from
    Mastodon's numbers to flakes numbered its older statuses so)."""
    if status_id.isdigit():
        return (0, int(status_id), "")
    return (1, len(status_id), status_id)


def handle(account: dict, instance: str) -> str:
    """@user@instance, always: an instance names its own accounts without their instance, so
    the same person would be two authors depending on where we read them."""
    acct = str(account["acct"]).lstrip("@")
    if "@" in acct:
        return "@" + acct
    home = urlsplit(str(account.get("url") or "")).hostname or instance.split(":")[0]
    return f"@{acct}@{home}" if home else "@" + acct


async def collect(
    http: Http, source: Source, state: SourceState, queries: Sequence[str]
) -> Fetched:
    try:
        configured = source_headers(source)  # the config's own headers, from the environment
    except FetchError as e:
        return failed(source, e)
    token = os.environ.get("MASTODON_TOKEN")
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **configured}
    interval = min_interval(source, PER_MINUTE)
    instances = {urlsplit(str(i)).netloc: str(i).rstrip("/") for i in source.instances}
    tags = source.hashtags or list(dict.fromkeys(hashtag(q) for q in queries if hashtag(q)))

    async def search(key: str, cursor: str | None, since: datetime) -> tuple[list, str | None, int]:
        host, what, term = key.split(" ", 2)
        base = instances[host]
        if what == "tag":
            url = f"{base}/api/v1/timelines/tag/{quote(term.lstrip('#'))}"
            params: dict[str, str | int] = {"limit": 40}
        else:
            url = f"{base}/api/v2/search"
            params = {"q": term, "type": "statuses", "limit": 40, "resolve": "false"}
        if cursor:
            params["since_id"] = cursor
        mentions, skipped, newest, max_id = [], Unexpected(), cursor, None
        for _ in range(source.max_pages):
            if max_id:
                params["max_id"] = max_id
            data = await http.get_json(url, headers=headers, params=params, min_interval=interval)
            statuses = data.get("statuses") if isinstance(data, dict) else data
            if not isinstance(statuses, list):
                raise FetchError(f"{url}: unexpected answer (no list of statuses)")
            ids, too_old = [], False
            for status in statuses:
                try:
                    ids.append(status_id(status["id"]))
                    m = parse_status(status, source.id, host)
                except ITEM_SHAPE_ERRORS:
                    skipped.add(status)
                    continue
                if m.published < since:
                    too_old = True
                    continue
                mentions.append(m)
            if ids:
                top = max(ids, key=id_order)
                if newest is None or id_order(top) > id_order(newest):
                    newest = top
            # Pages run newest first: the next is older than the smallest id on this one.
            if not ids or too_old or len(statuses) < int(params["limit"]) or what != "tag":
                break
            max_id = min(ids, key=id_order)
        return mentions, newest, skipped

    keys = [f"{host} tag {tag}" for host in instances for tag in tags]
    if token:
        keys += [f"{host} search {q}" for host in instances for q in queries]
    return await search_all(source, state, keys, search, CREDENTIALS)
