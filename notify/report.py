"""The weekly report people forward: volume and feeling over the week, share of voice against
competitors, top mentions, complaints received / handled / within SLA, clients' engagement.

The same figures become an HTML mail (charts as PNG images, rendered here with matplotlib) and
a PDF (the dashboard's download, `tidings report --pdf`). The mail goes through the outbox, so
it is sent once, to `[report] recipients` and the chat or webhook URLs of `[report] notify`."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from data import database, outbox, store, voice, weekly
from data.config import Config
from data.config import Report as ReportSettings
from data.outbox import Mail
from data.store import MentionFilter
from data.text import clean_text
from notify.email import SendReport, dashboard_url, send_pending, templates

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# matplotlib is imported where a chart is drawn: every pass asks whether the report is due,
# and importing it cost a second of each `tidings run`.

KIND = "weekly-report"  # its outbox rows' kind
FEELINGS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class WeeklyReport:
    since: date  # the seven days since..until (UTC days), inclusive
    until: date
    totals: dict[str, int]  # stories first seen in the week: mentions, negative, positive
    daily: pd.DataFrame  # store.mentions_per_day over the week
    weekly: pd.DataFrame  # voice.weekly_share over the last history_weeks weeks
    top: pd.DataFrame  # weekly.top_mentions
    complaints: weekly.Complaints
    engagement: weekly.Engagement
    sla_hours: float

    @property
    def title(self) -> str:
        return f"Weekly report: {self.since:%d %b} – {self.until:%d %b %Y}"

    @property
    def share_this_week(self) -> pd.DataFrame:
        """Per term: mentions this week, share and net feeling, most mentioned first."""
        per = self.daily.groupby("term", as_index=False)[["mentions", "negative", "positive"]]
        per = per.sum() if not self.daily.empty else pd.DataFrame(columns=voice.COLUMNS[1:])
        if per.empty:
            return per
        per["share"] = per["mentions"] / per["mentions"].sum()
        per["net_feeling"] = (per["positive"] - per["negative"]) / per["mentions"]
        return per.sort_values(["mentions", "term"], ascending=[False, True])


def gather(config: Config, db: duckdb.DuckDBPyConnection, now: datetime) -> WeeklyReport:
    """The figures of the seven days up to now (today included), from the rollups."""
    until = now.date()
    since = until - timedelta(days=6)
    settings = config.report
    f = MentionFilter(since=since, until=until)
    # Whole weeks (from Monday) for share of voice, the current one last.
    monday = until - timedelta(days=until.weekday())
    history = MentionFilter(since=monday - timedelta(weeks=settings.history_weeks - 1), until=until)
    return WeeklyReport(
        since=since,
        until=until,
        totals=store.summary(db, f),
        daily=store.mentions_per_day(db, f),
        weekly=voice.weekly_share(store.mentions_per_day(db, history)),
        top=weekly.top_mentions(db, since, until),
        complaints=weekly.complaints(db, since, until, settings.sla_hours),
        engagement=weekly.engagement(db, since, until),
        sla_hours=settings.sla_hours,
    )


def build(config: Config, now: datetime | None = None) -> WeeklyReport:
    now = now or store.utcnow()
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        return gather(config, db, now)


# --- charts --------------------------------------------------------------------------------


def _days(report: WeeklyReport) -> pd.DatetimeIndex:
    return pd.date_range(report.since, report.until, freq="D")


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no mentions", ha="center", va="center", color="#888",
            transform=ax.transAxes)  # fmt: skip


def draw_volume(ax: Axes, report: WeeklyReport) -> None:
    _style(ax, "Mentions per day, by watched term")
    if report.daily.empty:
        return _empty(ax)
    table = report.daily.assign(day=pd.to_datetime(report.daily["day"])).pivot_table(
        index="day", columns="term", values="mentions", aggfunc="sum", fill_value=0
    )
    table = table.reindex(_days(report), fill_value=0)
    colours = voice.term_colours(list(table.columns))
    bottom = pd.Series(0, index=table.index)
    labels = [d.strftime("%a %d") for d in table.index]
    for term in sorted(table.columns):
        ax.bar(labels, table[term], bottom=bottom, color=colours[term], label=term)
        bottom += table[term]
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def draw_feeling(ax: Axes, report: WeeklyReport) -> None:
    _style(ax, "How people feel, per day")
    if report.daily.empty:
        return _empty(ax)
    d = report.daily.assign(
        day=pd.to_datetime(report.daily["day"]),
        neutral=report.daily["mentions"] - report.daily["negative"] - report.daily["positive"]
        - report.daily["unscored"],
    ).groupby("day")[list(FEELINGS)].sum().reindex(_days(report), fill_value=0)  # fmt: skip
    bottom = pd.Series(0, index=d.index)
    labels = [x.strftime("%a %d") for x in d.index]
    for feeling in FEELINGS:
        ax.bar(labels, d[feeling], bottom=bottom, color=voice.FEELING_COLOURS[feeling],
               label=feeling)  # fmt: skip
        bottom += d[feeling]
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def draw_share(ax: Axes, report: WeeklyReport) -> None:
    _style(ax, "Share of voice per week")
    if report.weekly.empty:
        return _empty(ax)
    table = report.weekly.pivot_table(index="week", columns="term", values="share", fill_value=0)
    colours = voice.term_colours(list(table.columns))
    labels = [w.strftime("%d %b") for w in table.index]
    bottom = pd.Series(0.0, index=table.index)
    for term in sorted(table.columns):
        ax.bar(labels, table[term] * 100, bottom=bottom * 100, color=colours[term], label=term)
        bottom += table[term]
    ax.set_ylabel("% of mentions")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def draw_net_feeling(ax: Axes, report: WeeklyReport) -> None:
    _style(ax, "Net feeling per week (positive − negative) ÷ mentions")
    if report.weekly.empty:
        return _empty(ax)
    colours = voice.term_colours(list(report.weekly["term"].unique()))
    for term, rows in report.weekly.groupby("term"):
        ax.plot(rows["week"], rows["net_feeling"], marker="o", color=colours[str(term)],
                label=str(term))  # fmt: skip
    ax.axhline(0, color="#999", linestyle="--", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.xaxis.set_major_formatter(_week_format())
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def _week_format():  # noqa: ANN202
    from matplotlib.dates import DateFormatter

    return DateFormatter("%d %b")


CHARTS = {
    "volume": draw_volume,
    "feeling": draw_feeling,
    "share": draw_share,
    "net_feeling": draw_net_feeling,
}


def chart_pngs(report: WeeklyReport) -> dict[str, bytes]:
    """Each chart as a PNG, as the mail shows them."""
    from matplotlib.figure import Figure

    out = {}
    for name, draw in CHARTS.items():
        fig = Figure(figsize=(7, 3), dpi=110, layout="constrained")
        draw(fig.add_subplot(), report)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        out[name] = buffer.getvalue()
    return out


# --- text: mail and PDF share it -----------------------------------------------------------


def headline(report: WeeklyReport) -> list[str]:
    t, c, e = report.totals, report.complaints, report.engagement
    n = t["mentions"]
    pct = (lambda k: f"{t[k] / n:.0%}") if n else (lambda k: "–")
    return [
        f"{n:,} mention(s) first seen this week: {pct('positive')} positive, "
        f"{pct('negative')} negative.",
        f"Complaints: {c.received} received, {c.handled} handled, {c.within_sla} within "
        f"{report.sla_hours:g} h.",
        f"Clients: {e.active_clients} active, {e.clients_reached} reached by {e.digests} "
        f"digest(s) ({e.items} item(s)), {e.unsubscribed} unsubscribed; {_returns(e)}.",
    ]


def _returns(e: weekly.Engagement) -> str:
    """What came back from clients: clicks and check-in answers."""
    said = f"{e.clicks} click(s) by {e.clients_clicking} client(s), "
    said += f"{e.checkins_answered} check-in(s) answered"
    return said + (f" (mean {e.mean_answer:.1f} of 5)" if e.mean_answer is not None else "")


def _short(text: object, size: int = 90) -> str:
    value = clean_text(text) if isinstance(text, str) else ""
    value = " ".join(value.split())
    return value if len(value) <= size else value[: size - 1] + "…"


def top_rows(report: WeeklyReport) -> list[dict]:
    rows = []
    for r in report.top.to_dict("records"):
        reach = r.get("reach")
        rows.append({
            "title": _short(r["title"]) or "(no title)", "url": r["url"], "id": r["id"],
            "source": r["source"], "feeling": r["sentiment_label"],
            "reach": None if reach is None or pd.isna(reach) else int(reach),
        })  # fmt: skip
    return rows


def pdf(report: WeeklyReport) -> bytes:
    """The report as a PDF of three A4 pages: figures and the week's charts; share of voice;
    top mentions, complaints and clients."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": report.title, "Creator": "Tidings"}) as out:
        page = Figure(figsize=(8.27, 11.69), layout="constrained")
        grid = page.add_gridspec(3, 1, height_ratios=[0.6, 2, 2])
        _text_block(page.add_subplot(grid[0]), report.title, headline(report))
        draw_volume(page.add_subplot(grid[1]), report)
        draw_feeling(page.add_subplot(grid[2]), report)
        out.savefig(page)

        page = Figure(figsize=(8.27, 11.69), layout="constrained")
        draw_share(page.add_subplot(2, 1, 1), report)
        draw_net_feeling(page.add_subplot(2, 1, 2), report)
        out.savefig(page)

        page = Figure(figsize=(8.27, 11.69))
        lines = ["Share of voice this week:"]
        for r in report.share_this_week.itertuples():
            lines.append(f"    {_short(r.term, 40)}: {int(r.mentions):,} mention(s), "
                         f"{r.share:.0%} of all, net feeling {r.net_feeling:+.2f}")  # fmt: skip
        lines += ["", "Top mentions (by reach):"]
        for i, r in enumerate(top_rows(report), 1):
            reach = f", reach {r['reach']:,}" if r["reach"] is not None else ""
            lines.append(f"  {i}. {r['title']}")
            lines.append(f"      {r['source']}, {r['feeling']}{reach}  {_short(r['url'], 80)}")
        c, e = report.complaints, report.engagement
        lines += [
            "", "Complaints:",
            f"    received {c.received}, handled {c.handled}, within SLA ({report.sla_hours:g} h) "
            f"{c.within_sla}",
            "", "Clients' engagement:",
            f"    {e.active_clients} active; {e.clients_reached} reached by {e.digests} digest(s), "
            f"{e.items} item(s), {e.by_email} by email; {e.unsubscribed} unsubscribed",
            f"    {_returns(e)}",
        ]  # fmt: skip
        _text_block(page.add_axes((0.07, 0.05, 0.86, 0.9)), "This week in detail", lines, 9)
        out.savefig(page)
    return buffer.getvalue()


