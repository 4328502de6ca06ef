"""The weekly report on a real store: its figures, its PDF rendered page by page (pypdfium2),
its mail through a real SMTP server and its chat message through a webhook on 127.0.0.1."""

import io
import json
from datetime import UTC, datetime, timedelta

import pypdfium2 as pdfium
import pytest
from PIL import Image

from data import clients, inbox, store
from data.clients import Client
from data.config import parse_config
from data.records import Mention, Score
from flows.cli import main
from notify import report
from tests.conftest import make_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # a Friday: the week is 14–20 Nov


def talk(config):
    """Eight weeks of mentions of three watched terms; this week's complaints, handled or not;
    a client who got a digest and one who left."""
    rows = []
    for day in range(56):
        for term, n in (("Nimbus Notes", 3), ("Quillpad", 1 + day // 14), ("Nimbus Sync", 1)):
            for k in range(n):
                when = NOW - timedelta(days=day, hours=k + 1)
                m = Mention("forum", f"{day}-{term}-{k}", f"https://forum.example/{day}/{term}/{k}",
                            f"{term} post {day}.{k}", f"{term} text", None, when, day * 10 + k)  # fmt: skip
                bad = (day + k) % 3 == 0
                rows.append((m, Score(m.id, "v", (term,), -0.5 if bad else 0.5,
                                      "negative" if bad else "positive",
                                      intents={"complaint": 0.9} if bad else {})))  # fmt: skip
    loud = Mention("forum", "loud", "https://forum.example/loud", "Cost $5 a $month — <b>why</b>?",
                   "Nimbus Notes", "ana", NOW - timedelta(days=1), 99_999)  # fmt: skip
    rows.append((loud, Score(loud.id, "v", ("Nimbus Notes",), -0.6, "negative",
                             intents={"complaint": 0.9})))  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [m for m, _ in rows], NOW)
        store.upsert_scores(db, [s for _, s in rows], NOW)
        complaints = [m for m, s in rows if "complaint" in s.intents
                      and m.published >= NOW - timedelta(days=6, hours=12)]  # fmt: skip
        early, late = complaints[0], complaints[1]
        inbox.update(db, [early.id], "sam", early.published + timedelta(hours=2), status="done")
        inbox.update(db, [late.id], "sam", late.published + timedelta(hours=30), status="responded")
        clients.save(
            db,
            Client(id="c1", name="Cleo", email="c@example.com", interests=["x"]),
            NOW - timedelta(days=30),
        )
        clients.save(
            db,
            Client(id="c2", name="Dan", email="d@example.com", interests=["y"]),
            NOW - timedelta(days=30),
        )
        clients.record_delivery(
            db,
            "c1",
            [rows[0][0].id, rows[1][0].id],
            ["feed", "email"],
            "d1",
            NOW - timedelta(days=2),
        )
        clients.unsubscribe(db, "c2", "client (unsubscribe link)", NOW - timedelta(days=1))
        # What came back: two clicks this week and one long before; a check-in answered 4 of 5.
        for item, days in [(rows[0][0].id, 1), (rows[1][0].id, 1), (rows[0][0].id, 20)]:
            db.execute(
                "INSERT INTO client_events VALUES ('c1', 'click', ?, 'd1', ?)",
                [item, (NOW - timedelta(days=days)).replace(tzinfo=None)],
            )
        db.execute(
            "INSERT INTO checkins VALUES ('k1', 'c1', 'Useful?', '1-5', ?, 4, NULL, ?)",
            [(NOW - timedelta(days=3)).replace(tzinfo=None),
             (NOW - timedelta(days=2)).replace(tzinfo=None)],
        )  # fmt: skip
    return len(complaints)


@pytest.fixture
def filled(tmp_path):
    config = make_config(tmp_path, [], report={"recipients": ["boss@example.com"]})
    return config, talk(config)


def test_the_weeks_figures(filled):
    config, complaints = filled
    r = report.build(config, NOW)
    assert (r.since.isoformat(), r.until.isoformat()) == ("2026-11-14", "2026-11-20")
    with store.connect(config.db_path) as db:
        assert r.totals == store.summary(db, store.MentionFilter(since=r.since, until=r.until))
    assert (r.complaints.received, r.complaints.handled, r.complaints.within_sla) == (
        complaints,
        2,
        1,
    )
    assert r.top["title"].iloc[0] == "Cost $5 a $month — <b>why</b>?"
    assert r.top["reach"].is_monotonic_decreasing
    e = r.engagement
    assert (e.active_clients, e.clients_reached, e.digests, e.items, e.unsubscribed) == (
        1,
        1,
        1,
        2,
        1,
    )
    assert (e.clicks, e.clients_clicking, e.checkins_answered, e.mean_answer) == (2, 1, 1, 4.0)
    assert r.weekly["week"].nunique() == 8  # history_weeks, share of voice over time
    shares = r.share_this_week
    assert shares["share"].sum() == pytest.approx(1.0)
    assert shares["term"].tolist() == ["Nimbus Notes", "Nimbus Sync", "Quillpad"]  # most first


def pages(data: bytes) -> list[tuple[Image.Image, str]]:
    doc = pdfium.PdfDocument(data)
    out = []
    for i in range(len(doc)):
        page = doc[i]
        image = page.render(scale=1).to_pil().convert("RGB")
        out.append((image, page.get_textpage().get_text_range()))
    return out


def share_of(image: Image.Image, colour: str) -> float:
    """Part of the page's pixels that are (nearly) this colour."""
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    pixels = list(image.getdata())
    close = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, target, strict=True)) < 30)
    return close / len(pixels)


