"""Show: the Streamlit dashboard. One file per page under views/ (not pages/: Streamlit would
serve a pages/ folder by itself, bypassing app.py and its password gate)."""
