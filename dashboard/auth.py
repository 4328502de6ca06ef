"""The password gate, required whenever the dashboard listens beyond this machine."""

from __future__ import annotations

import hmac
import os

import streamlit as st

from data.config import PASSWORD_ENV


def require_password() -> None:
    """Stop the page unless no password is set, or the visitor has typed it."""
    expected = os.environ.get(PASSWORD_ENV)
    if not expected or st.session_state.get("signed_in"):
        return
    st.title("Tidings")
    typed = st.text_input("Password", type="password", key="password")
    if typed and hmac.compare_digest(typed.encode(), expected.encode()):
        st.session_state["signed_in"] = True
        st.session_state.pop("password", None)
        st.rerun()
    if typed:
        st.error("Wrong password.")
    st.stop()
