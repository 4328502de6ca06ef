"""`tidings demo`: the whole product offline, on recorded feeds replayed from 127.0.0.1.

The recorded feeds end on a fixed day; they are replayed shifted so that their newest item is
a few hours old, which makes the dashboard look as it would on a live install.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import threading
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pandas as pd
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from data import alert_rules, clients, engagement, inbox, store
from data.config import AlertRule, Config, load_config
from notify import backtest
from notify.alerts import AlertReport, run_alerts
from notify.push import push_digests

_PUBDATE = re.compile(rb"<pubDate>([^<]+)</pubDate>")
_DATETIME_ATTR = re.compile(rb'datetime="([^"]+)"')
_EPOCH_KEYS = {"created_at_i", "created_utc"}
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def shift_times(value: object, shift: timedelta) -> object:
    """A recorded API answer with every timestamp in it moved by `shift`: epoch fields of
    Hacker News and Reddit, ISO-8601 strings of Mastodon and Bluesky."""
    if isinstance(value, dict):
        return {
            k: (v + shift.total_seconds() if k in _EPOCH_KEYS and isinstance(v, int | float)
                else shift_times(v, shift))
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [shift_times(v, shift) for v in value]
    if isinstance(value, str) and _ISO.match(value):
        when = datetime.fromisoformat(value.replace("Z", "+00:00")) + shift
        return when.isoformat().replace("+00:00", "Z")
    return value


def replay_feeds(target: Path) -> None:
    """Copy the recorded feeds and API answers into `target`, every date in them shifted so
    that the newest is three hours old."""
    target.mkdir(parents=True, exist_ok=True)
    root = Path(str(resources.files("data").joinpath("demo/recorded")))
    files = {f.relative_to(root): f.read_bytes() for f in root.rglob("*") if f.is_file()}
    newest = max(
        parsedate_to_datetime(m.decode()) for body in files.values() for m in _PUBDATE.findall(body)
    )
    shift = (store.utcnow() - timedelta(hours=3)) - newest
    shift = shift // timedelta(seconds=1) * timedelta(seconds=1)

    def moved(m: re.Match[bytes]) -> bytes:
        when = parsedate_to_datetime(m.group(1).decode()) + shift
        return b"<pubDate>" + format_datetime(when.replace(microsecond=0)).encode() + b"</pubDate>"

    def moved_attr(m: re.Match[bytes]) -> bytes:
        return b'datetime="' + shift_times(m.group(1).decode(), shift).encode() + b'"'  # type: ignore[union-attr]

    for relative, body in files.items():
        if body.lstrip()[:1] in (b"{", b"["):
            body = json.dumps(shift_times(json.loads(body), shift)).encode()
        else:
            body = _DATETIME_ATTR.sub(moved_attr, _PUBDATE.sub(moved, body))
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(body)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve_folder(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """Serve a folder over HTTP on 127.0.0.1 (a free port) from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _MailFolder:
    """An SMTP handler that keeps each mail as an .eml file, so the demo can show them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        n = len(list(self.folder.glob("*.eml"))) + 1
        (self.folder / f"{n:03d}.eml").write_bytes(envelope.content)  # type: ignore[arg-type]
        return "250 Message accepted"


class _ChatHook(_QuietHandler):
    """A chat service's webhook, as Apprise's json:// posts to it: each message kept as a
    .json file in the server's folder."""

    def do_POST(self) -> None:  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        folder = Path(self.directory)
        n = len(list(folder.glob("*.json"))) + 1
        (folder / f"{n:03d}.json").write_bytes(body)
        self.send_response(200)
        self.end_headers()


