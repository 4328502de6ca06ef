"""Who is signed in and what they may do: `allowed` hides what a role may not do, `require`
refuses it when it is asked for anyway (called at the top of every action; it returns the
email to record as who did it). People sign in through dashboard.signin.

Without any person defined (a single-user install), the dashboard has one shared password
gate instead (`require_password`), required whenever the dashboard listens beyond this
machine. Once the password is typed, the browser keeps a signed session cookie (HttpOnly, set
by dashboard.cookies), so that a reload or a new tab does not ask again until it expires. The
signature is keyed by the password itself: changing TIDINGS_DASHBOARD_PASSWORD ends every
session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import cookies
from data import users
from data.config import PASSWORD_ENV


@dataclass(frozen=True, slots=True)
class Person:
    """Who uses this browser session. A single-user install has one person without an email,
    who may do everything (as before teams existed)."""

    email: str
    role: str
    how: str  # password | sso | single-user
    clients: frozenset[str] = frozenset()  # the clients an agent curates

    @property
    def single_user(self) -> bool:
        return self.how == "single-user"


ANYONE = Person("", "admin", "single-user")
PERSON_KEY = "person"


def person() -> Person:
    """Who is signed in (set by dashboard.signin once per run); a page run on its own, as in
    tests of one page, is the single-user install."""
    found = st.session_state.get(PERSON_KEY)
    return found if isinstance(found, Person) else ANYONE


def _may(who: Person, action: str, client_id: str | None) -> bool:
    if who.single_user:
        return True
    if client_id is not None and action == "curate":
        return users.may_curate(who.role, set(who.clients), client_id)
    return users.may(who.role, action)


def allowed(action: str, client_id: str | None = None) -> bool:
    """Whether to show an action to the signed-in person (see data.users.ACTIONS)."""
    return _may(person(), action, client_id)


def require(action: str, client_id: str | None = None) -> str:
    """Refuse (users.Forbidden) an action the signed-in person may not do, even if a forged
    request asks for it; return who does it, as changes record it."""
    who = person()
    if not _may(who, action, client_id):
        if client_id is not None:
            raise users.Forbidden(
                f"Not allowed: {who.email} ({who.role}) may not curate client {client_id!r}, "
                "which is not assigned to them"
            )
        raise users.Forbidden(
            f"Not allowed: {who.email} ({who.role}) may not {users.ACTIONS.get(action, action)}"
        )
    return actor()


def hidden(name: str) -> DeltaGenerator:
    """A container the browser does not show, for the forms of actions a role may not do
    (kept out of sight without re-indenting a page; `require` still refuses the action)."""
    key = f"hidden-{name}"
    st.html(f"<style>.st-key-{key} {{display: none}}</style>")
    return st.container(key=key)


def actor() -> str:
    """The email recorded with a change: the signed-in person's; in a single-user install,
    what was typed in the sidebar's "You are" box, or "dashboard"."""
    who = person()
    if not who.single_user:
        return who.email
    return st.session_state.get("actor") or "dashboard"


COOKIE = "tidings_session"
SESSION_SECONDS = 7 * 24 * 3600  # a week: a reload or a new tab does not ask again before


def _key(password: str) -> bytes:
    return hashlib.sha256(b"tidings-session\x00" + password.encode()).digest()


def session_token(password: str, expires: int) -> str:
    """A cookie value that proves the password was typed, valid until `expires` (epoch s)."""
    mac = hmac.new(_key(password), str(expires).encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def valid_session(token: str | None, password: str, now: float) -> bool:
    """Whether a cookie value was made by `session_token` with this password and is unexpired."""
    if not isinstance(token, str):
        return False
    expires, _, _ = token.partition(".")
    if not expires.isdigit() or int(expires) <= now:
        return False
    return hmac.compare_digest(token.encode(), session_token(password, int(expires)).encode())


def _set_cookie(value: str, max_age: int, name: str = COOKIE) -> None:
    # Streamlit has no response to set a cookie on: the dashboard's web server sets it, as
    # HttpOnly (dashboard.cookies); without that server, a sign-in holds for this tab only.
    if cookies.served():
        st.sidebar.html(  # in the sidebar, where the empty element moves nothing that matters
            cookies.go_set(cookies.hand_over(name, value, max_age)),
            unsafe_allow_javascript=True,
        )


def require_password() -> None:
    """Stop the page unless no password is set, the visitor has typed it, or their browser
    holds an unexpired session cookie signed with it."""
    expected = os.environ.get(PASSWORD_ENV)
    if not expected:
        return
    # The cookies are those the browser sent when this session began: after "Sign out" the
    # session must not sign itself in again from them.
    cookie = None if st.session_state.get("signed_out") else st.context.cookies.get(COOKIE)
    if not st.session_state.get("signed_in") and valid_session(cookie, expected, time.time()):
        st.session_state["signed_in"] = True
    if st.session_state.get("signed_in"):
        if token := st.session_state.pop("new_session", None):
            _set_cookie(token, SESSION_SECONDS)
        if not st.sidebar.button("Sign out", key="sign-out"):
            return
        st.session_state["signed_in"] = False
        st.session_state["signed_out"] = True
        _set_cookie("", 0)
    st.title("Tidings")
    typed = st.text_input("Password", type="password", key="password")
    st.caption(
        "Single-user install: one shared password, and no roles. For personal sign-in and "
        "roles, add people with `tidings users add EMAIL --role admin`."
    )
    if typed and hmac.compare_digest(typed.encode(), expected.encode()):
        st.session_state["signed_in"] = True
        st.session_state["signed_out"] = False
        st.session_state["new_session"] = session_token(
            expected, int(time.time()) + SESSION_SECONDS
        )
        st.session_state.pop("password", None)
        st.rerun()
    if typed:
        st.error("Wrong password.")
    st.stop()
