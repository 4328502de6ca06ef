"""The `tidings` command line.

Commands that need no orchestration (`init`, `status`, `score`) never import Prefect, whose
ephemeral server costs seconds per process.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from data import store
from data.config import CONFIG_ENV, PASSWORD_ENV, Config, config_path, load_config
from data.errors import TidingsError

if TYPE_CHECKING:
    from data.records import Score
    from nlp import Scorer


def main(argv: Sequence[str] | None = None) -> int:
    program = argv is None  # the `tidings` command itself (tests and other modules pass argv)
    if program:
        # Python's full garbage collections walk every object that imports made (Prefect,
        # pydantic, pandas: hundreds of thousands, all kept until exit), during the command and
        # once more at exit: a fifth of a one-item `tidings run`. Frozen, they are left out;
        # what the command itself makes is collected as usual.
        gc.freeze()
        # The imports still to come (Prefect, spaCy: a million objects) would otherwise start a
        # young collection at every 700 objects, and full ones at their pace: 0.3 s of a
        # one-item `tidings run`. Cyclic garbage now waits for 50,000 new objects instead.
        gc.set_threshold(50_000)
    try:
        return _main(argv)
    finally:
        if program:
            gc.freeze()


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    # A service manager's stop (SIGTERM) is handled like Ctrl-C, so that the dashboard, the
    # feed endpoint and Prefect's temporary server are all stopped, never orphaned.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.handler(args) or 0
    except TidingsError as e:
        print(f"tidings: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        if args.command in STOPPED_WITH_0:
            return say_interrupted()
        print("\ntidings: stopped", file=sys.stderr)
        return 130


# Ctrl-C is how people stop these (a pass that takes long, digests): they stop in order, and
# exit 0 with one line, like `serve`.
STOPPED_WITH_0 = ("run", "push")


def say_interrupted() -> int:
    print(
        "\ntidings: interrupted (Ctrl-C): stopped in order; what was stored is kept, and the "
        "next run does the rest",
        file=sys.stderr,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidings", description="Listen, understand, remember, show.")
    p.add_argument(
        "--config",
        default=None,
        help=f"config file (default: ${CONFIG_ENV} or ./tidings.toml)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("init", help="write a starter tidings.toml")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    c.set_defaults(handler=cmd_init)

    c = sub.add_parser("run", help="run one pipeline pass now")
    c.add_argument("--all", action="store_true", help="fetch every source, due or not")
    c.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="if a pass is already running, wait this long for it (else exit 75 at once)",
    )
    c.set_defaults(handler=cmd_run)

    c = sub.add_parser(
        "serve", help="passes, alerts and digests on their schedules (Prefect), and the dashboard"
    )
    c.add_argument("--no-dashboard", action="store_true", help="run the pipeline only")
    c.set_defaults(handler=cmd_serve)

    c = sub.add_parser("worker", help="run passes from the [prefect] work_pool, beside others")
    c.add_argument("--name", help="this worker's name in the Prefect UI")
    c.add_argument("--limit", type=int, help="at most this many runs at once")
    c.set_defaults(handler=cmd_worker)

    c = sub.add_parser("dashboard", help="start the dashboard only")
    c.set_defaults(handler=cmd_dashboard)

    c = sub.add_parser("demo", help="the whole product offline, on bundled recorded feeds")
    c.add_argument("--port", type=int, default=None, help="dashboard port (default 8501)")
    c.add_argument("--no-dashboard", action="store_true", help="prepare the demo data only")
    c.set_defaults(handler=cmd_demo)

    c = sub.add_parser("alerts", help="evaluate the alert rules now and send what fires")
    c.add_argument(
        "--dry-run",
        action="store_true",
        help="print which rules would fire and why; change nothing",
    )
    c.set_defaults(handler=cmd_alerts)
    b = c.add_subparsers(dest="alerts_command", metavar="{backtest}").add_parser(
        "backtest",
        help="print, as JSON lines, every alert spike rules would have sent over past counts",
    )
    b.add_argument(
        "csv", nargs="?", help="a CSV of timestamp,count rows, any bin size (default: the store)"
    )
    b.add_argument("--rule", help="only this spike rule (with a CSV: default settings)")
    b.add_argument("--since", help="how far back: 90d (the store's default), 12h, 2w…")
    b.add_argument("--sensitivity", choices=["quiet", "normal", "eager"], help="try another")
    b.set_defaults(handler=cmd_alerts_backtest)

    c = sub.add_parser("push", help="send the client digests that are due now")
    c.add_argument("--client", action="append", help="only this client id (repeatable)")
    c.add_argument(
        "--now", action="store_true", help="with --client: send now, whatever the cadence"
    )
    c.add_argument(
        "--dry-run",
        action="store_true",
        help="print whose digest is due and what it would hold; send and record nothing",
    )
    c.set_defaults(handler=cmd_push)

    c = sub.add_parser("clients", help="import clients from a CSV file")
    c.add_argument(
        "csv",
        help="columns id, name, email, interests (';'-separated) and optionally cadence, "
        "weekday, hour, timezone, max_items, max_emails_per_week, status",
    )
    c.set_defaults(handler=cmd_clients)

    c = sub.add_parser("status", help="sources, last run and counts")
    c.set_defaults(handler=cmd_status)

    c = sub.add_parser("score", help="score JSON lines ({id, text}) from a file or stdin")
    c.add_argument("file", nargs="?", help="input file (default: stdin)")
    c.set_defaults(handler=cmd_score)

    c = sub.add_parser("corrections", help="import labelled texts for `tidings train`")
    c.add_argument("action", choices=["import"])
    c.add_argument("file", help='JSON lines {"text", "intents", "sentiment", "relevant"} or CSV')
    c.set_defaults(handler=cmd_corrections)

    c = sub.add_parser("train", help="train the next model version from the corrections made")
    c.add_argument("--rescore", action="store_true", help="then re-score the stored mentions")
    c.set_defaults(handler=cmd_train)

    c = sub.add_parser("report", help="the weekly report: send it now, or write it as a PDF")
    c.add_argument(
        "--week", action="store_true", help="send this week's report to [report] now (once)"
    )
    c.add_argument("--pdf", metavar="FILE", help="write the report as a PDF file")
    c.set_defaults(handler=cmd_report)

    c = sub.add_parser("export", help="write the whole store as Parquet files into DIR")
    c.add_argument("dir", metavar="DIR", help="an empty or new folder")
    c.set_defaults(handler=cmd_export)

    c = sub.add_parser("import", help="restore the store from a folder `tidings export` wrote")
    c.add_argument("dir", metavar="DIR")
    c.add_argument(
        "--replace", action="store_true", help="replace what the store holds (else refused)"
    )
    c.set_defaults(handler=cmd_import)

    c = sub.add_parser("rescore", help="re-score the stored mentions with the newest model")
    c.set_defaults(handler=cmd_rescore)

    from flows import people

    people.add_parser(sub)
    return p


def mail_goes_nowhere(config: Config) -> str | None:
    """A sentence saying where mail goes when no [smtp] section was written; None if one was."""
    if "smtp" in config.model_fields_set:
        return None
    return (
        f"{config.path}: no [smtp] section, so alert and digest mail goes to "
        f"{config.smtp.host}:{config.smtp.port}, which works only if this machine runs a mail "
        "server; add [smtp] (the file `tidings init` writes shows one)"
    )


def _note_mail(config: Config, has_mail: bool = True) -> None:
    if has_mail and (why := mail_goes_nowhere(config)):
        print(f"tidings: note: {why}", file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    if path.exists() and not args.force:
        raise TidingsError(f"{path}: already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("data").joinpath("starter.toml").read_text("utf-8"))
    print(
        f"Wrote {path}. Edit its [[watch]] and [[sources]], then run `tidings run`; for alert "
        "and digest mail, uncomment [smtp] and [[alerts]] and fill them in."
    )
    return 0


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    with store.connect(config.db_path, config.database.lock_timeout_seconds):
        pass  # creates the database and applies migrations, or fails with a clear message
    return config


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    from flows.limits import with_prefect_host_limits
    from flows.pipeline import pass_lock, run_pass
    from flows.server import api_client, prefect_server

    with pass_lock(config.db_path, args.wait):
        pass  # a pass running is said now (exit 75), before a Prefect server is started
    with prefect_server(config, long_lived=False), api_client():
        report = run_pass(
            with_prefect_host_limits(config), force=args.all, wait=args.wait, stoppable=True
        )
    print(report.summary())
    for source, error in report.errors.items():
        print(f"  {source}: {error}")
    if report.interrupted:
        return say_interrupted()
    if nothing_reached(report.sources_fetched, list(report.errors.values())):
        print(NOTHING_REACHED)
    return 0


NOTHING_REACHED = (
    "No source could be reached: this machine seems to have no internet connection, or a "
    "firewall or proxy stands in the way (Tidings uses HTTPS_PROXY when it is set)."
)


def nothing_reached(fetched: int, errors: list[str]) -> bool:
    """Whether every source of a pass failed without an answer (as opposed to answering
    badly: HTTP 404, not a feed…), as when this machine is offline."""
    network = ("connection failed", "timed out")
    return (
        fetched > 0 and len(errors) == fetched and all(any(n in e for n in network) for e in errors)
    )


def quiet_stop_for_prefect() -> None:
    """Ctrl-C reaches Prefect's temporary server together with Tidings; flow logs still queued
    for it then end in "Error logging to API" on the console that already shows them. With a
    Prefect server of one's own (PREFECT_API_URL) logs are sent to it as usual."""
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    # Both ports are checked before anything starts: a busy one is found now, not after a pass.
    if not args.no_dashboard:
        _dashboard_port_free(config, config.dashboard.port)
    require_free_port(
        config.push.address, config.push.port,
        f"{config.path}: push.port {config.push.port} (the client feeds)",
        "set another [push] port",
    )  # fmt: skip
    from flows.orchestrator import runner_stopped, start_runner, stop_runner
    from flows.server import prefect_server

    dashboard = endpoint = runner = None
    try:
        with prefect_server(config, long_lived=True) as server:
            print(f"Prefect UI (runs, schedules, logs): {server.ui_url}", flush=True)
            dashboard = None if args.no_dashboard else start_dashboard(config)
            endpoint = start_endpoint(config)
            _note_mail(config, bool(config.alerts))
            print(
                f"Tidings is running: a pass every {config.pipeline.tick_minutes} min, alerts "
                f"every {config.prefect.alerts_minutes} min, digests every "
                f"{config.prefect.digests_minutes} min. Ctrl-C stops.",
                flush=True,
            )

            runner = start_runner(config)
            try:
                while True:
                    if dashboard is not None and dashboard_stopped(dashboard):
                        raise KeyboardInterrupt  # stopped as Tidings is: Ctrl-C reached it
                    runner_stopped(runner)
                    time.sleep(1)
            finally:
                stop_runner(runner)  # before the Prefect server it reports to
    except KeyboardInterrupt:
        return 0  # Ctrl-C or a service manager's stop: the normal way to stop a service
    finally:
        if endpoint is not None:
            endpoint.should_exit = True
        stop(dashboard)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    config = _load(args)
    from flows.orchestrator import start_worker
    from flows.server import configured_api_url, prefect_server

    if not configured_api_url():
        from flows.server import answers

        if not answers(config.prefect.api_url):
            raise TidingsError(
                f"no Prefect server answers at {config.prefect.api_url} ([prefect] in "
                f"{config.path}): start `tidings serve` first, or set PREFECT_API_URL"
            )
    with prefect_server(config, long_lived=True):
        return start_worker(config, name=args.name, limit=args.limit)


