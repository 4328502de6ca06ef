"""Entry point: `streamlit run dashboard/app.py` (the CLI's `tidings dashboard` does this)."""

import streamlit as st

from dashboard.auth import require_password

st.set_page_config(page_title="Tidings", page_icon=":material/forum:", layout="wide")
require_password()
pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/insights:", default=True),
    st.Page("views/inbox.py", title="Inbox", icon=":material/inbox:"),
    st.Page("views/mentions.py", title="Mentions", icon=":material/forum:"),
    st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("views/clients.py", title="Clients", icon=":material/group:"),
    st.Page("views/curation.py", title="Curation", icon=":material/auto_stories:"),
    st.Page("views/sources.py", title="Sources", icon=":material/rss_feed:"),
]
st.navigation(pages).run()
