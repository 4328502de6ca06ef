"""The pipeline pass as a Prefect flow: collect (a task per source) → score (a task per batch)
→ store (a transaction per batch). Everything it calls is a plain function tested without
Prefect.

A pass streams: sources are collected a few at a time, and their items are scored and stored in
batches of `[pipeline] batch_size` while the next sources download, so that a pass holds a
batch or two and the sources in flight, never the whole pass, whatever its size. Each batch is
one transaction holding its mentions, their scores and the states of the sources it completes:
a source's new state (its ETag) is stored with, or after, its last items, so that a crash
never leaves an ETag pointing past items that were not stored (the next pass fetches them again
and stores only what is missing)."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.states import Cancelled
from prefect.utilities.annotations import quote

from collectors import COLLECTORS
from collectors.http import Attempts, FetchAgain, Http
from data import database, store
from data.config import Config, Source
from data.database import Lake
from data.errors import PassRunningError
from data.records import Fetched, Mention, Score, SourceState
from data.text import clean_mention
from flows.retries import STORE_RETRIES, fetch_retries
from flows.server import api_client
from flows.sources import due_sources, next_state
from nlp import duplicates
from nlp.query import Prefilter
from notify.alerts import run_alerts
from notify.care import run_care
from notify.push import PushReport, push_digests
from notify.report import send_report

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

    from nlp import Scorer

DUE_SLACK = timedelta(seconds=30)
# Sources collected at once at most. With their items waiting to be scored (at most a batch
# beyond the one being scored), they bound a pass's memory; the per-host cap (http.per_host)
# keeps each host's share polite within them.
SOURCES_IN_FLIGHT = 16
FIRST_IN_FLIGHT = 2  # until a source is collected, and its size known
T = TypeVar("T")
# A pass run from the command line (run_pass) stops where it stands when this is set (Ctrl-C):
# the batch being written is finished, the sources being fetched are let go (their state is not
# stored, so the next pass fetches them again), nothing else starts.
STOP: ContextVar[asyncio.Event | None] = ContextVar("tidings_pass_stop", default=None)
INTERRUPTED = "stopped by Ctrl-C"
# DuckDB threads of a pass's writes. Each thread builds its own hash tables and buffers: with
# DuckDB's default (one per core) a batch's store costs about 60 MB more at its peak, for
# little speed, since the parse workers keep the other cores busy meanwhile.
WRITER_THREADS = 1
# Memory DuckDB may use for a batch's writes. Without a limit it keeps every block a batch
# reads, and a batch reads the store (earlier batches' story heads, the stories it extends):
# its share grew with the store. With one, it reads a block again when it needs it again. The
# limit is the same whatever the store holds: since migration 024 the big tables have no
# index, which DuckDB would have to hold whole. A batch that needs more still is written again
# without the limit (store_pass).
WRITER_MEMORY_MB = 64


@dataclass(frozen=True, slots=True)
class PassReport:
    sources_fetched: int = 0
    sources_failed: int = 0
    not_modified: int = 0
    items_seen: int = 0
    matched: int = 0
    new_mentions: int = 0
    already_stored: int = 0  # items about watched terms stored by an earlier pass: not rescored
    set_aside: int = 0  # named a watched entity, about none (nlp.relevance): stored for review
    errors: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False  # stopped (Ctrl-C) before its end: what it stored is kept

    def plus(self, other: PassReport) -> PassReport:
        """This report and another batch's of the same pass, added up."""
        return PassReport(
            sources_fetched=self.sources_fetched + other.sources_fetched,
            sources_failed=self.sources_failed + other.sources_failed,
            not_modified=self.not_modified + other.not_modified,
            items_seen=self.items_seen + other.items_seen,
            matched=self.matched + other.matched,
            new_mentions=self.new_mentions + other.new_mentions,
            already_stored=self.already_stored + other.already_stored,
            set_aside=self.set_aside + other.set_aside,
            errors={**self.errors, **other.errors},
        )

    def summary(self) -> str:
        return (
            f"{self.sources_fetched} source(s) fetched ({self.not_modified} unchanged, "
            f"{self.sources_failed} failed), {self.items_seen} item(s) seen, "
            f"{self.matched} about watched terms, {self.new_mentions} new"
            + (f", {self.set_aside} set aside as not about us" if self.set_aside else "")
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
    record: bool = True,
) -> PassReport:
    """Write a pass's results in one transaction: mentions, scores, source health, the run
    (unless not `record`: a batch of a streamed pass, whose run is recorded at its end).

    `articles` are items of knowledge sources that are about nothing we watch: kept for
    client digests, without scores, so they never count as mentions. In a DuckLake written by
    other passes at once, a transaction that conflicts with theirs runs again on their rows."""
    args = (config, sources, fetched, scored, previous, started, articles, record)
    try:
        return database.retry_conflicts(lambda: _write_pass(*args))
    except duckdb.OutOfMemoryException:
        # More than WRITER_MEMORY_MB (the transaction rolled back):
        # once more, with as much memory as DuckDB takes by itself.
        logging.getLogger(__name__).info("A batch needed more memory than the writer's share")
        return database.retry_conflicts(lambda: _write_pass(*args, limited=False))