def _text_block(ax: Axes, title: str, lines: list[str], size: float = 11) -> None:
    """A title and lines of text from the top left of `ax` (drawn without axes), each line
    placed in points below the last, so spacing holds whatever the area's size."""
    ax.axis("off")
    # parse_math=False: a title from the internet may hold $…$, which is text, not a formula.
    ax.annotate(title, (0, 1), xycoords="axes fraction", fontsize=16, fontweight="bold",
                va="top", annotation_clip=False, parse_math=False)  # fmt: skip
    for i, line in enumerate(lines):
        ax.annotate(line, (0, 1), xycoords="axes fraction", xytext=(0, -28 - i * size * 1.5),
                    textcoords="offset points", fontsize=size, va="top", annotation_clip=False,
                    parse_math=False)  # fmt: skip


# --- the mail ------------------------------------------------------------------------------


def render_mail(config: Config, report: WeeklyReport, now: datetime) -> Mail:
    """The report as a mail (charts inline, see notify.email.message) to `[report]
    recipients`. Its id is the week's: queued twice, it is stored and sent once."""
    images = {k: base64.b64encode(v).decode() for k, v in chart_pngs(report).items()}
    context = {
        "report": report,
        "headline": headline(report),
        "shares": report.share_this_week.to_dict("records"),
        "top": top_rows(report),
        "images": images,
        "dashboard": dashboard_url(config),
    }
    ident = hashlib.blake2b(
        f"{KIND}\x1f{report.since.isoformat()}\x1f{report.until.isoformat()}".encode(),
        digest_size=16,
    ).hexdigest()
    return Mail(
        id=ident,
        kind=KIND,
        rule=None,
        recipients=tuple(dict.fromkeys(config.report.recipients)),
        subject=report.title,
        text_body=templates.get_template("report.txt.j2").render(context),
        html_body=templates.get_template("report.html.j2").render(context),
        not_before=now,
    )


