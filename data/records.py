"""The plain records that flow from collectors through scoring into the store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Mention:
    """One item a source published, as the collector saw it."""

    source: str  # source id from the config, e.g. "hn"
    native_id: str  # the source's own id, or the canonical URL
    url: str
    title: str
    text: str  # plain text, HTML already stripped
    author: str | None
    published: datetime  # timezone-aware UTC
    reach: int | None = None  # followers, points, karma… as the source gives it
    shared_url: str | None = None  # the link a post shares, if any: cross-posts are linked by it
    # False: the source gave no date we could read, and `published` is when we fetched it.
    published_known: bool = True

    def __post_init__(self) -> None:
        # An API's item of the wrong shape (an author that is an object, a count beyond any
        # integer a store column holds) is refused here, where a collector reads the item and
        # skips it alone (collectors.unexpected), not later, where it would stop a whole write.
        for name in ("source", "native_id", "url", "title", "text"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} is not a string")
        for name in ("author", "shared_url"):
            if not isinstance(getattr(self, name), str | None):
                raise TypeError(f"{name} is not a string")
        if not isinstance(self.published, datetime):
            raise TypeError("published is not a time")
        if self.reach is not None and (
            not isinstance(self.reach, int) or isinstance(self.reach, bool)
        ):
            raise TypeError("reach is not a whole number")
        if self.reach is not None and not -MAX_REACH <= self.reach <= MAX_REACH:
            raise ValueError(f"reach {self.reach} is beyond any count")

    @property
    def id(self) -> str:
        """Stable id: the same item from the same source always gets the same id."""
        return mention_id(self.source, self.native_id)


MAX_REACH = 2**63 - 1  # the store's BIGINT


def mention_id(source: str, native_id: str) -> str:
    return hashlib.blake2b(f"{source}\x1f{native_id}".encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class Score:
    """What the NLP made of a mention, with the model version that made it."""

    mention_id: str
    model_version: str
    terms: tuple[str, ...]  # names of the watched entities the mention is about
    sentiment: float  # in [-1, 1]
    sentiment_label: str  # negative | neutral | positive | unscored (not English)
    lang: str = "und"  # ISO 639-1, or "und" when it could not be told
    intents: dict[str, float] = field(default_factory=dict)  # every intent's confidence, 0..1
    term_sentiments: tuple[float, ...] = ()  # per entity in `terms`: the clauses naming it
    fingerprint: bytes | None = None  # MinHash of the wording, for near-duplicates (nlp.duplicates)
    # The intents that count as present, each from its own threshold (the model's); None: the
    # store applies one plain threshold to `intents`.
    present: tuple[str, ...] | None = None
    # Per entity in `terms`: the probability it is about that entity (nlp.relevance); empty
    # when the context rules alone decided.
    term_relevance: tuple[float, ...] = ()
    # True: it names watched entities but is about none of them (every one's relevance below its
    # threshold); `terms` are the names it uses. Stored so that people can review it ("set
    # aside" on the Mentions page) and a later model can take it back; it counts nowhere.
    set_aside: bool = False

    @property
    def about(self) -> tuple[str, ...]:
        """The watched entities it is about (none when set aside)."""
        return () if self.set_aside else self.terms


@dataclass(frozen=True, slots=True)
class SourceState:
    """What we remember about a source between passes: HTTP caching and health."""

    source: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_fetch_at: datetime | None = None
    items_last_fetch: int = 0
    skipped_last_fetch: int = 0  # items that did not have the shape we expect
    needs_credentials: bool = False  # the source answered 401/403
    cursors: dict[str, str] = field(default_factory=dict)  # per query: where the last pass ended
    encoding_guessed: str | None = None  # the feed declared no usable encoding: we guessed this
    unexpected_samples: tuple[str, ...] = ()  # the first few skipped items, raw and cut short


# What a source may ask us to wait at most (Retry-After, an API's reset time): one asking for
# longer (a typo, or the year 9999) is taken to ask for a week, so its next fetch is a date.
RETRY_AFTER_MAX_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Fetched:
    """The outcome of fetching one source once: items, or why there are none."""

    source: str
    mentions: list[Mention] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    error: str | None = None
    retry_after: float | None = None  # seconds the source asked us to wait, if it did
    cursors: dict[str, str] = field(default_factory=dict)  # per query, for the next pass
    skipped: int = 0  # items skipped because their shape was not what we expect
    needs_credentials: bool = False
    seen: int | None = None  # items the source returned, when `mentions` holds fewer
    encoding_guessed: str | None = None  # the encoding we detected, when none was declared
    samples: tuple[str, ...] = ()  # the first few skipped items, raw and cut short

    @property
    def items_seen(self) -> int:
        return len(self.mentions) if self.seen is None else self.seen