def _write_pass(
    config: Config,
    sources: list[Source],
    fetched: list[Fetched],
    scored: list[tuple[Mention, Score]],
    previous: dict[str, SourceState],
    started: datetime,
    articles: list[Mention] | tuple[Mention, ...] = (),
    record: bool = True,
    limited: bool = True,
) -> PassReport:
    now = store.utcnow()
    by_id = {s.id: s for s in sources}
    # Intervals count from the pass's start, so a source is due again exactly one interval
    # after it was last fetched, whatever the pass cost.
    states = [next_state(by_id[f.source], previous.get(f.source), f, started) for f in fetched]
    failed = {f.source: f.error for f in fetched if f.error}
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        limit_writer(db, memory=limited)
        store.merge_row_groups_when_due(db)
        store.checkpoint_at_commit(db)
        db.begin()
        database.claim_writes(db)
        kinds = {s.id: s.kind for s in sources}
        knowledge = frozenset(s.id for s in sources if s.knowledge)
        # Near-duplicates: the story each new mention belongs to (nlp.duplicates).
        # (A score's mention_id is its mention's id, which each m.id would hash again.)
        incoming = [
            (s.mention_id, s.fingerprint, store.story_key(m)) for m, s in scored if s.fingerprint
        ]
        bands = duplicates.band_array([sig for _, sig, _ in incoming])
        since = now - timedelta(days=duplicates.WINDOW_DAYS)
        own_keys = {own for _, _, own in incoming}
        existing = store.existing_story_keys(db, list(own_keys))
        stories = duplicates.group(incoming, bands, store.story_heads(db, bands, since), existing)
        new = store.upsert_mentions(
            db, [m for m, _ in scored], now, kinds, knowledge,
            {mid: sig for mid, sig, _ in incoming}, stories.keys, stories.heads,
        )  # fmt: skip
        store.upsert_mentions(db, list(articles), now, kinds, knowledge)
        # A story whose key no stored mention has is new: its readings are not looked for.
        store.upsert_scores(db, [s for _, s in scored], now, new_stories=own_keys - existing)
        store.save_source_states(db, states)
        report = PassReport(
            sources_fetched=len(fetched),
            sources_failed=len(failed),
            not_modified=sum(f.not_modified for f in fetched),
            items_seen=sum(f.items_seen for f in fetched),
            matched=sum(not s.set_aside for _, s in scored),
            new_mentions=new,
            set_aside=sum(s.set_aside for _, s in scored),
            errors=failed,  # type: ignore[arg-type]
        )
        if record:
            store.record_run(db, run_record(report, started, now))
        db.commit()
    return report


def limit_writer(db: duckdb.DuckDBPyConnection, memory: bool = False) -> None:
    """Bound the memory of a pass's writes: WRITER_THREADS, and if `memory`, WRITER_MEMORY_MB.
    The settings last as long as the DuckDB file is open (a batch closes it); a lake's
    connections share one DuckDB with the process, whose memory stays as is."""
    db.execute(f"SET threads = {WRITER_THREADS}")
    if memory and not database.is_lake(db):
        db.execute(f"SET memory_limit = '{WRITER_MEMORY_MB}MiB'")


