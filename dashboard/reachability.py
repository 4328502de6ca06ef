"""Whether any source could be reached, said plainly on the pages that would otherwise just
look empty (Overview, Inbox)."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import reads

# What a fetch says when it never reached the server (collectors/http.py), as opposed to a
# server that answered badly (HTTP 404, not a feed…).
_NETWORK = re.compile(r"connection failed|timed out|name resolution|Name or service not known")


def nothing_reached(health: pd.DataFrame, enabled: set[str]) -> tuple[str, str] | None:
    """A sentence saying that no enabled source could be fetched on its last attempt and why,
    with one source's last error as an example; None when one could (or none was tried)."""
    tried = health[health["source"].isin(enabled) & health["last_attempt_at"].notna()]
    if tried.empty or (tried["health"] == "ok").any():
        return None
    errors = [str(e) for e in tried["last_error"].fillna("")]
    if all(_NETWORK.search(e) for e in errors):
        why = (
            "none of them answered. This machine seems to have no internet connection, or a "
            "firewall or proxy stands in the way (Tidings uses HTTPS_PROXY when it is set)."
        )
    else:
        why = "each one failed. The Sources page gives each source's last error."
    example = tried.iloc[0]
    return (
        f"No source could be reached on the last pass ({len(tried)} tried): {why}",
        f"For example, {example['source']}: {example['last_error']}",
    )


def warn_if_nothing_reached() -> bool:
    """Show the sentence above as an error box; True if it was shown."""
    enabled = {s.id for s in reads.config().sources if s.enabled}
    found = nothing_reached(reads.source_health(counts=False), enabled)
    if found:
        sentence, example = found
        st.error(sentence)
        st.text(example)  # text from the network: plain text, never Markdown
    return found is not None
