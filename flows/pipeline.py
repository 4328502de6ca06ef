"""The pipeline pass as a Prefect flow: collect (a task per source) → score (a task per batch)
→ store (one transaction). Everything it calls is a plain function tested without Prefect."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from collectors import COLLECTORS
from collectors.http import Http
from data import store
from data.config import Config, Source
from data.errors import PassRunningError
from data.records import Fetched, Mention, Score, SourceState
from data.text import clean_mention
from flows.retries import STORE_RETRIES
from flows.sources import due_sources, next_state
from nlp import Scorer, build_scorer, duplicates
from notify.alerts import run_alerts
from notify.care import run_care
from notify.push import PushReport, push_digests
from notify.report import send_report

DUE_SLACK = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class PassReport:
    sources_fetched: int = 0
    sources_failed: int = 0
    not_modified: int = 0
    items_seen: int = 0
    matched: int = 0
    new_mentions: int = 0
    already_stored: int = 0  # items about watched terms stored by an earlier pass: not rescored
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.sources_fetched} source(s) fetched ({self.not_modified} unchanged, "
            f"{self.sources_failed} failed), {self.items_seen} item(s) seen, "
            f"{self.matched} about watched terms, {self.new_mentions} new"
            + (f", {self.already_stored} already stored" if self.already_stored else "")
        )


def store_pass(
    config: Config,
    sources: list[Source],
    fetched: list[Fetched],
    scored: list[tuple[Mention, Score]],
    previous: dict[str, SourceState],
    started: datetime,
    articles: list[Mention] | tuple[Mention, ...] = (),
) -> PassReport:
    """Write a pass's results in one transaction: mentions, scores, source health, the run.

    `articles` are items of knowledge sources that are about nothing we watch: kept for
    client digests, without scores, so they never count as mentions."""
    now = store.utcnow()
    by_id = {s.id: s for s in sources}
    # Intervals count from the pass's start, so a source is due again exactly one interval
    # after it was last fetched, whatever the pass cost.
    states = [next_state(by_id[f.source], previous.get(f.source), f, started) for f in fetched]
    failed = {f.source: f.error for f in fetched if f.error}
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        kinds = {s.id: s.kind for s in sources}
        knowledge = frozenset(s.id for s in sources if s.knowledge)
        # Near-duplicates: the story each new mention belongs to (nlp.duplicates).
        incoming = [(m.id, s.fingerprint, store.story_key(m)) for m, s in scored if s.fingerprint]
        bands = duplicates.band_keys([sig for _, sig, _ in incoming])
        since = now - timedelta(days=duplicates.WINDOW_DAYS)
        stories = duplicates.group(
            incoming,
            bands,
            store.story_candidates(db, bands, since),
            store.existing_story_keys(db, [own for _, _, own in incoming]),
        )
        new = store.upsert_mentions(
            db, [m for m, _ in scored], now, kinds, knowledge,
            {mid: sig for mid, sig, _ in incoming}, stories.keys, stories.heads,
        )  # fmt: skip
        store.upsert_mentions(db, list(articles), now, kinds, knowledge)
        store.upsert_scores(db, [s for _, s in scored], now)
        store.save_source_states(db, states)
        report = PassReport(
            sources_fetched=len(fetched),
            sources_failed=len(failed),
            not_modified=sum(f.not_modified for f in fetched),
            items_seen=sum(f.items_seen for f in fetched),
            matched=len(scored),
            new_mentions=new,
            errors=failed,  # type: ignore[arg-type]
        )
        store.record_run(
            db,
            store.RunRecord(
                started,
                now,
                report.sources_fetched,
                report.sources_failed,
                report.items_seen,
                report.new_mentions,
            ),
        )
        db.commit()
    return report


def keep_candidates(fetched: Fetched, source: Source, scorer: Scorer) -> Fetched:
    """Drop, as soon as they are parsed, the items that cannot be about a watched entity (a
    cheap regex says so), unless the source is a knowledge source that keeps every article.
    A pass then holds and scores only what may matter, whatever the feeds' size. What is kept
    is cleaned for storage (data.text.clean_mention)."""
    if not fetched.mentions:
        return fetched
    mentions = fetched.mentions
    if not source.knowledge:
        mentions = [m for m in mentions if scorer.might_mention(f"{m.title}\n{m.text}")]
    mentions = [clean_mention(m) for m in mentions]
    return replace(fetched, mentions=mentions, seen=fetched.items_seen)


@task(name="collect-source", cache_policy=NONE, task_run_name="collect-{source.id}")
async def collect_source(
    http: Http, source: Source, state: SourceState, queries: list[str], scorer: Scorer
) -> Fetched:
    try:
        fetched = await COLLECTORS[source.kind](http, source, state, queries)
    except Exception as e:  # noqa: BLE001 — one source's bug must not stop the pass
        # Collectors report what they expect (HTTP, parse errors) in Fetched.error; anything
        # else is a bug met on this source's data: logged whole, recorded in one line.
        get_run_logger().exception("Source %s failed unexpectedly", source.id)
        return Fetched(source.id, error=one_line_error(e))
    return keep_candidates(fetched, source, scorer)


def one_line_error(error: BaseException) -> str:
    """An unexpected error as the one line a Sources page can show."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"unexpected error: {type(error).__name__}: {first}"[:300]