def start_endpoint(config: Config) -> object:
    """The clients' feeds and unsubscribe links, on their own port beside the dashboard."""
    from notify import web

    server = web.start(config)
    print(f"Client feeds and unsubscribe: http://{config.push.address}:{config.push.port}")
    return server


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# How the dashboard ends when asked to stop: Streamlit exits 0 on Ctrl-C, or dies of the signal.
_STOPPED = (0, -signal.SIGINT, -signal.SIGTERM)


def dashboard_stopped(proc: subprocess.Popen) -> bool:
    """Whether the dashboard has stopped as asked; one that stops by itself is an error."""
    code = proc.poll()
    if code is None:
        return False
    if code in _STOPPED:
        return True
    raise TidingsError(
        f"the dashboard stopped unexpectedly (exit code {code}); see its output above"
    )


def wait_dashboard(proc: subprocess.Popen) -> int:
    """Wait for the dashboard until Ctrl-C (exit 0), or fail if it stops by itself."""
    try:
        proc.wait()
        dashboard_stopped(proc)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    config = _load(args)
    _dashboard_port_free(config, config.dashboard.port)
    proc = start_dashboard(config)
    try:
        return wait_dashboard(proc)
    finally:
        stop(proc)


def require_free_port(address: str, port: int, what: str, choose: str) -> None:
    """Fail at once, naming the port and how to choose another, if something listens there."""
    from flows.server import port_in_use

    if port_in_use(address, port, what):
        raise TidingsError(
            f"{what} is already in use on {address} (another Tidings, or another program, "
            f"listens there): stop it, or {choose}"
        )


