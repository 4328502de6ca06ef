"""Dashboard pages as a person uses them: the real dashboard (`tidings dashboard`) on 127.0.0.1
over a real store, driven in headless Chromium. Screenshots of each page are kept in tmp_path."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from data import inbox, store
from data.records import Fetched, Mention, Score
from flows.pipeline import store_pass
from tests.conftest import make_config
from tests.test_demo import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for

ROW = 35  # pixels: the height of a header or a row in Streamlit's data grid


def mention(i: int, now, source: str = "forum") -> Mention:
    return Mention(
        source, str(i), f"https://forum.example/{i}", f"Mention {i}", f"Nimbus Notes text {i}",
        "ana", now - timedelta(hours=i), 100 - i,
    )  # fmt: skip


def fill(tmp_path: Path, failing: str | None = None, ok_sources: int = 1) -> Path:
    """A store of eight complaints from `forum`, `ok_sources` healthy sources in all and,
    if named, one failing source; returns the config file."""
    now = store.utcnow()
    ids = ["forum"] + [f"feed-{i:02d}" for i in range(1, ok_sources)]
    sources = [{"id": s, "url": f"http://127.0.0.1:9/{s}.xml"} for s in ids]
    if failing:
        sources.append({"id": failing, "url": "http://127.0.0.1:9/gone.xml"})
    config = make_config(tmp_path, sources)
    ms = [mention(i, now) for i in range(8)]
    scores = [
        Score(m.id, "v", ("Nimbus Notes",), -0.5, "negative", intents={"complaint": 0.9})
        for m in ms
    ]
    fetched = [Fetched(s, ms if s == "forum" else []) for s in ids]
    if failing:
        fetched.append(Fetched(failing, error="http://127.0.0.1:9/gone.xml: HTTP 404 Not Found"))
    store_pass(config, list(config.sources), fetched, list(zip(ms, scores, strict=True)), {}, now)
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{config.db_path}"\n[dashboard]\nport = {free_port()}\n'
        + "".join(f'[[sources]]\nid = "{s["id"]}"\nurl = "{s["url"]}"\n' for s in sources)
    )
    return path


@pytest.fixture
def dashboard():
    """Start `tidings dashboard` on a config; yields its address. Stopped with Ctrl-C."""
    started = []

    def start(config_file: Path, **env: str) -> str:
        port = int(config_file.read_text().split("port = ")[1].split()[0])
        tidings = shutil.which("tidings", path=str(Path(sys.executable).parent))
        proc = subprocess.Popen(
            [tidings, "--config", str(config_file), "dashboard"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, **env},
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/_stcore/health", proc, 120)
        return url

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


@pytest.fixture
def browser():
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make browser)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b.new_page(viewport={"width": 1400, "height": 1000})
        b.close()


@pytest.fixture
def chromium():
    """The browser itself, for tests that need several contexts (sets of cookies)."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make browser)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def tick_row(page, row: int, grid: int = 0) -> None:
    """Tick the selection box at the left edge of a data grid's row (0 = first row), once
    the grid has drawn its rows (a loaded machine may take longer than any fixed wait)."""
    frame = page.get_by_test_id("stDataFrame").nth(grid)
    frame.locator("[role=gridcell]").first.wait_for(state="attached", timeout=60_000)
    box = frame.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + ROW + ROW * row + ROW / 2)


def statuses(config_file: Path) -> dict[str, str]:
    config_db = config_file.read_text().split('path = "')[1].split('"')[0]
    with store.connect(config_db) as db:
        queue = inbox.queue(db, inbox.STATUSES)
    return dict(zip(queue["title"], queue["status"], strict=True))


def test_inbox_selection_follows_the_mention_and_clears_after_an_action(
    tmp_path, dashboard, browser
):
    config_file = fill(tmp_path)
    page = browser
    page.goto(dashboard(config_file) + "/inbox")
    page.get_by_text("8 mention(s) marked new or assigned", exact=False).wait_for(timeout=60_000)
    tick_row(page, 0)
    page.get_by_role("button", name="Apply to 1 selected").wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "inbox-ticked.png"))
    page.get_by_role("button", name="Apply to 1 selected").click()  # "Mark done", the default
    page.get_by_text("7 mention(s)", exact=False).wait_for(timeout=60_000)
    page.get_by_role("button", name="Apply to 0 selected").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "inbox-after.png"))
    assert statuses(config_file)["Mention 0"] == "done"

    # A second click acts on nothing: the tick did not slide onto the next mention.
    page.get_by_role("button", name="Apply to 0 selected").click()
    page.get_by_text("Select at least one mention first.").wait_for(timeout=30_000)
    assert statuses(config_file)["Mention 1"] == "new"

    # Two mentions ticked, one action: exactly those two change, and the ticks go.
    tick_row(page, 1)
    page.get_by_role("button", name="Apply to 1 selected").wait_for(timeout=30_000)
    tick_row(page, 3)
    page.get_by_role("button", name="Apply to 2 selected").wait_for(timeout=30_000)
    page.get_by_role("button", name="Apply to 2 selected").click()
    page.get_by_text("5 mention(s)", exact=False).wait_for(timeout=60_000)
    page.get_by_role("button", name="Apply to 0 selected").wait_for(timeout=30_000)
    done = {title for title, status in statuses(config_file).items() if status == "done"}
    assert done == {"Mention 0", "Mention 2", "Mention 4"}


