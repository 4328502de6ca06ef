"""The config file (`tidings.toml`) and its validated model.

A bad file never produces a traceback: `load_config` raises `ConfigError` with one line naming
the file, the key and what is wrong.
"""

from __future__ import annotations

import os
import re
import tomllib
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from data import outlets
from data.database import Lake, check_url, lake_from_config
from data.errors import ConfigError
from data.query import parse as parse_query

DEFAULT_CONFIG = "tidings.toml"
CONFIG_ENV = "TIDINGS_CONFIG"
PASSWORD_ENV = "TIDINGS_DASHBOARD_PASSWORD"  # noqa: S105 (the variable's name, not a secret)

NonEmpty = Annotated[str, Field(min_length=1)]
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # line breaks among them


def _one_line(value: str) -> str:
    """Settings that end up in a header or a protocol command (User-Agent, SMTP login)."""
    if CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _host(value: str) -> str:
    if not value or CONTROL.search(value) or any(c.isspace() for c in value):
        raise ValueError("must be a host name or address, without spaces")
    return value


def _base_url(value: str) -> str:
    """Where people reach us, for links in mail and feeds: a plain http(s) address to which
    paths are appended (so no query or fragment), never a script and no password."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        parts = None
    if (
        parts is None
        or CONTROL.search(value)
        or any(c.isspace() for c in value)
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or "?" in value
        or "#" in value
    ):
        raise ValueError(
            "must be an http(s) address such as https://tidings.example.com "
            "(no query, fragment or password)"
        )
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
Host = Annotated[str, AfterValidator(_host)]
BaseUrl = Annotated[str, AfterValidator(_base_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Context(_Strict):
    """For ambiguous names: words that must (or must not) stand near a match."""

    requires: list[NonEmpty] = []  # one of these within `window` words of the match
    excludes: list[NonEmpty] = []  # none of these within `window` words of the match
    window: Annotated[int, Field(ge=1, le=100)] = 15


class Watch(_Strict):
    """Something the business wants to hear about: itself, a product, a person, a rival.

    `terms` are alternatives matched as whole words; `query` is a boolean query (see
    data/query.py) for what terms cannot say; either matching is enough. A text containing one
    of `exclude` is not about this entity, nor one failing its `context`.
    """

    name: NonEmpty
    kind: Literal["brand", "product", "person", "competitor"] = "brand"
    terms: list[NonEmpty] = []
    query: str | None = None
    exclude: list[NonEmpty] = []
    context: Context | None = None

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_query(value)  # QuerySyntaxError is a ValueError: pydantic reports it
        return value

    @model_validator(mode="after")
    def _something_to_match(self) -> Watch:
        if not self.terms and not self.query:
            raise ValueError("a watch needs terms or a query")
        return self


SourceKind = Literal["rss", "hackernews", "reddit", "mastodon", "bluesky", "newssearch", "webpage"]
NEEDS_URL = {"rss", "webpage"}
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,100}")
# Set by the HTTP client itself: a source changing them would break the request.
FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "user-agent"}


class Selectors(_Strict):
    """CSS selectors that pick items out of a web page without a feed."""

    item: NonEmpty  # each match is one item; the others are looked up inside it
    title: str | None = None
    link: str | None = None  # an <a> (its href) inside the item; default: the first <a>
    text: str | None = None  # default: the item's whole text
    date: str | None = None  # an element with a datetime attribute or a date as text
    author: str | None = None

    @field_validator("item", "title", "link", "text", "date", "author")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        """A selector that cannot compile would stop the source at run time: say so now."""
        if value is not None:
            import soupsieve  # with BeautifulSoup: only a config with web pages needs it

            try:
                soupsieve.compile(value)
            except soupsieve.SelectorSyntaxError as e:
                # Its message goes on over lines, drawing a caret under the fault.
                raise ValueError(f"not a valid CSS selector: {str(e).splitlines()[0]}") from None
        return value


class Source(_Strict):
    """A place to listen to.

    Feeds and web pages take a `url`. Search sources (hackernews, reddit, mastodon, bluesky,
    newssearch) take `queries`, which default to every watched term, so a new watched term is
    searched everywhere without per-source configuration.
    """

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: SourceKind = "rss"
    url: HttpUrl | None = None
    base_url: HttpUrl | None = None  # the API's address, when not the public default
    queries: list[NonEmpty] | None = None
    interval_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60
    lookback_days: Annotated[int, Field(ge=1, le=365)] = 7  # how far back a first pass goes
    max_pages: Annotated[int, Field(ge=1, le=100)] = 5  # per query and pass
    requests_per_minute: Annotated[float, Field(gt=0)] | None = None  # default: the API's limit
    enabled: bool = True
    knowledge: bool = False  # keep every item as an article for client digests, watched or not
    # mastodon
    instances: list[HttpUrl] = [HttpUrl("https://mastodon.social")]
    hashtags: list[NonEmpty] | None = None  # default: the watched terms, spaces removed
    # webpage
    selectors: Selectors | None = None
    # Request headers for private feeds and APIs: header name -> the name of the environment
    # variable holding its value, read at fetch time (the value never enters this file).
    headers: dict[str, str] = {}

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        # Messages name the header, never the value: it may be a secret pasted in by mistake.
        for name, variable in value.items():
            if not HEADER_NAME.fullmatch(name) or name.lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"{name[:40]!r} is not a header a source may set")
            if not ENV_NAME.fullmatch(variable):
                raise ValueError(
                    f"{name}: give the name of an environment variable holding the value "
                    "(such as FEED_TOKEN), not the value itself"
                )
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> Source:
        if self.kind in NEEDS_URL and self.url is None:
            raise ValueError(f"a {self.kind} source needs a url")
        if self.kind == "webpage" and self.selectors is None:
            raise ValueError("a webpage source needs [sources.selectors] with at least item")
        return self


class Database(_Strict):
    path: Path = Path("var/tidings.duckdb")
    lock_timeout_seconds: Annotated[float, Field(ge=0, le=600)] = 30.0
    # A DuckLake shared by several machines instead of the file at `path` (docs/scale.md):
    # url = "ducklake:postgres:dbname=… host=… user=…", data_path = its Parquet files' folder.
    url: Annotated[str, AfterValidator(check_url)] | None = None
    data_path: str | None = None

    @model_validator(mode="after")
    def _lake_needs_data_path(self) -> Database:
        if self.url and not self.data_path:
            raise ValueError("a ducklake url needs data_path: where its Parquet files go")
        return self


class Dashboard(_Strict):
    address: Host = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8501
    base_url: BaseUrl | None = None  # how people reach it, for links in emails

    @property
    def is_local(self) -> bool:
        return self.address in {"127.0.0.1", "localhost", "::1"}


class Http(_Strict):
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    max_retry_after_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    backoff_seconds: Annotated[float, Field(ge=0, le=600)] = 1.0  # first retry's; doubles
    max_body_mb: Annotated[float, Field(gt=0, le=200)] = 10.0
    per_host: Annotated[int, Field(ge=1, le=32)] = 2
    # A host's own cap, where it differs: {"hnrss.org" = 1}. Under Prefect each host's cap is a
    # global concurrency limit "tidings-host:<host>" (flows.limits), changed in the Prefect UI.
    hosts: dict[str, Annotated[int, Field(ge=1, le=32)]] = {}
    user_agent: Annotated[OneLine, Field(min_length=1)] = (
        "Tidings/0.1 (self-hosted mention monitor)"
    )


class Pipeline(_Strict):
    tick_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 5
    # Items scored and stored in one transaction. Each costs a fixed part (opening the store,
    # some 70 statements, a checkpoint) besides its items; a pass holds about two batches.
    # bench/pipeline.py: at 8,000 (was 5,000), 58 k items store in 3 batches instead of 5, and
    # the pass's peak stays under 500 MB at 233 k items.
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 8000


class Prefect(_Strict):
    """The Prefect server `tidings serve` starts (its UI shows every run, with its logs), the
    schedules of the alert and digest deployments, and the work pool that workers share."""

    address: Host = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 4200
    # How long a Prefect server may take to answer once started: a loaded two-core machine
    # needs far more than Prefect's own 20 s.
    startup_timeout_seconds: Annotated[float, Field(ge=5, le=900)] = 120.0
    alerts_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 5  # besides after every pass
    digests_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    # Pass runs go to this work pool's workers (`tidings worker`) instead of `tidings serve`.
    work_pool: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    pass_groups: Annotated[int, Field(ge=1, le=64)] = 1  # the sources split this many ways
    keep_runs_days: Annotated[int, Field(ge=1, le=3650)] = 30  # run history the server keeps

    @property
    def api_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/api"


EMAIL = r"^[^@\s<>,;\x00-\x1f\x7f]+@[^@\s<>,;\x00-\x1f\x7f]+$"


def as_written(value: str) -> str:
    """`value`, if a mail header reads it as this one address; else a ValueError. The pattern
    passes `a"b(c)d@example.com`, which a header reads as abd@example.com, someone else."""
    found = getaddresses([value])
    if len(found) != 1 or found[0][1] != value:
        raise ValueError("not an email address as written (a mail would read another)")
    return value


Email = Annotated[str, Field(pattern=EMAIL), AfterValidator(as_written)]
SMTP_PASSWORD_ENV = "TIDINGS_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a secret)


class Smtp(_Strict):
    """Where mail goes out. The password comes from $TIDINGS_SMTP_PASSWORD, never this file."""

    host: Host = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: OneLine | None = None
    sender: str = "Tidings <tidings@localhost>"
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20.0
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8

    @field_validator("sender")
    @classmethod
    def _one_address(cls, value: str) -> str:
        """The From header of every mail: one address, or a line break would add headers."""
        found = getaddresses([value])
        if CONTROL.search(value) or len(found) != 1 or not re.fullmatch(EMAIL, found[0][1]):
            raise ValueError(
                "must be one address on one line, such as Tidings <tidings@example.com>"
            )
        return value


def timezone_name(value: str, example: str = "Europe/London") -> str:
    """`value`, if it names a timezone; else a ValueError saying so."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r} (e.g. {example})") from None
    return value