def _dashboard_port_free(config: Config, port: int) -> None:
    require_free_port(
        config.dashboard.address, port,
        f"{config.path}: dashboard.port {port}",
        "set another [dashboard] port",
    )  # fmt: skip


def start_dashboard(config: Config, port: int | None = None) -> subprocess.Popen:
    """Start Streamlit on the configured address; refuse a public address without a password."""
    from flows.people import secrets_args, team_defined

    if not config.dashboard.is_local and not os.environ.get(PASSWORD_ENV):
        if not team_defined(config):
            raise TidingsError(
                f"{config.path}: dashboard.address is {config.dashboard.address!r}, which other "
                f"machines can reach; set {PASSWORD_ENV} to protect it, or add people with "
                "`tidings users add`"
            )
    app = Path(__file__).resolve().parent.parent / "dashboard" / "server.py"
    env = {**os.environ, CONFIG_ENV: str(config.path)}
    port = port or config.dashboard.port
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", config.dashboard.address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        *secrets_args(config),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    print(f"Dashboard: http://{config.dashboard.address}:{port}", flush=True)
    return proc


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def cmd_demo(args: argparse.Namespace) -> int:
    from flows.demo import run_demo

    return run_demo(port=args.port, dashboard=not args.no_dashboard)


def cmd_alerts(args: argparse.Namespace) -> int:
    config = _load(args)
    from data import alert_rules
    from notify.alerts import dry_run, run_alerts

    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        if not alert_rules.in_effect(config, db):
            print(f"No alert rule: add [[alerts]] to {config.path} or one on the dashboard.")
            return 0
    _note_mail(config)

    if args.dry_run:
        for rule, conditions in dry_run(config):
            if not conditions:
                print(f"{rule.name} ({rule.kind}): nothing would fire")
            for c in conditions:
                to = ", ".join(c.recipients)
                print(f"{rule.name} ({rule.kind}) would fire: {c.subject}")
                print(f"  why: {c.reason}\n  to: {to}")
        return 0
    report = run_alerts(config)
    for c in report.fired:
        print(f"{c.rule}: {c.subject}")
    print(report.summary())
    if report.sent.error:
        print(f"  mail server: {report.sent.error} (mail kept in the outbox for later)")
    return 0


