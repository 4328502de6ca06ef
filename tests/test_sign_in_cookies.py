"""The sign-in cookies are set by the dashboard's web server (dashboard.cookies), HttpOnly, from a
one-time code a page hands over; the route's answers as a browser gets them. The whole sign-in,
in Chromium against `tidings dashboard`, is in test_browser.py and test_signin_browser.py."""

from http.cookies import SimpleCookie

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard import cookies


@pytest.fixture
def site() -> TestClient:
    """The route alone, as the dashboard's web server serves it."""
    app = Starlette(routes=[Route(cookies.ROUTE, cookies.set_cookie)])
    return TestClient(app, base_url="http://127.0.0.1:8501", follow_redirects=False)


def set_cookie_header(response) -> SimpleCookie:
    jar = SimpleCookie()
    jar.load(response.headers.get("set-cookie", ""))
    return jar


def test_a_handed_over_cookie_is_set_httponly_once_and_the_browser_goes_back(site):
    code = cookies.hand_over("tidings_session", "2000.abc", 3600)
    answer = site.get(cookies.ROUTE, params={"code": code, "back": "/inbox?id=forum:1"})
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox?id=forum:1"
    (morsel,) = set_cookie_header(answer).values()
    assert (morsel.key, morsel.value) == ("tidings_session", "2000.abc")
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/" and morsel["max-age"] == "3600" and not morsel["secure"]
    again = site.get(cookies.ROUTE, params={"code": code, "back": "/"})
    assert again.status_code == 303 and "set-cookie" not in again.headers  # used up


def test_signing_out_removes_the_cookie_and_https_makes_it_secure(site):
    code = cookies.hand_over("tidings_person", "", 0)
    answer = site.get(cookies.ROUTE, params={"code": code}, headers={"X-Forwarded-Proto": "https"})
    morsel = set_cookie_header(answer)["tidings_person"]
    assert morsel.value == "" and morsel["max-age"] == "0"
    assert morsel["secure"] and morsel["httponly"]


def test_a_code_sets_nothing_late_from_another_site_or_unknown(site):
    late = cookies.hand_over("tidings_session", "x", 60, now=0)  # its minute is long past
    assert "set-cookie" not in site.get(cookies.ROUTE, params={"code": late}).headers
    code = cookies.hand_over("tidings_session", "x", 60)
    elsewhere = site.get(
        cookies.ROUTE, params={"code": code}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert elsewhere.status_code == 303 and "set-cookie" not in elsewhere.headers
    assert "set-cookie" not in site.get(cookies.ROUTE, params={"code": "guessed"}).headers


@pytest.mark.parametrize(
    ("back", "goes"),
    [
        ("/alerts", "/alerts"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("", "/"),
    ],
)
def test_the_browser_goes_back_only_to_a_page_of_this_site(site, back, goes):
    answer = site.get(cookies.ROUTE, params={"code": "none", "back": back})
    assert answer.headers["location"] == goes