def notify_urls(urls: list[str], owner: str) -> list[str]:
    """Apprise URLs, each checked now rather than failing when an alert goes out."""
    for i, url in enumerate(urls):
        try:
            outlets.check(url)
        except ValueError as e:
            raise ValueError(f"item {i + 1} of {owner}: {e}") from None
    return urls


OWNER_TOLD = ("reminder", "engagement", "satisfaction")  # rules that may have no recipients


class AlertRule(_Strict):
    """When something needs a human, and whom to tell.

    spike: mentions of an entity in the last window well above its usual level for that time
    of day and weekday, beyond its ordinary daily peaks (notify/rules.py); `sensitivity` says
    how eager, `significance` overrides its p-value; `negative_only` counts
    negative mentions alone. match: any new mention containing one of `any_terms`, optionally
    only with a given sentiment and from an author with at least `min_reach`. competitor: a
    competitor's spike, or a mention naming us and a competitor together. reminder: an
    assigned mention still open `sla_hours` after assignment reminds its assignee, and after
    twice that escalates to `escalate_to`. engagement: a client who received
    `quiet_digests` digests in a row and clicked none gets a slower cadence (daily → weekly →
    fortnightly) and their account owner (`owner` on the Clients page) is told; one who
    clicked in each of their last `quiet_digests` digests, `busy_clicks` times or more, is
    offered more. satisfaction: a check-in answered `low_answer` or lower, or `drop` points
    below the client's previous answer, tells their account owner. Both also tell
    `recipients`, if any.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["spike", "match", "competitor", "reminder", "engagement", "satisfaction"]
    watch: list[NonEmpty] = []  # entity names; default: ours (spike) or competitors
    negative_only: bool = False
    window_hours: Annotated[int, Field(ge=1, le=168)] = 1
    baseline_weeks: Annotated[int, Field(ge=1, le=52)] = 4
    sensitivity: Literal["quiet", "normal", "eager"] = "normal"  # spike rules: how eager
    significance: Annotated[float, Field(gt=0, lt=0.5)] | None = None  # default: sensitivity's
    min_mentions: Annotated[int, Field(ge=1)] = 5
    any_terms: list[NonEmpty] = []
    sentiment: Literal["negative", "neutral", "positive"] | None = None
    intents: list[
        Literal["complaint", "compliment", "question", "recommendation", "purchase_intent",
                "churn_risk", "job_post", "spam"]
    ] = []  # fmt: skip
    min_reach: Annotated[int, Field(ge=0)] | None = None
    # Bounded: a time no clock holds (inf, 1e12) stopped every rule's evaluation.
    sla_hours: Annotated[float, Field(gt=0, le=24 * 366)] = 24.0
    escalate_to: list[Email] = []
    quiet_digests: Annotated[int, Field(ge=1, le=50)] = 3  # engagement
    busy_clicks: Annotated[int, Field(ge=1, le=500)] = 5  # engagement
    low_answer: Annotated[int, Field(ge=1, le=4)] = 2  # satisfaction, on a 1-5 scale
    drop: Annotated[int, Field(ge=1, le=4)] = 2  # satisfaction
    recipients: list[Email] = []
    # Chat and webhook URLs (Apprise's), each sent what the recipients are mailed; secrets as
    # ${VARIABLE} references to the environment (data/outlets.py).
    notify: list[NonEmpty] = []
    delivery: Literal["instant", "hourly", "daily"] = "instant"
    quiet_hours: Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = None
    timezone: str = "UTC"
    cooldown_hours: Annotated[float, Field(ge=0, le=24 * 366 * 10)] = 6.0
    enabled: bool = True

    @field_validator("notify")
    @classmethod
    def _notify_urls(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return notify_urls(value, f"rule {info.data.get('name', '?')!r}")

    @model_validator(mode="after")
    def _coherent(self) -> AlertRule:
        timezone_name(self.timezone)
        if self.kind not in OWNER_TOLD and not (self.recipients or self.notify):
            raise ValueError(f"a {self.kind} rule needs recipients or notify")
        if self.kind == "match" and not (
            self.any_terms or self.sentiment or self.intents or self.min_reach
        ):
            raise ValueError("a match rule needs any_terms, sentiment, intents or min_reach")
        if self.quiet_hours:
            for part in self.quiet_hours.split("-"):
                hours, minutes = map(int, part.split(":"))
                if hours > 23 or minutes > 59:
                    raise ValueError(f"quiet_hours: {part} is not a time of day")
            start, end = self.quiet_hours.split("-")
            if start == end:
                raise ValueError(
                    f"quiet_hours: {self.quiet_hours} starts and ends at the same time "
                    "(leave quiet_hours out for none)"
                )
        return self


class Push(_Strict):
    """The knowledge feed's small web endpoint: per-client feeds and one-click unsubscribe."""

    address: Host = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8502
    base_url: BaseUrl | None = None  # how clients reach it (links in mail); default address:port
    max_age_days: Annotated[int, Field(ge=1, le=365)] = 14  # older articles are not pushed
    # Off unless set: an invisible image in each digest tells when a client opened it. Many
    # mail programs load it on arrival (or never), so opens say little; clicks say more.
    track_opens: bool = False

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.address}:{self.port}").rstrip("/")