def cmd_alerts_backtest(args: argparse.Namespace) -> int:
    """Every alert a spike rule would have sent: JSON lines on stdout, a summary on stderr."""
    from data import alert_rules
    from notify import backtest

    since = backtest.parse_since(args.since) if args.since else None
    runs = []
    if args.csv:
        path = Path(args.csv)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise TidingsError(f"{path}: cannot read: {e}") from None
        rules = [backtest.DEFAULT_RULE]
        if args.rule:
            config = _load(args)
            with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
                rules = backtest.spike_rules(alert_rules.in_effect(config, db), args.rule)
        series = backtest.csv_series(text, str(path), path.stem)
        start = series.last_end - since if since else None
        runs = [(rule, [series], start) for rule in rules]
    else:
        config = _load(args)
        since = since or backtest.parse_since("90d")
        now = store.utcnow()
        with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
            rules = backtest.spike_rules(alert_rules.in_effect(config, db), args.rule)
            runs = [
                (rule, backtest.store_series(db, rule, config.watch, now, since), now - since)
                for rule in rules
            ]
        if not rules:
            print(f"No spike rule: add one to {config.path} or on the dashboard.", file=sys.stderr)
    for rule, series, start in runs:
        if args.sensitivity:
            rule = rule.model_copy(update={"sensitivity": args.sensitivity})
        alerts = backtest.backtest(rule, series, start)
        for alert in alerts:
            print(json.dumps(alert.as_json(), ensure_ascii=False))
        keys = len(series)
        print(
            f"{rule.name} ({rule.sensitivity}): {len(alerts)} alert(s) for {keys} key(s)",
            file=sys.stderr,
        )
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    config = _load(args)
    if args.now and not args.client:
        raise TidingsError("--now needs --client: say whose digest to send now")
    from data import clients

    unreadable: dict[str, str] = {}  # they stop no one else's digest: push names them
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        everyone = clients.all_clients(db, unreadable)
    unknown = sorted(set(args.client or ()) - {c.id for c in everyone} - set(unreadable))
    if unknown:
        known = ", ".join(c.id for c in everyone) or "none yet: `tidings clients FILE` adds them"
        raise TidingsError(f"--client: no client with id {unknown[0]!r} (clients: {known})")
    if args.dry_run:
        for line in push_plan(config, args.client, args.now):
            print(line)
        return 0
    from flows.pipeline import push_now
    from flows.server import prefect_server

    _note_mail(config)
    with prefect_server(config, long_lived=False):
        report = push_now(config, only=args.client, force=args.now)
    for cid in report.sent_to:
        print(f"{cid}: digest queued")
    for cid, why in report.skipped.items():
        print(f"{cid}: not now ({why})")
    print(
        f"{report.summary()}; mail sent {report.mail.sent}, retrying {report.mail.retrying}, "
        f"failed {report.mail.failed}"
    )
    return 0