def run_record(report: PassReport, started: datetime, finished: datetime) -> store.RunRecord:
    return store.RunRecord(
        started,
        finished,
        report.sources_fetched,
        report.sources_failed,
        report.items_seen,
        report.new_mentions,
    )


def record_pass(config: Config, report: PassReport, started: datetime) -> None:
    """Record a streamed pass's run, once its every batch is stored."""
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        store.record_run(db, run_record(report, started, store.utcnow()))


# --- streaming: sources collected a few at a time, items scored and stored in batches --------


@dataclass(slots=True)
class Batch:
    """Items to score and store in one transaction, and the sources this batch completes (their
    every item is in it or in an earlier batch): their states are stored with it."""

    mentions: list[Mention] = field(default_factory=list)
    sources: list[Fetched] = field(default_factory=list)


class Batcher:
    """Cuts the sources' items, as the sources arrive, into batches of `size` items; a source
    with more items than that spans several batches and completes in its last."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._open = Batch()

    def add(self, fetched: Fetched) -> list[Batch]:
        """The batches this source's items fill (none while the open one has room)."""
        full = []
        rest = fetched.mentions
        while len(self._open.mentions) + len(rest) >= self.size:
            take = self.size - len(self._open.mentions)
            self._open.mentions += rest[:take]
            rest = rest[take:]
            if not rest:
                break
            full.append(self._open)
            self._open = Batch()
        self._open.mentions += rest
        # The source's figures stay; its items now live in the batches only.
        self._open.sources.append(replace(fetched, mentions=[], seen=fetched.items_seen))
        if len(self._open.mentions) >= self.size:
            full.append(self._open)
            self._open = Batch()
        return full

    def rest(self) -> Batch | None:
        """The last, partly filled batch, if anything is in it."""
        last, self._open = self._open, Batch()
        return last if last.mentions or last.sources else None


async def stream_pass(
    sources: Sequence[Source],
    collect: Callable[[Source], Awaitable[Fetched]],
    process: Callable[[Batch], PassReport],
    batch_size: int,
    in_flight: int = SOURCES_IN_FLIGHT,
    stop: asyncio.Event | None = None,
) -> PassReport:
    """Collect every source, at most `in_flight` at once, and `process` (score and store) their
    items in batches of `batch_size`, one batch at a time in a thread, while the next sources
    download and parse. A new source starts only while less than a batch waits, counting the
    sources in flight at the mean of those collected so far, so a pass holds the batch being
    processed and about one more, however big the pass and its sources.

    Once `stop` is set, the batch being processed is finished and nothing else is: the report
    says what was processed until then. `collect` should then return soon (collect_source
    does), since the sources in flight are waited for, not cancelled."""
    batcher = Batcher(batch_size)
    arrived: asyncio.Queue[Fetched] = asyncio.Queue()
    room = asyncio.Condition()
    running = waiting = 0  # sources being collected; items collected, not yet processed
    done = items = 0  # sources collected, and their items
    collecting: list[asyncio.Task] = []

    def has_room() -> bool:
        # Sources of thousands of items each would otherwise bring thousands more than a
        # batch: each source in flight is expected to bring the mean so far, and until one is
        # collected, FIRST_IN_FLIGHT start.
        if not done:
            return running < min(in_flight, FIRST_IN_FLIGHT)
        expected = waiting + running * items / done
        return (
            running < in_flight and waiting < batch_size and (not running or expected < batch_size)
        )

    async def collect_one(source: Source) -> None:
        nonlocal running, waiting, done, items
        try:
            fetched = await collect(source)
        except Exception as e:  # noqa: BLE001 — one source's bug must not stop the pass
            # Nothing else would arrive for it, and the pass would wait for it forever.
            logging.getLogger(__name__).exception("Source %s failed unexpectedly", source.id)
            fetched = Fetched(source.id, error=one_line_error(e))
        async with room:
            running -= 1
            waiting += len(fetched.mentions)
            done += 1
            items += len(fetched.mentions)
            room.notify_all()
        arrived.put_nowait(fetched)

    async def launch() -> None:
        nonlocal running
        for source in sources:
            async with room:
                await room.wait_for(has_room)
                running += 1
            collecting.append(asyncio.create_task(collect_one(source)))

    async def handle(batch: Batch) -> PassReport:
        nonlocal waiting
        async with room:
            waiting -= len(batch.mentions)
            room.notify_all()
        return await asyncio.to_thread(process, batch)

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    report = PassReport()
    launcher = asyncio.create_task(launch())
    try:
        for _ in sources:
            fetched = await until_stopped(arrived.get(), stop)
            for batch in batcher.add(fetched) if fetched is not None else ():
                if stopped():
                    break
                report = report.plus(await handle(batch))
            if stopped():
                break
        else:
            last = batcher.rest()
            if last is not None:
                report = report.plus(await handle(last))
            await launcher
    finally:
        # Stopped: the sources in flight end by themselves (a task cancelled from outside would
        # crash its Prefect task run); failed: every one is cancelled.
        for t in (launcher, *(() if stopped() else collecting)):
            t.cancel()
        await asyncio.gather(launcher, *collecting, return_exceptions=True)
    return replace(report, interrupted=True) if stopped() else report