def serve_chat(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """A local webhook on 127.0.0.1 (a free port) that keeps what chat messages it receives in
    `folder`; returns the server and the json:// URL that posts to it."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_ChatHook, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"json://127.0.0.1:{server.server_address[1]}/team-chat"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_mail(folder: Path) -> tuple[Controller, int]:
    """A local SMTP server on 127.0.0.1 that writes what it receives into `folder`."""
    port = _free_port()
    controller = Controller(_MailFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def prepare_demo(
    workdir: Path,
    base_url: str,
    smtp_port: int = 25,
    push_port: int = 8502,
    dashboard_port: int = 8501,
    chat_url: str = "json://127.0.0.1:9/team-chat",
) -> Path:
    """Write the demo config (pointing at `base_url`) into `workdir`, with a fresh database.
    The dashboard's port is written into it, so that links in the demo's mails lead there."""
    workdir.mkdir(parents=True, exist_ok=True)
    template = resources.files("data").joinpath("demo/demo.toml").read_text("utf-8")
    path = workdir / "tidings.toml"
    text = (
        template.replace("{base_url}", base_url)
        .replace("{smtp_port}", str(smtp_port))
        .replace("{push_port}", str(push_port))
        .replace("{chat_url}", chat_url)
    )
    text += f"\n[dashboard]\nport = {dashboard_port}\n"
    path.write_text(text, encoding="utf-8")
    for stale in workdir.glob("tidings.duckdb*"):
        stale.unlink()
    return path


DASHBOARD_PORT = 8501


def typed_command() -> str:
    """`tidings` as the user can type it again from here: `.venv/bin/tidings` after
    `make demo` (the venv is not on PATH), else `tidings`."""
    started = Path(sys.argv[0])
    if started.name == "tidings" and not started.is_absolute() and started.exists():
        return str(started)
    return "tidings"


def run_demo(port: int | None = None, dashboard: bool = True, workdir: Path | None = None) -> int:
    from flows import cli

    cli.quiet_stop_for_prefect()
    from flows.pipeline import run_pass

    port = port or DASHBOARD_PORT
    if dashboard:  # said at once, not after the pass
        other = 8600 if port != 8600 else 8601
        cli.require_free_port(
            "127.0.0.1", port, f"Port {port} (the demo's dashboard)",
            f"choose another: `tidings demo --port {other}` or `make demo PORT={other}`",
        )  # fmt: skip
    workdir = workdir or Path("var/demo")
    feeds = workdir / "feeds"
    shutil.rmtree(feeds, ignore_errors=True)
    shutil.rmtree(workdir / "mail", ignore_errors=True)
    shutil.rmtree(workdir / "chat", ignore_errors=True)
    replay_feeds(feeds)
    server, base_url = serve_folder(feeds)
    mail, smtp_port = serve_mail(workdir / "mail")
    chat, chat_url = serve_chat(workdir / "chat")
    try:
        config = load_config(
            prepare_demo(workdir, base_url, smtp_port, _free_port(), port, chat_url)
        )
        print(f"Demo feeds served from {base_url}; running one pass…", flush=True)
        report = run_pass(config, force=True)
        print(report.summary(), flush=True)
        print(replay_outage(config), flush=True)
        alerts = seed_inbox(config)
        print(f"Inbox: some complaints assigned and handled. Alerts: {alerts.summary()}.")
        print(seed_clients(config), flush=True)
        print(seed_return_path(config), flush=True)
        print(weekly_report(config, workdir), flush=True)
        print(
            f"Mail the demo sent is in {workdir / 'mail'}/, chat messages in {workdir / 'chat'}/",
            flush=True,
        )
        # `tidings status` alone reads ./tidings.toml, not the demo's: say how to reach it.
        cli_on_demo = f"{typed_command()} --config {workdir / 'tidings.toml'} status"
        print(f"The CLI on the demo: {cli_on_demo}", flush=True)
        if not dashboard:
            return 0
        endpoint = cli.start_endpoint(config)
        proc = cli.start_dashboard(config)
        print("Ctrl-C stops the demo.", flush=True)
        try:
            return cli.wait_dashboard(proc)
        finally:
            endpoint.should_exit = True
            cli.stop(proc)
    finally:
        server.shutdown()
        chat.shutdown()
        mail.stop()


def replay_outage(config: Config, days: int = 30) -> str:
    """The recorded sync outage is days old once replayed, so no spike rule fires on it now.
    Each spike rule is run as it would have run then: at the first moment in the recorded days
    it fires (found by the backtest, which decides as the live rule), its mail is sent."""
    now = store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        spikes = [r for r in alert_rules.in_effect(config, db) if r.kind == "spike" and r.enabled]
        firsts = []
        for rule in spikes:
            series = backtest.store_series(db, rule, config.watch, now, timedelta(days=days))
            fired = backtest.backtest(rule, series, now - timedelta(days=days))
            if fired:
                firsts.append((rule, fired[0]))
    lines = []
    for rule, first in firsts:
        report = run_alerts(config.model_copy(update={"alerts": [rule]}), first.at)
        lines.append(
            f"{rule.name} fired at {first.at:%d %b %H:%M} UTC ({first.observed} mentions in "
            f"the hour, usually {first.expected:.1f}): {report.queued} mail(s) queued"
        )
    return "Spike alerts on the recorded days: " + ("; ".join(lines) or "none fired") + "."


SYNC_TROUBLE = r"(?i)(?<!nimbus )\bsync|outage"  # the outage, not the product Nimbus Sync
CLEARLY_NEGATIVE = -0.5  # a sentiment at or below this reads as a complaint


def clear_complaints(queue: pd.DataFrame) -> pd.DataFrame:
    """The inbox's rows that a person would call a complaint at first sight: plainly negative,
    or saying they will leave (the inbox's "likely complaint" also takes in mildly negative
    news, which is no one's to answer)."""
    leaving = queue["intents"].map(lambda i: "churn_risk" in i)
    return queue[leaving | (queue["sentiment"] <= CLEARLY_NEGATIVE)]


def seed_inbox(config: Config) -> AlertReport:
    """Show the inbox in use: the week's loudest clear complaints assigned a day and a half ago
    (so that a reminder is due), two about the sync outage answered with the post-mortem, a few
    questions handled; then evaluate the alerts as a later pass would."""
    now = store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        queue = inbox.queue(db, since=now - timedelta(days=7))  # this week's work
        clear = clear_complaints(queue)
        assigned = clear["id"].tolist()[:3]
        # The queue holds what a row shows; a mention's text is read where it is opened.
        about_sync = [
            i for i in clear["id"] if re.search(SYNC_TROUBLE, inbox.mention(db, i)["text"])
        ]
        answered = [i for i in about_sync if i not in assigned][:2]
        db.begin()
        lead, sam = "dana@nimbusnotes.example", "sam@nimbusnotes.example"
        others = queue[~queue["likely_complaint"]]["id"].tolist()
        inbox.update(db, assigned, lead, now - timedelta(hours=30), assignee=sam)
        inbox.update(
            db, answered, sam, now - timedelta(hours=5), status="responded",
            add_tags=["sync"], note="Replied with the post-mortem link.",
        )  # fmt: skip
        inbox.update(db, others[:4], sam, now - timedelta(hours=2), status="done")
        db.commit()
    return run_alerts(config, now)


def seed_clients(config: Config) -> str:
    """Import the demo's clients from CSV (one row is rejected, as the report shows) and send
    one digest now, so that the Clients page has history and the Curation page a queue."""
    text = resources.files("data").joinpath("demo/clients.csv").read_text("utf-8")
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        saved, rejected = clients.import_csv(db, text, store.utcnow())
    pushed = push_digests(config, only=["harbor"], force=True)
    return (
        f"Clients: {saved} imported, {len(rejected)} row(s) rejected "
        f"({'; '.join(rejected)}); digests sent to: {', '.join(pushed.sent_to) or 'nobody'}."
    )


def seed_return_path(config: Config, now: datetime | None = None) -> str:
    """Northwind got three digests over three weeks and clicked none: an engagement rule slows
    them from weekly to fortnightly, tells their account owner and asks a check-in, which they
    answer; the Clients page shows the change (undoable) and the answer."""
    now = now or store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        db.begin()
        read = clients.candidate_articles(db, now - timedelta(days=config.push.max_age_days))
        fresh = [a for a in read if a["id"] not in clients.delivered_ids(db, "northwind")]
        for week, a in enumerate(fresh[:3]):
            at = now - timedelta(days=20 - 7 * week)
            clients.record_delivery(db, "northwind", [a["id"]], ["feed", "email"],
                                    f"demo-quiet-{week}", at)  # fmt: skip
        db.commit()
    rule = AlertRule(name="quiet-readers", kind="engagement", quiet_digests=3)
    run_alerts(config.model_copy(update={"alerts": [rule]}), now)
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        asked = engagement.checkins(db, "northwind")
        cadence = next(c.cadence for c in clients.all_clients(db) if c.id == "northwind")
        if asked:
            engagement.answer_checkin(
                db, asked[-1].id, 3, "Fortnightly suits us; more on remote teams, please.", now
            )
    return f"Northwind clicked none of three digests: now {cadence}" + (
        ", and answered their check-in 3 of 5." if asked else "."
    )


def weekly_report(config: Config, workdir: Path) -> str:
    """Send this week's report (mail and chat), and keep it as a PDF beside the mail."""
    from notify import report

    sent = report.send_report(config)
    pdf = workdir / "weekly-report.pdf"
    pdf.write_bytes(report.pdf(report.build(config)))
    return f"{sent.summary() if sent else 'Weekly report: nothing sent'}; PDF: {pdf}"