def push_plan(config: Config, only: list[str] | None, force: bool) -> list[str]:
    """What `tidings push` would do now, in lines: per client, the digest it would send and
    its articles, or why not. Reads only: nothing is sent, recorded or cleared."""
    from data import clients
    from notify.digest import is_due, may_send
    from notify.push import next_digests, recent_mail

    now = store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        unreadable: dict[str, str] = {}
        everyone = [c for c in clients.all_clients(db, unreadable) if only is None or c.id in only]
        verdicts = {}
        for c in everyone:
            sent = recent_mail(db, c.id, now)
            verdicts[c.id] = may_send(c, sent, now) if force else is_due(c, sent, now)
        due = [cid for cid, (ok, _) in verdicts.items() if ok]
        digests = next_digests(config, db, now, due) if due else {}
    lines = [
        f"{cid}: not now ({why})" for cid, why in unreadable.items() if only is None or cid in only
    ]
    if not everyone and not lines:
        return ["No client yet: `tidings clients FILE` imports them."]
    for c in everyone:
        ok, why = verdicts[c.id]
        picks = digests.get(c.id, [])
        if not ok:
            lines.append(f"{c.id}: not now ({why})")
        elif not picks:
            lines.append(f"{c.id}: due, but nothing relevant and new to send")
        else:
            lines.append(f"{c.id}: would send {len(picks)} article(s) to {c.email}:")
            lines += [f"  - {p.article['title'] or '(untitled)'} ({p.article['source']})"
                      for p in picks]  # fmt: skip
    return lines