class Report(_Strict):
    """The weekly report: an HTML mail with charts (and a PDF on the dashboard), sent at
    `hour` on `weekday` (0 = Monday), local to `timezone`, by `tidings serve` or `tidings report
    --week`, to `recipients` and the chat or webhook URLs of `notify`."""

    recipients: list[Email] = []
    notify: list[NonEmpty] = []
    weekday: Annotated[int, Field(ge=0, le=6)] = 0
    hour: Annotated[int, Field(ge=0, le=23)] = 8
    timezone: str = "UTC"
    sla_hours: Annotated[float, Field(gt=0)] = 24.0  # a complaint handled within this is on time
    history_weeks: Annotated[int, Field(ge=2, le=52)] = 8  # share of voice over these weeks

    @field_validator("notify")
    @classmethod
    def _notify_urls(cls, value: list[str]) -> list[str]:
        return notify_urls(value, "[report]")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return timezone_name(value)


class Checkins(_Strict):
    """A one-question check-in mailed to each active client every `every_days` (0: never),
    answered with one click (then a button on the endpoint's page records it)."""

    every_days: Annotated[int, Field(ge=0, le=365)] = 0
    scale: Literal["1-5", "thumbs"] = "1-5"
    question: Annotated[OneLine, Field(min_length=1, max_length=200)] = (
        "How useful are the reading lists we send you?"
    )


