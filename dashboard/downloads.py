"""Download buttons under a table: the same rows as CSV, Parquet or Excel. Each file is made
when its button is clicked (Streamlit runs the callable then), never on every rerun."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from data.exports import FORMATS, table_bytes

LABELS = {"csv": "CSV", "parquet": "Parquet", "xlsx": "Excel"}


def offer(rows: pd.DataFrame | Callable[[], pd.DataFrame], name: str, note: str = "") -> None:
    """Three buttons downloading `rows` (or what the callable reads when clicked) as
    `name.csv`, `name.parquet` and `name.xlsx`."""
    row = st.container(horizontal=True, vertical_alignment="center")
    for fmt, (suffix, mime) in FORMATS.items():
        row.download_button(
            f"⬇ {LABELS[fmt]}",
            data=lambda fmt=fmt: table_bytes(rows() if callable(rows) else rows, fmt),
            file_name=f"{name}.{suffix}",
            mime=mime,
            key=f"download-{name}-{fmt}",
            on_click="ignore",
        )
    if note:
        row.caption(note)