def cmd_clients(args: argparse.Namespace) -> int:
    config = _load(args)
    from data import clients

    try:
        with open(args.csv, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TidingsError(f"{args.csv}: cannot read: {e.strerror}") from None
    text = clients.decode_csv(data, args.csv)  # not UTF-8: one line naming the file
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        saved, rejected = clients.import_csv(db, text, store.utcnow())
        db.commit()
    print(f"{args.csv}: {saved} client(s) imported, {len(rejected)} problem(s)")
    for line in rejected:
        print(f"  {line}")
    return 0 if not rejected else 1


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        counts = store.totals(db)
        run = store.last_run(db)
        states = store.source_states(db)
    print(f"Config:   {config.path}")
    print(f"Database: {config.db_path}")
    # What each figure counts, as the dashboard says it: the Mentions page lists these posts,
    # the Overview counts stories (a post with its cross-posts once) in a period.
    articles = counts["mentions"] - counts["scored"]
    print(
        f"Mentions: {counts['scored']:,} about watched terms (every post on every source, "
        "whenever published)"
        + (f"; {articles:,} more article(s) kept for client digests only" if articles else "")
    )
    if run is None:
        print("Last run: never (start one with `tidings run`)")
    else:
        print(
            f"Last run: {run.finished_at:%Y-%m-%d %H:%M}Z, {run.sources_fetched} source(s), "
            f"{run.sources_failed} failed, {run.new_mentions} new mention(s)"
        )
    print("Sources:")
    for s in config.sources:
        st = states.get(s.id)
        if st is None:
            health = "never fetched"
        elif st.needs_credentials:
            health = f"NEEDS CREDENTIALS: {st.last_error}"
        elif st.last_error:
            health = f"FAILING ×{st.consecutive_failures}: {st.last_error}"
        else:
            health = f"ok, last success {st.last_success_at:%Y-%m-%d %H:%M}Z"
            if st.skipped_last_fetch:
                health += f", {st.skipped_last_fetch} item(s) of an unexpected shape skipped"
        enabled = "" if s.enabled else " (disabled)"
        print(f"  {s.id:<20} {s.kind:<10} {health}{enabled}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """`--week` sends the week's report (once: a second run the same day queues nothing);
    `--pdf FILE` writes it. `tidings serve` sends it at `[report]`'s weekday and hour."""
    config = _load(args)
    from notify import report

    if not (args.week or args.pdf):
        raise TidingsError("say --week (send it now) or --pdf FILE (write it)")
    if args.pdf:
        try:
            Path(args.pdf).write_bytes(report.pdf(report.build(config)))
        except OSError as e:
            raise TidingsError(f"{args.pdf}: cannot write: {e.strerror or e}") from None
        print(f"Wrote {args.pdf}")
    if args.week:
        if not (config.report.recipients or config.report.notify):
            raise TidingsError(f"{config.path}: [report] names no recipients and no notify URL")
        _note_mail(config, bool(config.report.recipients))
        sent = report.send_report(config)
        print(sent.summary() if sent else "nothing to send")
        if sent and sent.sent.error:
            print(f"  mail server: {sent.sent.error} (mail kept in the outbox for later)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from data.exports import export_store

    config = load_config(args.config)
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        counts = export_store(db, Path(args.dir), store.utcnow())
    print(f"Exported {sum(counts.values()):,} row(s) of {len(counts)} table(s) to {args.dir}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from data.exports import import_store

    config = load_config(args.config)
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        counts = import_store(db, Path(args.dir), replace=args.replace)
    print(f"Imported {sum(counts.values()):,} row(s) of {len(counts)} table(s) from {args.dir}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from nlp import build_scorer

    scorer = build_scorer(config.watch, config.models_dir)
    # Bytes that are not UTF-8 become U+FFFD: the line they are on is then reported (not JSON)
    # or scored, and never stops the others.
    if args.file:
        try:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                return score_lines(scorer, f, sys.stdout, sys.stderr)
        except OSError as e:
            raise TidingsError(f"{args.file}: cannot read: {e.strerror}") from None
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return score_lines(scorer, stdin, sys.stdout, sys.stderr)


def cmd_corrections(args: argparse.Namespace) -> int:
    config = _load(args)
    from data import corrections
    from nlp.intent import INTENTS

    labelled = corrections.read_labelled(Path(args.file), INTENTS)
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        n = corrections.import_labelled(db, labelled, Path(args.file).name, store.utcnow())
    print(f"Imported {n:,} labelled texts from {args.file}; `tidings train` learns from them.")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    config = _load(args)
    from data import corrections
    from nlp import model
    from nlp.query import name_masker

    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        sentiments, intents, _ = corrections.training_data(db)
        about_us = corrections.relevance_data(db)
        unmarked = corrections.unmarked_counted(db)
    try:  # a place to write the model is checked first: it is needed whatever was corrected
        config.models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TidingsError(f"{config.models_dir}: cannot write the model: {e.strerror}") from None
    if about_us:
        for line in train_relevance(config, about_us, unmarked):
            print(line)
        if not sentiments and not intents:
            print("No sentiment or intent correction yet: those readings stay as they are.")
            return 0
    if not sentiments and not intents:
        raise TidingsError(
            "nothing to learn from yet: no correction has been made. Correct a reading on the "
            "dashboard (a mention's “Wrong reading? Correct it”) or import labelled texts with "
            "`tidings corrections import FILE`; the model in use stays as it is"
        )
    mask = name_masker(config.watch)
    try:
        trained = model.train(
            config.models_dir,
            [(mask(t), label) for t, label in sentiments],
            [(mask(t), wanted) for t, wanted in intents],
        )
    except OSError as e:
        raise TidingsError(f"{config.models_dir}: cannot write the model: {e.strerror}") from None
    print(
        f"Trained {trained.version} from the rated sentences, {len(sentiments)} sentiment and "
        f"{len(intents)} intent corrections ({trained.path})."
    )
    for line in held_out_lines(trained.metrics.get("corrections_held_out") or {}):
        print(line)
    if args.rescore:
        return cmd_rescore(args)
    print("New mentions are scored with it; `tidings rescore` re-scores the stored ones.")
    return 0


def train_relevance(
    config: Config, labelled: list[tuple[str, bool]], unmarked: list[str]
) -> list[str]:
    """Learn each watch's "about us" model from its relevance labels; what it measured."""
    from nlp import relevance

    try:
        trained, figures = relevance.train(config.watch, labelled, config.models_dir, unmarked)
    except OSError as e:
        raise TidingsError(f"{config.models_dir}: cannot write the model: {e.strerror}") from None
    lines = [
        f"Trained {trained.version} (is it about us?) from {len(labelled)} labelled mentions "
        f"for {len(figures)} watch(es) ({relevance.path_in(config.models_dir)})."
    ]
    for name, f in sorted(figures.items()):
        lines.append(
            f"  about {name}: accuracy {f['rules']:.2f} by the rules, {f['prior']:.2f} before "
            f"learning → {f['learned']:.2f} learned, on {int(f['n'])} held-out labels "
            f"({relevance.FOLDS}-fold)"
        )
    if not figures:
        lines.append(
            f"  no watch has {relevance.MIN_TO_TRAIN} labelled mentions yet: "
            "the context rules and the priors decide"
        )
    return lines


def held_out_lines(figures: dict) -> list[str]:
    """What training measured on the corrections, each read by a model fitted without it
    (cross-fitted), beside the shipped model's reading (it learned from none)."""
    before, after = figures.get("before") or {}, figures.get("after") or {}
    lines = []
    for reading, per in after.items():
        now, then = per.get("all") or {}, (before.get(reading) or {}).get("all") or {}
        for key in ("f1", "macro_f1"):
            if key in now:
                was = f"{then[key]:.2f}" if key in then else "—"
                lines.append(
                    f"  {reading}: {key.replace('_', '-')} {was} → {now[key]:.2f} on "
                    f"{now.get('n', '?')} corrections, each read by a model that never "
                    f"learned from it (before: {figures.get('before_version', 'linear-base')})"
                )
    return lines


def cmd_rescore(args: argparse.Namespace) -> int:
    config = _load(args)
    from nlp import build_scorer, duplicates

    scorer = build_scorer(config.watch, config.models_dir)
    lock = config.database.lock_timeout_seconds
    with store.connect(config.db_path, lock) as db:
        mentions = store.scored_mention_records(db)
    scored = scorer.score(mentions)
    with store.connect(config.db_path, lock) as db:
        db.begin()
        store.upsert_scores(db, [s for _, s in scored], store.utcnow())
        prints = {m.id: s.fingerprint for m, s in scored if s.fingerprint}
        bands = dict(zip(prints, duplicates.band_keys(list(prints.values())), strict=True))
        store.fill_fingerprints(db, prints, bands)
        db.commit()
    kept = len(mentions) - len(scored)
    print(
        f"Re-scored {len(scored):,} mentions with {scorer.version}"
        + (f"; {kept:,} no longer match the watchlist and keep their old scores." if kept else ".")
    )
    return 0


SCORE_BATCH = 256  # lines scored at once by `tidings score`


def score_lines(scorer: Scorer, lines: TextIO, out: TextIO, err: TextIO) -> int:
    """One JSON line out per JSON line in, same order; a bad line is reported on `err`.
    Lines are scored a batch at a time, as a pass scores (a batch that fails is scored again
    line by line, so that only the bad line is reported)."""
    bad = 0
    batch: list[tuple[int, object, str]] = []

    def flush() -> None:
        nonlocal bad
        try:
            scores = scorer.score_texts([text for _, _, text in batch])
        except Exception:  # noqa: BLE001 — scored again one by one, below
            scores = [None] * len(batch)
        for (number, ident, text), s in zip(batch, scores, strict=True):
            try:
                s = s or scorer.score_text(text)
            except Exception as e:  # noqa: BLE001 — one line's failure never stops the others
                bad += 1
                reason = f"cannot score: {type(e).__name__}: {e}".splitlines()[0][:300]
                print(json.dumps({"line": number, "error": reason}), file=err)
                continue
            print(json.dumps(score_record(ident, s)), file=out)
        batch.clear()

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, ident = item["text"], item.get("id", number)
            if not isinstance(text, str):
                raise TypeError("'text' must be a string")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as e:
            flush()  # lines stay in order
            bad += 1
            reason = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            print(json.dumps({"line": number, "error": reason[:300]}), file=err)
            continue
        batch.append((number, ident, text))
        if len(batch) == SCORE_BATCH:
            flush()
    flush()
    return 1 if bad else 0


def score_record(ident: object, s: Score) -> dict:
    """What `tidings score` prints for one text."""
    return {
        "id": ident,
        "sentiment": s.sentiment,
        "sentiment_label": s.sentiment_label,
        "intents": s.intents,
        "lang": s.lang,
        "terms": [] if s.set_aside else list(s.terms),
        # Named, but about none of them (below each one's relevance threshold).
        "set_aside": list(s.terms) if s.set_aside else [],
        "term_sentiment": {} if s.set_aside else dict(zip(s.terms, s.term_sentiments, strict=True)),
        "term_relevance": dict(zip(s.terms, s.term_relevance, strict=False)),
        "model_version": s.model_version,
    }


if __name__ == "__main__":
    raise SystemExit(main())
