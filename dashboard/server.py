"""The dashboard's web server, as `tidings dashboard` runs it (`streamlit run
dashboard/server.py`): Streamlit's pages (dashboard/app.py) and the route that sets the sign-in
cookies as HttpOnly (dashboard.cookies)."""

from pathlib import Path

import streamlit as st

from dashboard import cookies

app = st.App(Path(__file__).with_name("app.py"), routes=[cookies.route()])