class SignIn(_Strict):
    """Who may sign in to the dashboard beyond the users table (`tidings users add`)."""

    # People signing in through single sign-on who are neither in [[users]] nor the users
    # table: let them read (viewer), or refuse them.
    unknown: Literal["viewer", "refuse"] = "viewer"
    session_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 12.0  # then sign in again
    # Streamlit's secrets file holding the [auth] section for single sign-on (relative to
    # this file); default: .streamlit/secrets.toml where the dashboard starts.
    secrets_file: Path | None = None


class Person(_Strict):
    """A [[users]] entry: the role of someone who signs in through single sign-on."""

    email: Annotated[str, Field(pattern=EMAIL)]
    role: Literal["viewer", "agent", "admin"]


class Config(_Strict):
    database: Database = Database()
    dashboard: Dashboard = Dashboard()
    http: Http = Http()
    pipeline: Pipeline = Pipeline()
    smtp: Smtp = Smtp()
    push: Push = Push()
    report: Report = Report()
    checkins: Checkins = Checkins()
    prefect: Prefect = Prefect()
    watch: list[Watch] = []
    sources: list[Source] = []
    alerts: list[AlertRule] = []
    sign_in: SignIn = SignIn()
    users: list[Person] = []
    path: Path | None = Field(default=None, exclude=True)  # the file this came from

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        for key, values in (
            ("sources", [s.id for s in self.sources]),
            ("watch", [w.name.casefold() for w in self.watch]),
            ("alerts", [a.name for a in self.alerts]),
        ):
            seen: set[str] = set()
            for i, v in enumerate(values):
                if v in seen:
                    raise ValueError(
                        f"{key}[{i}]: duplicate {'id' if key == 'sources' else 'name'} {v!r}"
                    )
                seen.add(v)
        names = {w.name for w in self.watch}
        for i, rule in enumerate(self.alerts):
            for name in rule.watch:
                if name not in names:
                    raise ValueError(f"alerts[{i}].watch: {name!r} is not a [[watch]] name")
        return self

    def queries_for(self, source: Source) -> list[str]:
        """What a search source looks for: its own queries, else every watched term."""
        if source.queries:
            return list(source.queries)
        return list(dict.fromkeys(t for w in self.watch for t in w.terms))

    @property
    def db_path(self) -> Path | Lake:
        """The store: the database file (a relative path is relative to the config file's
        folder), or the DuckLake that `[database] url` names."""
        if self.database.url and self.database.data_path:
            data = self.database.data_path
            if "://" not in data and not Path(data).is_absolute() and self.path is not None:
                data = str(self.path.parent / data)
            return lake_from_config(self.database.url, data)
        return self.db_file

    @property
    def db_file(self) -> Path:
        """The database file at `[database] path`, relative to the config file's folder."""
        if self.database.path.is_absolute() or self.path is None:
            return self.database.path
        return self.path.parent / self.database.path

    @property
    def models_dir(self) -> Path:
        """Where `tidings train` keeps the models it trains: beside the database file."""
        return self.db_file.parent / "models"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the config is: the explicit path, else $TIDINGS_CONFIG, else ./tidings.toml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    p = config_path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file (create one with `tidings init`)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse_config(raw, p)


def parse_config(raw: dict, path: Path | None = None) -> Config:
    where = str(path) if path else "<config>"
    try:
        return Config.model_validate({**raw, "path": path.resolve() if path else None})
    except ValidationError as e:
        raise ConfigError(f"{where}: {_describe(e)}") from None


def _describe(error: ValidationError) -> str:
    problems = []
    for err in error.errors():
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        elif err["type"] == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern")
            msg = "not an email address" if pattern == EMAIL else f"must match {pattern}"
        # Never a notify URL's input: a secret may have been pasted into it.
        shown_input = (
            "input" in err and not isinstance(err["input"], dict) and "notify" not in err["loc"]
        )
        # A value holding a password (a connection string) is never echoed back.
        shown_input = shown_input and "password" not in str(err["input"]).lower()
        if shown_input and err["type"] not in ("missing", "extra_forbidden"):
            shown = repr(err["input"])
            msg += f" (got {shown[:60]})"
        problems.append(f"{key}: {msg}" if key else msg)
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return problems[0] + more
