"""Outlets on the dashboard as a person uses them: downloads of a filtered table, in headless
Chromium against the real dashboard on 127.0.0.1 over a real store."""

import io
from pathlib import Path

import openpyxl
import pandas as pd

from tests.test_browser import browser, dashboard, fill  # noqa: F401 (fixtures)

SHOTS = Path(__file__).resolve().parent.parent / "shots"  # looked at by people, not committed


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def download(page, label: str) -> bytes:
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name=label).first.click()
    return Path(info.value.path()).read_bytes()


def test_the_filtered_mentions_download_as_csv_parquet_and_excel(tmp_path, dashboard, browser):  # noqa: F811
    page = browser
    page.goto(dashboard(fill(tmp_path)) + "/mentions")
    page.get_by_text("8 mention(s) published in the period").wait_for(timeout=60_000)
    page.get_by_label("Text contains").fill("text 3")
    page.get_by_label("Text contains").press("Enter")
    page.get_by_text("1 mention(s) published in the period").wait_for(timeout=60_000)
    # The buttons are drawn under the list: once their caption counts 1, the rerun is done.
    page.get_by_text("All 1 mention(s) these filters keep").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    csv = pd.read_csv(io.BytesIO(download(page, "⬇ CSV")), encoding="utf-8-sig")
    assert csv["title"].tolist() == ["Mention 3"] and csv["terms"].tolist() == ["Nimbus Notes"]
    parquet = pd.read_parquet(io.BytesIO(download(page, "⬇ Parquet")))
    assert parquet["text"].tolist() == ["Nimbus Notes text 3"]
    sheet = openpyxl.load_workbook(io.BytesIO(download(page, "⬇ Excel"))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and "Mention 3" in rows[1]
    page.wait_for_timeout(1000)
    shoot(page, "mentions-downloads")


def weeks_of_talk(config_file: Path, weeks: int = 10) -> None:
    """Mentions of three watched terms over `weeks` weeks, Quillpad growing and souring."""
    from datetime import timedelta

    from data import store
    from data.config import load_config
    from data.records import Mention, Score

    config = load_config(config_file)
    now = store.utcnow()
    rows = []
    for day in range(weeks * 7):
        for term, n in (("Nimbus Notes", 6), ("Quillpad", 1 + (weeks * 7 - day) // 10),
                        ("Nimbus Sync", 2)):  # fmt: skip
            for k in range(n):
                m = Mention("forum", f"w{day}-{term}-{k}", f"https://forum.example/w{day}{term}{k}",
                            f"{term} {day}", f"{term} talk", None,
                            now - timedelta(days=day, hours=k), None)  # fmt: skip
                bad = (k + day) % (2 if term == "Quillpad" and day < 30 else 3) == 0
                rows.append((m, Score(m.id, "v", (term,), -0.5 if bad else 0.5,
                                      "negative" if bad else "positive")))  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [m for m, _ in rows], now)
        store.upsert_scores(db, [s for _, s in rows], now)


def test_the_overview_draws_share_of_voice_over_time(tmp_path, dashboard, browser):  # noqa: F811
    page = browser
    config_file = fill(tmp_path)
    weeks_of_talk(config_file)
    page.goto(dashboard(config_file))
    page.get_by_text("90 days", exact=True).click()
    heading = page.get_by_text("Share of voice over time")
    heading.wait_for(timeout=60_000)
    page.wait_for_timeout(2500)  # let the charts draw
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert page.locator("[data-testid='stVegaLiteChart']").count() >= 6
    shoot(page, "overview-share-of-voice")


def test_the_weekly_report_downloads_as_a_pdf_from_the_overview(tmp_path, dashboard, browser):  # noqa: F811
    import pypdfium2 as pdfium

    page = browser
    config_file = fill(tmp_path)
    weeks_of_talk(config_file, weeks=3)
    page.goto(dashboard(config_file))
    page.get_by_text("Mentions per day").first.wait_for(timeout=60_000)
    data = download(page, "⬇ Weekly report (PDF)")
    doc = pdfium.PdfDocument(data)
    assert len(doc) == 3
    assert "Weekly report:" in doc[0].get_textpage().get_text_range()
    doc[0].render(scale=1).to_pil().save(SHOTS / "overview-weekly-report-page1.png")
    shoot(page, "overview-report-button")


def test_the_report_mail_reads_well_in_a_browser(tmp_path, browser):  # noqa: F811
    """The mail's HTML as a mail client shows it (charts as images), screenshot for a look."""
    from notify import report
    from tests.conftest import make_config
    from tests.test_report import NOW, talk

    config = make_config(tmp_path, [], report={"recipients": ["a@example.com"]})
    talk(config)
    mail = report.render_mail(config, report.build(config, NOW), NOW)
    (tmp_path / "mail.html").write_text(mail.html_body, encoding="utf-8")
    page = browser
    page.goto((tmp_path / "mail.html").as_uri())
    images = page.locator("img")
    assert images.count() == 4
    widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert all(w > 300 for w in widths)  # each PNG decoded and drawn
    shoot(page, "report-mail")