def test_the_pdf_renders_three_pages_with_charts_and_text(filled):
    config, complaints = filled
    rendered = pages(report.pdf(report.build(config, NOW)))
    assert len(rendered) == 3
    (first, text1), (second, text2), (third, text3) = rendered
    assert first.size[1] > first.size[0]  # A4 portrait
    assert "Weekly report: 14 Nov – 20 Nov 2026" in text1
    assert f"Complaints: {complaints} received, 2 handled, 1 within 24 h." in text1
    assert "Mentions per day, by watched term" in text1 and "How people feel, per day" in text1
    # Bars drawn: term colours on page 1 (volume) and 2 (share), feelings' red and green on 1.
    colours = report.voice.term_colours(["Nimbus Notes", "Nimbus Sync", "Quillpad"])
    for colour in colours.values():
        assert share_of(first, colour) > 0.001 and share_of(second, colour) > 0.001
    assert share_of(first, "#d62728") > 0.001 and share_of(first, "#2ca02c") > 0.001
    assert "Share of voice per week" in text2 and "Net feeling per week" in text2
    # Text from the internet is printed as it was written: "$5 a $" is not a formula.
    assert "Cost $5 a $month — <b>why</b>?" in text3
    assert "reach 99,999" in text3 and "received" in text3 and "2 digest" not in text3
    assert "1 active; 1 reached by 1 digest(s), 2 item(s), 2 by email; 1 unsubscribed" in text3
    assert "2 click(s) by 1 client(s), 1 check-in(s) answered (mean 4.0 of 5)" in text3
    blank = Image.new("RGB", third.size, "white")
    assert third.tobytes() != blank.tobytes()


def test_an_empty_store_still_makes_a_report(tmp_path):
    config = make_config(tmp_path, [])
    rendered = pages(report.pdf(report.build(config, NOW)))
    assert len(rendered) == 3 and "0 mention(s) first seen this week" in rendered[0][1]
    assert "no mentions" in rendered[0][1]


