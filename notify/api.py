"""The read-only JSON API on the endpoint: mentions with the dashboard's filters, a page at a
time, and counts per day, watched term and feeling; an OpenAPI document describes it.

Every answer but the OpenAPI document needs the key from $TIDINGS_API_KEY, sent as
`Authorization: Bearer KEY` (or `X-API-Key: KEY`). Without that variable set the API answers
no one.

Roles: the key is one shared credential, not a person. Whoever holds it has a viewer's rights
(the API only reads: nothing it answers changes the store), whether or not the team has people
with roles on the dashboard; what agents and admins do is done on the dashboard, signed in."""

from __future__ import annotations

import hmac
import math
import os
from collections.abc import Callable
from datetime import date, datetime

import pandas as pd
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from data import store
from data.config import Config
from data.errors import StoreLockedError
from data.store import MentionFilter

API_KEY_ENV = "TIDINGS_API_KEY"
MAX_LIMIT = 500
FILTERS = ("term", "source", "kind", "sentiment")
FEELINGS = ("negative", "neutral", "positive", "unscored")


class BadRequest(ValueError):
    pass


def authorized(request: Request, environ: dict[str, str] | None = None) -> bool:
    key = (os.environ if environ is None else environ).get(API_KEY_ENV, "")
    if not key:
        return False
    sent = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        sent = auth[7:].strip()
    return hmac.compare_digest(sent.encode(), key.encode())


def mention_filter(params: dict[str, list[str]]) -> MentionFilter:
    """The dashboard's filter from query parameters; BadRequest names the parameter."""

    def day(name: str) -> date | None:
        values = params.get(name)
        if not values:
            return None
        try:
            return date.fromisoformat(values[-1])
        except ValueError:
            raise BadRequest(f"{name}: not a date (YYYY-MM-DD): {values[-1][:40]!r}") from None

    def number(name: str, default: int, low: int, high: int) -> int:
        values = params.get(name)
        if not values:
            return default
        try:
            n = int(values[-1])
        except ValueError:
            raise BadRequest(f"{name}: not a whole number: {values[-1][:40]!r}") from None
        if not low <= n <= high:
            raise BadRequest(f"{name}: must be from {low} to {high} (got {n})")
        return n

    unknown = sorted(set(params) - {"since", "until", "q", "limit", "offset", *FILTERS})
    if unknown:
        raise BadRequest(f"{unknown[0][:40]}: unknown parameter")
    bad = [s for s in params.get("sentiment", []) if s not in FEELINGS]
    if bad:
        raise BadRequest(f"sentiment: one of {', '.join(FEELINGS)} (got {bad[0][:40]!r})")
    return MentionFilter(
        since=day("since"),
        until=day("until"),
        terms=tuple(params.get("term", [])),
        sources=tuple(params.get("source", [])),
        kinds=tuple(params.get("kind", [])),
        sentiments=tuple(params.get("sentiment", [])),
        text=(params.get("q") or [""])[-1],
        limit=number("limit", 100, 1, MAX_LIMIT),
        offset=number("offset", 0, 0, 10**9),
    )


def _stamp(value: object) -> str | None:
    if isinstance(value, datetime | pd.Timestamp) and not pd.isna(value):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return None