async def until_stopped(work: Awaitable[T], stop: asyncio.Event | None) -> T | None:
    """`work`'s result, or None if `stop` is set first (`work` is then cancelled)."""
    if stop is None:
        return await work
    job = asyncio.ensure_future(work)
    halt = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({job, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
        if not job.done():
            job.cancel()
    if not job.done() or job.cancelled():
        await asyncio.wait({job})  # let it unwind; its CancelledError is not ours
        return None
    return job.result()


ScoreBatch = Callable[
    [Config, list[Mention]], tuple[list[tuple[Mention, Score]], list[tuple[Mention, str]]]
]
StorePass = Callable[..., PassReport]


def process_batch(
    config: Config,
    batch: Batch,
    sources: Sequence[Source],
    previous: dict[str, SourceState],
    started: datetime,
    unscored: Counter[str],
    log: logging.Logger | logging.LoggerAdapter,
    score: ScoreBatch | None = None,
    store_batch: StorePass | None = None,
) -> PassReport:
    """Score the batch's items that no earlier pass stored, and store them with the states of
    the sources the batch completes, in one transaction. Items that cannot be scored are
    skipped and counted in `unscored` (per source) until their source's state is stored."""
    score, store_batch = score or score_mentions, store_batch or store_pass
    # What an earlier pass stored is neither scored, fingerprinted nor grouped again: a pass
    # costs what is new, however often unchanged feeds (without ETags) repeat their items.
    known: set[str] = set()
    if batch.mentions:
        with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
            limit_writer(db)
            known = store.stored_ids(db, [m.id for m in batch.mentions])
    new = [m for m in batch.mentions if m.id not in known]
    size = config.pipeline.batch_size
    scored: list[tuple[Mention, Score]] = []
    for i in range(0, len(new), size):
        ok, failed = score(config, new[i : i + size])
        scored += ok
        for m, why in failed:
            log.warning("Item %s of source %s skipped: %s", m.native_id[:200], m.source, why)
            unscored[m.source] += 1
    # Skipped items are counted on the Sources page with the source's own.
    done = [
        replace(f, skipped=f.skipped + unscored.pop(f.source)) if f.source in unscored else f
        for f in batch.sources
    ]
    matched = {m.id for m, _ in scored}
    knowledge = {s.id for s in sources if s.knowledge}
    articles = [m for m in new if m.source in knowledge and m.id not in matched]
    report = store_batch(config, sources, done, scored, previous, started, articles, record=False)
    return replace(report, already_stored=len(known))


def keep_candidates(fetched: Fetched, source: Source, scorer: Prefilter | Scorer) -> Fetched:
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
    http: Http,
    source: Source,
    state: SourceState,
    queries: list[str],
    attempts: Attempts | None = None,
) -> Fetched:
    """One source's fetch, one attempt of it: with `fetch_retries` (flows.retries), Prefect
    runs it again after a transient failure, given the same `attempts`."""
    attempts = attempts or Attempts(1)
    await attempts.begin()
    try:
        fetched = await until_stopped(
            COLLECTORS[source.kind](http.attempt(attempts), source, state, queries), STOP.get()
        )
    except FetchAgain:
        raise  # this attempt failed; Prefect retries the task (flows.retries)
    except Exception as e:  # noqa: BLE001 — one source's bug must not stop the pass
        # Collectors report what they expect (HTTP, parse errors) in Fetched.error; anything
        # else is a bug met on this source's data: logged whole, recorded in one line.
        get_run_logger().exception("Source %s failed unexpectedly", source.id)
        fetched = Fetched(source.id, error=one_line_error(e))
    attempts.answers.clear()  # kept only for a next attempt: the items are in `fetched`
    if fetched is None:  # the pass was stopped: this source's state stays, to fetch it again
        return Fetched(source.id, error=INTERRUPTED)
    return fetched


def one_line_error(error: BaseException) -> str:
    """An unexpected error as the one line a Sources page can show."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"unexpected error: {type(error).__name__}: {first}"[:300]


def score_mentions(
    config: Config, mentions: list[Mention]
) -> tuple[list[tuple[Mention, Score]], list[tuple[Mention, str]]]:
    """The batch's scored mentions, and the items that could not be scored, with why."""
    from nlp import build_scorer  # spaCy and the model: loaded once there is something to score

    failed: list[tuple[Mention, str]] = []
    return build_scorer(config.watch, config.models_dir).score(mentions, failed=failed), failed


score_batch = task(score_mentions, name="score-batch", cache_policy=NONE)


store_task = task(store_pass, name="store-pass", cache_policy=NONE, **STORE_RETRIES)
alerts_task = task(run_alerts, name="alerts", cache_policy=NONE)
push_task = task(push_digests, name="push-digests", cache_policy=NONE)
report_task = task(send_report, name="weekly-report", cache_policy=NONE)
care_task = task(run_care, name="client-care", cache_policy=NONE)


@flow(name="tidings-pass", validate_parameters=False)
async def pass_once(config: Config, force: bool = False) -> PassReport | State:
    """One pass: fetch every due source, score what they published, store it; then alerts,
    digests, the weekly report and client care. Stopped (STOP), it ends Cancelled."""
    with api_client():  # one for the pass's synchronous task runs, not one each
        return await _pass(config, force)


async def _pass(config: Config, force: bool) -> PassReport | State:
    log = get_run_logger()
    stop = STOP.get()
    started = store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        previous = store.source_states(db)
    # A little slack, so that a source due a moment after this tick is not left to the next one.
    sources = due_sources(config.sources, previous, started + DUE_SLACK, force)
    if not sources:
        log.info("No source is due yet.")
        # Reminders, quiet hours and digest slots run on the clock, not on new mentions.
        return after_pass(config, PassReport(), (run_alerts_step, run_push_step, run_care_step))
    scorer = Prefilter(config.watch)
    unscored: Counter[str] = Counter()
    fetch = collect_source.with_options(**fetch_retries(config.http))

    async def collect(source: Source) -> Fetched:
        state = previous.get(source.id) or SourceState(source=source.id)
        attempts = Attempts(config.http.max_attempts)  # one for all the task's attempts
        fetched = await fetch(http, source, state, config.queries_for(source), attempts)
        fetched = keep_candidates(fetched, source, scorer)
        if fetched.error and fetched.error != INTERRUPTED:
            log.warning("Source %s failed: %s", fetched.source, fetched.error)
        return fetched

    # Prefect visits every element of a task's arguments, looking for futures: 2.5 s for a
    # batch of 5,000 mentions, more than scoring them. quote() tells it there are none.
    def score(config: Config, mentions: list[Mention]) -> tuple:
        return score_batch(quote(config), quote(mentions))

    def store_batch(config: Config, *args: object, **kwargs: object) -> PassReport:
        return store_task(quote(config), *map(quote, args), **kwargs)

    def process(batch: Batch) -> PassReport:
        return process_batch(
            config, batch, sources, previous, started, unscored, log, score, store_batch
        )

    # Network work happens here, outside every write transaction: a batch is scored and
    # stored (in a thread) while the next sources download.
    async with Http(config.http) as http:
        report = await stream_pass(sources, collect, process, config.pipeline.batch_size, stop=stop)
    if report.interrupted:
        return interrupted(report)
    record_pass(config, report, started)
    log.info("Pass done: %s", report.summary())
    return after_pass(
        config, report, (run_alerts_step, run_push_step, run_report_step, run_care_step)
    )


def run_alerts_step(config: Config) -> None:
    alerts = alerts_task(config)
    get_run_logger().info("Alerts: %s", alerts.summary())
    if alerts.sent.error:
        get_run_logger().warning(
            "Mail server unavailable, mail kept for later: %s", alerts.sent.error
        )


def run_push_step(config: Config) -> None:
    get_run_logger().info("Client digests: %s", push_task(config).summary())


def run_report_step(config: Config) -> None:
    weekly = report_task(config, scheduled=True)
    if weekly is not None:
        get_run_logger().info("Weekly report: %s", weekly.summary())


def run_care_step(config: Config) -> None:
    get_run_logger().info("Client care: %s", care_task(config).summary())


def after_pass(
    config: Config, report: PassReport, steps: Sequence[Callable[[Config], None]]
) -> PassReport | State:
    """Run the steps that follow a pass, in order. Stopped meanwhile, the step running is let
    finish and the others are left to the next pass (or tick of `tidings serve`)."""
    stop = STOP.get()
    for step in steps:
        if stop is not None and stop.is_set():
            return interrupted(report)
        step(config)
    return report


def interrupted(report: PassReport) -> State:
    """The state of a pass stopped by Ctrl-C, as the Prefect UI shows it: Cancelled."""
    get_run_logger().warning(
        "Stopped by Ctrl-C: %s; what was stored stays, the rest is fetched by the next pass",
        report.summary(),
    )
    return Cancelled(message=INTERRUPTED, data=replace(report, interrupted=True))


def run_pass(
    config: Config, force: bool = False, wait: float = 0.0, stoppable: bool = False
) -> PassReport:
    """Run one pass from synchronous code (the CLI), unless another process is running one on
    the same store: then wait up to `wait` seconds for it, else raise PassRunningError.

    `stoppable` (`tidings run`): the first Ctrl-C (or SIGTERM) stops the pass where it stands:
    the batch being written is finished, what was stored stays, and the report says
    `interrupted`; a second one raises KeyboardInterrupt at once. Otherwise Ctrl-C raises
    KeyboardInterrupt, as always."""
    with pass_lock(config.db_path, wait):
        if not stoppable:
            return asyncio.run(pass_once(config, force))
        return asyncio.run(_stoppable_pass(config, force))


async def _stoppable_pass(config: Config, force: bool) -> PassReport:
    stop = asyncio.Event()
    STOP.set(stop)
    with stop_on_signals(stop, asyncio.get_running_loop()):
        state = await pass_once(config, force, return_state=True)
    if state.is_cancelled() and stop.is_set():
        return await state.aresult(raise_on_failure=False)
    return await state.aresult()


@contextmanager
def stop_on_signals(stop: asyncio.Event, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """While in the block, SIGINT (Ctrl-C) and SIGTERM set `stop` and wake `loop` at once, even
    while a step blocks it; a second signal raises KeyboardInterrupt, as usual. Python handles
    signals in the main thread only: elsewhere, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def asked(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        loop.call_soon_threadsafe(lambda: None)  # as asyncio's own Ctrl-C handler wakes it

    before = {sig: signal.signal(sig, asked) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@contextmanager
def pass_lock(db_path: Path | Lake, wait: float = 0.0) -> Iterator[None]:
    """Hold the store's pass lock: one pass at a time per store, across processes. The lock is
    the OS's (flock), so it is released when its holder exits, however it exits.

    A DuckLake takes passes from several processes (machines) at once, and needs no lock: each
    pass stores in one transaction that runs again when another committed first (store_pass)."""
    if isinstance(db_path, Lake):
        yield
        return
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