def grid_rows(page, grid: int = 0) -> list[list[str]]:
    """The rows a data grid shows on screen (its accessible cells), as texts, once drawn."""
    frame = page.get_by_test_id("stDataFrame").nth(grid)
    frame.locator("[role=gridcell]").first.wait_for(state="attached", timeout=60_000)
    return [
        [cell.inner_text() for cell in row.locator("[role=gridcell]").all()]
        for row in frame.locator("[role=row]").all()
        if row.locator("[role=gridcell]").count()
    ]


def test_sources_page_lists_failing_sources_first_in_view(tmp_path, dashboard, browser):
    config_file = fill(tmp_path, failing="zz-down", ok_sources=14)  # more rows than fit
    page = browser
    page.goto(dashboard(config_file) + "/sources")
    page.get_by_text("Failing: zz-down.").wait_for(timeout=60_000)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "sources.png"), full_page=True)
    banner = page.get_by_test_id("stAlert").first.inner_text()
    assert "listed first in the table below" in banner
    first = grid_rows(page)[0]
    assert first[:2] == ["zz-down", "error"] and "HTTP 404" in first[2]


@contextmanager
def cookie_round_trip(page, name: str, present: bool) -> Iterator[None]:
    """Around an action that makes the page set (or remove) a session cookie. The page sends
    the browser to the cookie route, which redirects back to the page: wait until the page it
    came back to has loaded (a reload or a new page before then would abort that navigation,
    or start in the old state), then check the cookie."""
    with page.expect_navigation(wait_until="load", timeout=60_000):
        yield
    has = any(c["name"] == name for c in page.context.cookies())
    assert has == present, f"cookie {name} {'never came' if present else 'did not go'}"


def test_a_password_once_typed_holds_across_reloads_until_signing_out(
    tmp_path, dashboard, chromium
):
    url = dashboard(fill(tmp_path), TIDINGS_DASHBOARD_PASSWORD="s3cret")
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_label("Password", exact=True).fill("s3cret")
    with cookie_round_trip(page, "tidings_session", present=True):
        page.get_by_label("Password", exact=True).press("Enter")
    page.get_by_text("Mentions per day", exact=True).wait_for(timeout=60_000)
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "signed-in.png"))
    cookie = next(c for c in context.cookies() if c["name"] == "tidings_session")
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 24 * 3600
    assert cookie["httpOnly"] and "tidings_session" not in page.evaluate("document.cookie")

    page.reload()  # a reload is a new Streamlit session: the cookie signs it in
    page.get_by_text("Mentions per day", exact=True).wait_for(timeout=60_000)
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
    assert page.get_by_label("Password", exact=True).count() == 0
    page.screenshot(path=str(tmp_path / "reloaded.png"))
    page.goto(url + "/inbox")  # so does a new tab on another page
    page.get_by_text("8 mention(s) marked new or assigned", exact=False).wait_for(timeout=60_000)

    stranger = chromium.new_page()  # no cookie
    stranger.goto(url)
    stranger.get_by_label("Password", exact=True).wait_for(timeout=60_000)
    forger = chromium.new_context()
    forger.add_cookies([{**cookie, "value": f"{int(time.time()) + 3600}.{'0' * 64}"}])
    forged = forger.new_page()
    forged.goto(url)
    forged.get_by_label("Password", exact=True).wait_for(timeout=60_000)
    stranger.screenshot(path=str(tmp_path / "password.png"))

    with cookie_round_trip(page, "tidings_session", present=False):
        page.get_by_role("button", name="Sign out").click()
    page.reload()
    page.get_by_label("Password", exact=True).wait_for(timeout=60_000)
    assert not [c for c in context.cookies() if c["name"] == "tidings_session"]


def test_one_click_on_a_mentions_row_opens_it_to_read_assign_and_share(
    tmp_path, dashboard, browser
):
    config_file = fill(tmp_path)
    page = browser
    url = dashboard(config_file)
    page.goto(url + "/mentions")
    page.get_by_text("8 mention(s) published in the period").wait_for(timeout=60_000)
    tick_row(page, 2)  # newest first: Mention 2
    page.get_by_text("Nimbus Notes text 2").wait_for(timeout=60_000)
    page.get_by_label("Assigned to").fill("sam@example.com")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("assignee: — → sam@example.com").wait_for(state="attached", timeout=60_000)
    page.screenshot(path=str(tmp_path / "mentions-opened.png"), full_page=True)
    assert statuses(config_file)["Mention 2"] == "assigned"

    page.get_by_role("link", name="Its own page (a link to share)").click()
    page.get_by_role("button", name="All mentions").wait_for(timeout=60_000)
    assert "/mentions?id=" in page.url
    page.get_by_text("Nimbus Notes text 2").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "mention-page.png"), full_page=True)


def test_ticking_one_inbox_row_opens_that_mention_below(tmp_path, dashboard, browser):
    page = browser
    page.goto(dashboard(fill(tmp_path)) + "/inbox")
    page.get_by_text("8 mention(s) marked new or assigned", exact=False).wait_for(timeout=60_000)
    tick_row(page, 3)
    page.get_by_text("Nimbus Notes text 3").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "inbox-opened.png"), full_page=True)
