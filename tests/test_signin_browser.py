"""Signing in as a person in headless Chromium, on the real dashboard (`tidings dashboard`):
local accounts with a password, and single sign-on through Streamlit's st.login against a
small OpenID Connect provider on 127.0.0.1 (tests/oidc_provider.py). Screenshots go to
$TIDINGS_SHOTS, else tmp_path."""

import os
import time
from pathlib import Path

import pytest

from data import store, users
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.test_browser import chromium, cookie_round_trip, dashboard, fill  # noqa: F401 (fixtures)

PASSWORD = "a long password"
WAIT = 60_000


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("TIDINGS_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def team_config(tmp_path: Path, provider: Provider | None = None) -> Path:
    """The browser tests' store, with a viewer and an admin who sign in with passwords and,
    with a provider, single sign-on where only [[users]] and the users table are let in."""
    path = fill(tmp_path)
    port = int(path.read_text().split("port = ")[1].split()[0])
    db_path = path.read_text().split('path = "')[1].split('"')[0]
    with store.connect(db_path) as db:
        users.add(db, "viewer@example.com", "viewer", PASSWORD, store.utcnow())
        users.add(db, "admin@example.com", "admin", PASSWORD, store.utcnow())
    if provider is not None:
        (tmp_path / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{"c" * 40}"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{provider.metadata_url}"\n'
        )
        path.write_text(
            path.read_text()
            + '[sign_in]\nunknown = "refuse"\nsecrets_file = "secrets.toml"\n'
            + '[[users]]\nemail = "Agent@Example.com"\nrole = "agent"\n'
        )
    return path


def sign_in(page, url: str, email: str) -> None:
    page.goto(url)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with cookie_round_trip(page, "tidings_person", present=True):
        page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Mentions per day", exact=True).wait_for(timeout=WAIT)
    page.get_by_text(f"Signed in as {email}").wait_for(timeout=WAIT)


def test_viewer_and_admin_sign_in_with_passwords(tmp_path, dashboard, chromium, shots):  # noqa: F811
    url = dashboard(team_config(tmp_path))
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_label("Email", exact=True).wait_for(timeout=WAIT)
    page.screenshot(path=str(shots / "sign-in.png"))

    page.get_by_label("Email", exact=True).fill("viewer@example.com")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text("Wrong email or password.").wait_for(timeout=WAIT)

    sign_in(page, url, "viewer@example.com")
    cookie = next(c for c in context.cookies() if c["name"] == "tidings_person")
    assert cookie["sameSite"] == "Strict"
    assert cookie["httpOnly"] and "tidings_person" not in page.evaluate("document.cookie")
    assert time.time() + 11 * 3600 < cookie["expires"] <= time.time() + 12 * 3600 + 60
    page.reload()  # a new Streamlit session: the cookie signs it in again
    page.get_by_text("Signed in as viewer@example.com (viewer)").wait_for(timeout=WAIT)
    page.goto(url + "/inbox")
    page.get_by_text("8 mention(s) marked new or assigned", exact=False).wait_for(timeout=WAIT)
    page.get_by_text("Status: new", exact=False).first.wait_for(timeout=WAIT)
    assert page.get_by_role("button", name="Apply to", exact=False).count() == 0
    assert page.get_by_role("button", name="Save", exact=True).count() == 0
    page.screenshot(path=str(shots / "viewer-inbox.png"), full_page=True)
    assert page.get_by_role("link", name="People").count() == 0

    forger = chromium.new_context()  # a cookie naming the admin, signed with a guessed key
    forged = users.session_token(b"guess", "admin@example.com", int(time.time()) + 3600, "")
    forger.add_cookies([{**cookie, "value": forged}])
    other = forger.new_page()
    other.goto(url)
    other.get_by_label("Email", exact=True).wait_for(timeout=WAIT)

    with cookie_round_trip(page, "tidings_person", present=False):
        page.get_by_role("button", name="Sign out").click()
    page.reload()
    page.get_by_label("Email", exact=True).wait_for(timeout=WAIT)
    assert not [c for c in context.cookies() if c["name"] == "tidings_person"]

    sign_in(page, url, "admin@example.com")
    page.goto(url + "/alerts")
    page.get_by_text("Edit a rule, or add one").click(timeout=WAIT)
    page.get_by_role("button", name="Save rule").wait_for(timeout=WAIT)
    page.screenshot(path=str(shots / "admin-alerts.png"), full_page=True)
    page.goto(url + "/people")
    page.get_by_text("What people did").wait_for(timeout=WAIT)
    page.screenshot(path=str(shots / "admin-people.png"), full_page=True)


def test_single_sign_on_maps_roles_and_refuses_strangers(tmp_path, dashboard, chromium, shots):  # noqa: F811
    with Provider() as provider:
        url = dashboard(team_config(tmp_path, provider))
        provider.email = "agent@example.com"
        page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url)
        page.get_by_role("button", name="Sign in with single sign-on").click()
        page.get_by_text("Signed in as agent@example.com (agent)").wait_for(timeout=WAIT)
        page.get_by_text("Mentions per day", exact=True).wait_for(timeout=WAIT)
        assert provider.tokens_issued == 1
        page.goto(url + "/inbox")
        page.get_by_role("button", name="Apply to", exact=False).wait_for(timeout=WAIT)
        page.get_by_text("Nimbus Notes text 0").wait_for(timeout=WAIT)
        page.wait_for_timeout(1500)  # the grid and the selects draw
        page.screenshot(path=str(shots / "sso-agent-inbox.png"), full_page=True)

        provider.email = "stranger@example.com"
        other = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        other.goto(url)
        other.get_by_role("button", name="Sign in with single sign-on").click()
        other.get_by_text("This account has no access").wait_for(timeout=WAIT)
        other.get_by_text("identity provider as: stranger@example.com").wait_for(timeout=WAIT)
        other.screenshot(path=str(shots / "sso-refused.png"))
        assert other.get_by_text("Mentions per day", exact=True).count() == 0