def test_the_report_mail_has_its_charts_inline_and_goes_to_chat_once(
    tmp_path, smtp, httpserver, monkeypatch
):
    monkeypatch.setenv("REPORT_HOOK", "weekly-secret")
    httpserver.expect_request("/hooks/weekly-secret", method="POST").respond_with_data("ok")
    config = make_config(
        tmp_path, [],
        smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none",
              "sender": "Tidings <t@example.com>"},
        report={"recipients": ["boss@example.com"],
                "notify": [f"json://127.0.0.1:{httpserver.port}/hooks/${{REPORT_HOOK}}"]},
    )  # fmt: skip
    talk(config)
    sent = report.send_report(config, NOW)
    assert sent.queued == 2 and sent.sent.sent == 2
    assert report.send_report(config, NOW + timedelta(hours=3)).queued == 0  # once a week
    [msg] = smtp.messages
    assert msg["Subject"] == "Weekly report: 14 Nov – 20 Nov 2026"
    html = msg.get_body(("html",))
    assert html.get_content_type() == "text/html"
    related = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(related) == 4
    body = html.get_content()
    for part in related:
        assert part.get_payload(decode=True).startswith(b"\x89PNG")
        assert f'src="cid:{part["Content-ID"].strip("<>")}"' in body
        Image.open(io.BytesIO(part.get_payload(decode=True))).verify()
    assert "data:image" not in body
    assert "Cost $5 a $month — &lt;b&gt;why&lt;/b&gt;?" in body  # escaped
    text = msg.get_body(("plain",)).get_content()
    assert "Complaints:" in text and "Share of voice this week:" in text
    [post] = [json.loads(req.get_data()) for req, _ in httpserver.log]
    assert post["title"] == "Weekly report: 14 Nov – 20 Nov 2026"
    assert "Complaints:" in post["message"]


@pytest.mark.parametrize(
    "now, last, due",
    [
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), None, True),  # Monday 08:30 London
        (datetime(2026, 11, 23, 7, 59, tzinfo=UTC), None, False),  # not yet
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 5, tzinfo=UTC), False),
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 5, tzinfo=UTC), True),
        (datetime(2026, 11, 26, 10, 0, tzinfo=UTC), None, False),  # started days after the slot
        (datetime(2026, 7, 6, 7, 10, tzinfo=UTC), None, True),  # summer: 08:10 in London
    ],
)
def test_the_report_is_due_at_its_weekday_and_local_hour(now, last, due):
    settings = parse_config(
        {"report": {"recipients": ["a@example.com"], "timezone": "Europe/London"}}
    ).report
    assert report.is_due(settings, now, last) is due


def test_nothing_is_scheduled_without_recipients(tmp_path):
    config = make_config(tmp_path, [])
    assert report.send_report(config, NOW, scheduled=True) is None


def test_the_command_writes_a_pdf_and_sends_the_week(tmp_path, smtp, capsys):
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "t.duckdb"}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
        '[report]\nrecipients = ["boss@example.com"]\n'
    )
    assert main(["--config", str(path), "report", "--pdf", str(tmp_path / "week.pdf")]) == 0
    assert len(pages((tmp_path / "week.pdf").read_bytes())) == 3
    assert main(["--config", str(path), "report", "--week"]) == 0
    assert "2 message(s)" not in capsys.readouterr().out and len(smtp.messages) == 1
    assert main(["--config", str(path), "report", "--week"]) == 0
    assert "already queued, nothing new" in capsys.readouterr().out and len(smtp.messages) == 1
    assert main(["--config", str(path), "report", "--pdf", str(tmp_path / "no/such/dir.pdf")]) == 2
    assert "no/such/dir.pdf: cannot write" in capsys.readouterr().err


def test_a_bad_report_section_is_one_line():
    from data.errors import ConfigError

    with pytest.raises(ConfigError, match=r"report.notify: item 1 of \[report\]: nope:///…"):
        parse_config({"report": {"notify": ["nope://x"]}})
    with pytest.raises(ConfigError, match=r"report.timezone: unknown timezone 'Mars'"):
        parse_config({"report": {"timezone": "Mars"}})
