"""Understand: the spaCy pipeline that decides what a mention is about and how it feels."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlp.pipeline import RULES_VERSION, Scorer, build_scorer

__all__ = ["RULES_VERSION", "Scorer", "build_scorer"]


def __getattr__(name: str) -> object:
    # The pipeline (spaCy, a second to import) loads when first asked for, not with every
    # module of this package: a pass with nothing new to score never needs it.
    if name in __all__:
        from nlp import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")
