"""The password gate, required whenever the dashboard listens beyond this machine.

Once the password is typed, the browser keeps a signed session cookie, so that a reload or a
new tab does not ask again until it expires. The signature is keyed by the password itself:
changing TIDINGS_DASHBOARD_PASSWORD ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import streamlit as st

from data.config import PASSWORD_ENV

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


def _set_cookie(value: str, max_age: int) -> None:
    # Streamlit has no response to set a cookie on; the browser sets it. The value is digits,
    # a dot and hex: nothing in it can break out of the string.
    st.sidebar.html(  # in the sidebar, where the empty element moves nothing that matters
        "<script>document.cookie = "
        f"'{COOKIE}={value}; Max-Age={max_age}; Path=/; SameSite=Strict'"
        " + (location.protocol === 'https:' ? '; Secure' : '');</script>",
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