@task(name="score-batch", cache_policy=NONE)
def score_batch(
    config: Config, mentions: list[Mention]
) -> tuple[list[tuple[Mention, Score]], list[tuple[Mention, str]]]:
    """The batch's scored mentions, and the items that could not be scored, with why."""
    failed: list[tuple[Mention, str]] = []
    return build_scorer(config.watch, config.models_dir).score(mentions, failed=failed), failed


store_task = task(store_pass, name="store-pass", cache_policy=NONE, **STORE_RETRIES)
alerts_task = task(run_alerts, name="alerts", cache_policy=NONE)
push_task = task(push_digests, name="push-digests", cache_policy=NONE)
report_task = task(send_report, name="weekly-report", cache_policy=NONE)
care_task = task(run_care, name="client-care", cache_policy=NONE)


@flow(name="tidings-pass", validate_parameters=False)
async def pass_once(config: Config, force: bool = False) -> PassReport:
    """One pass: fetch every due source, score what they published, store it."""
    log = get_run_logger()
    started = store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        previous = store.source_states(db)
    # A little slack, so that a source due a moment after this tick is not left to the next one.
    sources = due_sources(config.sources, previous, started + DUE_SLACK, force)
    if not sources:
        log.info("No source is due yet.")
        # Reminders, quiet hours and digest slots run on the clock, not on new mentions.
        log.info("Alerts: %s", alerts_task(config).summary())
        log.info("Client digests: %s", push_task(config).summary())
        log.info("Client care: %s", care_task(config).summary())
        return PassReport()
    scorer = build_scorer(config.watch, config.models_dir)
    # Network work happens here, before any write transaction opens.
    async with Http(config.http) as http:
        fetched = list(
            await asyncio.gather(
                *(
                    collect_source(
                        http,
                        s,
                        previous.get(s.id) or SourceState(source=s.id),
                        config.queries_for(s),
                        scorer,
                    )
                    for s in sources
                )
            )
        )
    for f in fetched:
        if f.error:
            log.warning("Source %s failed: %s", f.source, f.error)
    mentions = [m for f in fetched for m in f.mentions]
    # What an earlier pass stored is neither scored, fingerprinted nor grouped again: a pass
    # costs what is new, however often unchanged feeds (without ETags) repeat their items.
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        known = store.stored_ids(db, [m.id for m in mentions])
    mentions = [m for m in mentions if m.id not in known]
    size = config.pipeline.batch_size
    scored: list[tuple[Mention, Score]] = []
    unscored: Counter[str] = Counter()
    for i in range(0, len(mentions), size):
        ok, failed = score_batch(config, mentions[i : i + size])
        scored += ok
        for m, why in failed:
            log.warning("Item %s of source %s skipped: %s", m.native_id[:200], m.source, why)
            unscored[m.source] += 1
    if unscored:  # skipped items are counted on the Sources page with the source's own
        fetched = [replace(f, skipped=f.skipped + unscored[f.source]) for f in fetched]
    matched = {m.id for m, _ in scored}
    knowledge = {s.id for s in sources if s.knowledge}
    articles = [m for m in mentions if m.source in knowledge and m.id not in matched]
    report = store_task(config, sources, fetched, scored, previous, started, articles)
    report = replace(report, already_stored=len(known))
    log.info("Pass done: %s", report.summary())
    alerts = alerts_task(config)
    log.info("Alerts: %s", alerts.summary())
    if alerts.sent.error:
        log.warning("Mail server unavailable, mail kept for later: %s", alerts.sent.error)
    log.info("Client digests: %s", push_task(config).summary())
    weekly = report_task(config, scheduled=True)
    if weekly is not None:
        log.info("Weekly report: %s", weekly.summary())
    log.info("Client care: %s", care_task(config).summary())
    return report


def run_pass(config: Config, force: bool = False, wait: float = 0.0) -> PassReport:
    """Run one pass from synchronous code (the CLI), unless another process is running one on
    the same store: then wait up to `wait` seconds for it, else raise PassRunningError."""
    with pass_lock(config.db_path, wait):
        return asyncio.run(pass_once(config, force))


@contextmanager
def pass_lock(db_path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the store's pass lock: one pass at a time per store, across processes. The lock is
    the OS's (flock), so it is released when its holder exits, however it exits."""
    path = db_path.with_name(db_path.name + ".pass-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                    raise PassRunningError(
                        f"{db_path}: a pass is already running ({holder}); this one did not "
                        "start (use `tidings run --wait SECONDS` to wait for it)"
                    ) from None
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {store.utcnow():%Y-%m-%d %H:%M:%S}Z".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@flow(name="tidings-push", validate_parameters=False)
def push_now(config: Config, only: list[str] | None = None, force: bool = False) -> PushReport:
    """Client digests outside the pass: the dashboard's "send now", `tidings push`."""
    report = push_task(config, only=only, force=force)
    get_run_logger().info("Client digests: %s", report.summary())
    return report
