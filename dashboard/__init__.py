"""Show: the Streamlit dashboard. One file per page under pages/."""
