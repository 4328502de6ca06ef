"""The pages' entry point, served by dashboard/server.py (`tidings dashboard` runs it)."""

import time

import streamlit as st

from dashboard import auth, signin
from data.errors import StoreLockedError, TidingsError

st.set_page_config(page_title="Tidings", page_icon=":material/forum:", layout="wide")


def _run() -> None:
    """Who uses this session (the team's store is read), then the page they asked for."""
    signin.sign_in()
    pages = [
        st.Page("views/overview.py", title="Overview", icon=":material/insights:", default=True),
        st.Page("views/inbox.py", title="Inbox", icon=":material/inbox:"),
        st.Page("views/mentions.py", title="Mentions", icon=":material/forum:"),
        st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
        st.Page("views/clients.py", title="Clients", icon=":material/group:"),
        st.Page("views/curation.py", title="Curation", icon=":material/auto_stories:"),
        st.Page("views/sources.py", title="Sources", icon=":material/rss_feed:"),
    ]
    if auth.allowed("users") and not auth.person().single_user:
        pages.append(st.Page("views/people.py", title="People", icon=":material/badge:"))
    page = st.navigation(pages)
    page.run()


try:
    _run()
except StoreLockedError:
    # A pass holds the file while it writes (seconds): say so, wait, read again. Never a
    # traceback; a change that could not wait is reported by the page that tried it.
    st.info("The database is busy: a pipeline pass is writing to it. Retrying in a moment…")
    time.sleep(2)
    st.rerun()
except TidingsError as e:
    st.error(str(e))
