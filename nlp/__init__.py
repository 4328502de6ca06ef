"""Understand: the spaCy pipeline that decides what a mention is about and how it feels."""

from nlp.pipeline import RULES_VERSION, Scorer, build_scorer

__all__ = ["RULES_VERSION", "Scorer", "build_scorer"]