def slot(settings: ReportSettings, now: datetime) -> datetime:
    """The latest moment the report was due at or before `now`: `hour` on `weekday`, local."""
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - settings.weekday) % 7)
    at = datetime(day.year, day.month, day.day, settings.hour, tzinfo=zone)
    if at > local:
        at -= timedelta(days=7)
        at = datetime(at.year, at.month, at.day, settings.hour, tzinfo=zone)
    return at.astimezone(ZoneInfo("UTC"))


def is_due(settings: ReportSettings, now: datetime, last: datetime | None) -> bool:
    """Whether the scheduled report should be queued now: its slot has come and none was
    queued since. A service started days after a slot does not send that old week's report."""
    if not (settings.recipients or settings.notify):
        return False
    at = slot(settings, now)
    if last is not None:
        return last < at
    return now - at < timedelta(days=1)


def last_queued(db: duckdb.DuckDBPyConnection) -> datetime | None:
    (at,) = db.execute("SELECT max(created_at) FROM outbox WHERE kind = ?", [KIND]).fetchone()
    return store._aware(at)


@dataclass(frozen=True, slots=True)
class ReportSent:
    queued: int
    title: str
    sent: SendReport

    def summary(self) -> str:
        if not self.queued:
            return f"{self.title}: already queued, nothing new"
        return (
            f"{self.title}: {self.queued} message(s) queued; sent {self.sent.sent}, "
            f"retrying {self.sent.retrying}, failed {self.sent.failed}"
        )


def send_report(
    config: Config, now: datetime | None = None, scheduled: bool = False
) -> ReportSent | None:
    """Queue this week's report (mail and chat) and send what is due. Scheduled: only when the
    `[report]` slot has come (else None). The week's report is queued once, however often
    this runs."""
    now = now or store.utcnow()
    if scheduled and not (config.report.recipients or config.report.notify):
        return None
    with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
        if scheduled and not is_due(config.report, now, last_queued(db)):
            return None
        report = gather(config, db, now)
    mails = outbox.with_outlets(render_mail(config, report, now), config.report.notify)

    def queue() -> int:  # again when another worker's queuing conflicts (outbox.enqueue)
        with store.connect(config.db_path, config.database.lock_timeout_seconds) as db:
            db.begin()
            queued = outbox.enqueue(db, mails, now)
            db.commit()
        return queued

    return ReportSent(database.retry_conflicts(queue), report.title, send_pending(config, now))
