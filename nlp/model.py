"""The learned part of scoring: spaCy text classifiers, trained here, versioned on disk.

- `sentiment`: an exclusive textcat (negative / neutral / positive) over words and word pairs,
  trained on human-rated sentences shipped in `nlp/data/` plus the sentiment corrections
  made on the dashboard. It fills in where the lexicon finds no feeling (see
  `sentiment.combine`).
- `intents` (only once someone corrected an intent): a multi-label textcat trained on the
  corrected mentions and, so that it keeps what the cue rules know, on stored mentions labelled
  by those rules. Its confidence is averaged with the rules'.

A model is a folder `textcat-N/` (N counts up) holding the components and `meta.json`; the
newest complete one under the models folder is used, else the base model shipped in
`nlp/models/textcat-base/`. Folders are written under a temporary name and renamed when
complete, so a crash mid-training never leaves a model that half loads.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from nlp.intent import INTENTS
from nlp.tokenizer import RegexTokenizer

BASE = Path(__file__).resolve().parent / "models" / "textcat-base"
LABELS = ("negative", "neutral", "positive")
NEUTRAL_WITHIN = 0.5  # a mean human rating (-4..4) within ±0.5 is neutral
CORRECTION_WEIGHT = 5  # a correction counts as this many rated sentences
SEED = 7


@dataclass(frozen=True, slots=True)
class Model:
    path: Path
    version: str  # "textcat-base", "textcat-3"…: stored with every score it made

    @property
    def has_intents(self) -> bool:
        return (self.path / "intents").is_dir()

    @property
    def meta(self) -> dict:
        """What `train` recorded: when, from how many sentences and corrections."""
        try:
            return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}


def _numbered(models_dir: Path | None) -> list[tuple[int, Path]]:
    """(N, folder) of every `textcat-N` folder under `models_dir`, complete or not."""
    if models_dir is None or not models_dir.is_dir():
        return []
    found = ((p.name.removeprefix("textcat-"), p) for p in models_dir.glob("textcat-*"))
    return [(int(n), p) for n, p in found if n.isdigit()]


def current(models_dir: Path | None) -> Model:
    """The newest complete trained model under `models_dir`, else the shipped base model."""
    complete = [(n, p) for n, p in _numbered(models_dir) if (p / "meta.json").is_file()]
    path = max(complete)[1] if complete else BASE
    return Model(path, path.name)


def _config(exclusive: bool) -> dict:
    return {
        "model": {
            "@architectures": "spacy.TextCatBOW.v3",
            "exclusive_classes": exclusive,
            "ngram_size": 2,
            "no_output_layer": False,
            "length": 2**16,
            "nO": None,
        }
    }


def add_to(nlp: Language, model: Model) -> None:
    """Add the model's classifiers to a pipeline (after the tokenizer, before sentiment)."""
    nlp.add_pipe("textcat", name="sentiment_model", config=_config(True))
    nlp.get_pipe("sentiment_model").from_disk(model.path / "sentiment", exclude=["vocab"])
    if model.has_intents:
        nlp.add_pipe("textcat_multilabel", name="intent_model", config=_config(False))
        nlp.get_pipe("intent_model").from_disk(model.path / "intents", exclude=["vocab"])


def rated_sentences() -> list[tuple[str, str]]:
    """(text, label) for the shipped human-rated sentences (see nlp/data/README.md)."""
    raw = resources.files("nlp").joinpath("data/ratings.tsv.gz").read_bytes()
    out = []
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        rating, _, text = line.partition("\t")
        if text:
            out.append((text, rating_label(float(rating))))
    return out


def rating_label(rating: float) -> str:
    if rating >= NEUTRAL_WITHIN:
        return "positive"
    if rating <= -NEUTRAL_WITHIN:
        return "negative"
    return "neutral"


def _blank() -> Language:
    nlp = spacy.blank("en")
    nlp.tokenizer = RegexTokenizer(nlp.vocab)
    return nlp


def _fit(nlp: Language, labelled: Sequence[tuple[str, dict[str, float]]], epochs: int) -> None:
    examples = [Example.from_dict(nlp.make_doc(t), {"cats": cats}) for t, cats in labelled]
    fix_random_seed(SEED)
    rng = random.Random(SEED)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=64):
            nlp.update(batch, sgd=optimizer, drop=0.2)


def train_sentiment(labelled: Sequence[tuple[str, str]], epochs: int = 3) -> Language:
    """A fitted sentiment classifier for (text, label) pairs; label one of LABELS."""
    nlp = _blank()
    pipe = nlp.add_pipe("textcat", name="sentiment_model", config=_config(True))
    for label in LABELS:
        pipe.add_label(label)
    cats = [(t, {lab: float(lab == label) for lab in LABELS}) for t, label in labelled]
    _fit(nlp, cats, epochs)
    return nlp


def train_intents(labelled: Sequence[tuple[str, Sequence[str]]], epochs: int = 5) -> Language:
    """A fitted multi-label intent classifier for (text, intents present) pairs."""
    nlp = _blank()
    pipe = nlp.add_pipe("textcat_multilabel", name="intent_model", config=_config(False))
    for label in INTENTS:
        pipe.add_label(label)
    cats = [(t, {i: float(i in present) for i in INTENTS}) for t, present in labelled]
    _fit(nlp, cats, epochs)
    return nlp


def train(
    models_dir: Path,
    sentiment_corrections: Sequence[tuple[str, str]] = (),
    intent_corrections: Sequence[tuple[str, Sequence[str]]] = (),
    intent_silver: Sequence[tuple[str, Sequence[str]]] = (),
) -> Model:
    """Train the next model version from the shipped ratings plus the corrections, and save it
    as `models_dir/textcat-N` (N one more than the newest). Returns it."""
    models_dir.mkdir(parents=True, exist_ok=True)
    n = max((n for n, _ in _numbered(models_dir)), default=0) + 1
    final = models_dir / f"textcat-{n}"
    partial = models_dir / f".partial-textcat-{n}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()

    base = rated_sentences()
    sentiment = train_sentiment(base + list(sentiment_corrections) * CORRECTION_WEIGHT)
    sentiment.get_pipe("sentiment_model").to_disk(partial / "sentiment", exclude=["vocab"])
    if intent_corrections:
        labelled = list(intent_corrections) * CORRECTION_WEIGHT + list(intent_silver)
        intents = train_intents(labelled)
        intents.get_pipe("intent_model").to_disk(partial / "intents", exclude=["vocab"])
    meta = {
        "version": final.name,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rated_sentences": len(base),
        "sentiment_corrections": len(sentiment_corrections),
        "intent_corrections": len(intent_corrections),
        "intent_silver": len(intent_silver),
    }
    (partial / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    partial.rename(final)
    return Model(final, final.name)


def train_base(out: Path = BASE) -> None:
    """(Re)build the shipped base model from the shipped ratings alone:
    `python -m nlp.model`."""
    rated = rated_sentences()
    nlp = train_sentiment(rated)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    nlp.get_pipe("sentiment_model").to_disk(out / "sentiment", exclude=["vocab"])
    meta = {"version": out.name, "rated_sentences": len(rated)}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    train_base()