def _plain(value: object) -> object:
    """A cell as JSON holds it: NaN and NaT are null, numpy scalars and arrays plain."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    return value


def mentions_page(db: object, f: MentionFilter) -> dict:
    rows = store.find_mentions(db, f)  # type: ignore[arg-type]
    total = store.count_mentions(db, f)  # type: ignore[arg-type]
    items = []
    for row in rows.to_dict("records"):
        item = {k: _plain(v) for k, v in row.items() if k != "published_known"}
        item["published"] = _stamp(row["published"]) if row["published_known"] else None
        items.append(item)
    more = f.offset + len(items) < total
    return {
        "total": total,
        "limit": f.limit,
        "offset": f.offset,
        "next_offset": f.offset + len(items) if more else None,
        "items": items,
    }


def counts(db: object, f: MentionFilter) -> dict:
    """Stories first seen per day about each watched term, by feeling, and the period's
    totals: what the Overview counts."""
    per_day = store.mentions_per_day(db, f)  # type: ignore[arg-type]
    totals = store.summary(db, f)  # type: ignore[arg-type]
    rows = []
    for r in per_day.to_dict("records"):
        n, neg, pos, uns = (int(r[k]) for k in ("mentions", "negative", "positive", "unscored"))
        rows.append({
            "day": r["day"].date().isoformat() if hasattr(r["day"], "date") else str(r["day"]),
            "term": r["term"], "mentions": n, "negative": neg, "neutral": n - neg - pos - uns,
            "positive": pos, "unscored": uns, "sentiment": _plain(r["sentiment"]),
        })  # fmt: skip
    return {"totals": totals, "per_day_term": rows}


def routes(config: Config) -> list[Route]:
    def answer(read: Callable[[object, MentionFilter], dict]) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse(
                    {"error": f"send the key from {API_KEY_ENV} as 'Authorization: Bearer KEY'"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            params: dict[str, list[str]] = {}
            for name, value in request.query_params.multi_items():
                params.setdefault(name, []).append(value)
            try:
                f = mention_filter(params)
                wait = min(5.0, config.database.lock_timeout_seconds)
                with store.connect(config.db_path, wait) as db:
                    body = read(db, f)
            except BadRequest as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            except StoreLockedError:
                return JSONResponse(
                    {"error": "the store is busy with a pass; try again"},
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
            return JSONResponse(body, headers={"Cache-Control": "no-store"})

        return handler

    def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(config))

    return [
        Route("/api/v1/mentions", answer(mentions_page)),
        Route("/api/v1/counts", answer(counts)),
        Route("/api/v1/openapi.json", openapi),
    ]


def openapi_document(config: Config) -> dict:
    def param(name: str, description: str, schema: dict, many: bool = False) -> dict:
        return {
            "name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "array", "items": schema} if many else schema,
            **({"style": "form", "explode": True} if many else {}),
        }  # fmt: skip

    text = {"type": "string"}
    filters = [
        param("since", "first day (UTC), inclusive", {"type": "string", "format": "date"}),
        param("until", "last day (UTC), inclusive", {"type": "string", "format": "date"}),
        param("term", "watched entity names (any of them)", text, many=True),
        param("source", "source ids from the config (any of them)", text, many=True),
        param("kind", "kinds of source (rss, hackernews, …)", text, many=True),
        param("sentiment", "feelings", {"type": "string", "enum": list(FEELINGS)}, many=True),
        param("q", "words the title or text contains", text),
    ]
    paging = [
        param("limit", "mentions per page", {"type": "integer", "minimum": 1,
                                             "maximum": MAX_LIMIT, "default": 100}),
        param("offset", "mentions to skip", {"type": "integer", "minimum": 0, "default": 0}),
    ]  # fmt: skip

    def answer(description: str, schema: dict) -> dict:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    error = {"type": "object", "properties": {"error": text}, "required": ["error"]}
    errors = {
        "400": answer("a bad parameter, named in the error", error),
        "401": answer("no key, or not the key", error),
        "503": answer("the store is busy; try again", error),
    }
    mention = {
        "type": "object",
        "properties": {
            "id": text, "published": {"type": ["string", "null"], "format": "date-time"},
            "source": text, "kind": {"type": ["string", "null"]}, "title": text, "url": text,
            "text": text, "author": {"type": ["string", "null"]},
            "reach": {"type": ["integer", "null"]}, "terms": {"type": "array", "items": text},
            "sentiment": {"type": "number"}, "sentiment_label": text,
            "intents": {"type": "array", "items": text}, "lang": {"type": ["string", "null"]},
            "also_on": {"type": "integer", "description": "other sources carrying the story"},
        },
    }  # fmt: skip
    integer = {"type": "integer"}
    page = {
        "type": "object",
        "properties": {
            "total": integer,
            "limit": integer,
            "offset": integer,
            "next_offset": {"type": ["integer", "null"]},
            "items": {"type": "array", "items": mention},
        },
    }
    day_term = {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "term": text,
            **{k: integer for k in ("mentions", *FEELINGS)},
            "sentiment": {"type": ["number", "null"]},
        },
    }
    counted = {
        "type": "object",
        "properties": {
            "totals": {
                "type": "object",
                "properties": {k: integer for k in ("mentions", "negative", "positive")},
            },
            "per_day_term": {"type": "array", "items": day_term},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tidings API",
            "version": "1",
            "description": "Read-only: mentions and their counts, as the dashboard shows them. "
            "The API key gives a viewer's rights: it reads, never changes anything.",
        },
        "servers": [{"url": config.push.public_url}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            "/api/v1/mentions": {
                "get": {
                    "summary": "A page of the mentions the filters keep, newest first",
                    "parameters": filters + paging,
                    "responses": {"200": answer("one page", page), **errors},
                }
            },
            "/api/v1/counts": {
                "get": {
                    "summary": "Stories first seen per day about each watched term, by feeling",
                    "parameters": filters,
                    "responses": {"200": answer("counts", counted), **errors},
                }
            },
            "/api/v1/openapi.json": {
                "get": {"summary": "This document", "security": [],
                        "responses": {"200": {"description": "OpenAPI 3.1"}}}
            },
        },
    }  # fmt: skip
