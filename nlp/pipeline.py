"""Build the spaCy pipeline from the watchlist and score mentions with it in batches."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from data.config import Watch
from data.records import Mention, Score
from data.text import clean_text
from nlp import duplicates, intent, language, model, relevance, sentiment
from nlp.query import Prefilter, QueryMatcher
from nlp.tokenizer import RegexTokenizer, text_of

# The rules' version; a score's model_version is this plus the trained model's, e.g.
# "rules-6+linear-base". 2: language; 3: intents; 4: sentiment per watched entity;
# 5: a trained classifier beside the lexicon; 6: learned intents and sentiment (nlp.model);
# 7: the sentiment decision chosen on development data (calm posts read neutral);
# 8: praise closing a complaint read as sarcasm; 9: model trained on more customer text, praise
# closing a plainly told let-down read as sarcasm; 10: which watched entities a mention is about
# decided by the learned relevance (nlp.relevance), keeping sponsorship and company news;
# 11: intents read per sentence too (a padded complaint counts), model trained on review sentences.
RULES_VERSION = "rules-11"

# Scoring reads at most this much of a text: enough for any post or article, far below
# spaCy's own limit (nlp.max_length, 1,000,000), which a pasted book would otherwise hit.
MAX_SCORED_CHARS = 20_000


def for_scoring(text: str) -> str:
    """The part of `text` that is scored: its first MAX_SCORED_CHARS characters, valid UTF-8."""
    return clean_text(text[:MAX_SCORED_CHARS])


if not Doc.has_extension("watch_terms"):
    Doc.set_extension("watch_terms", default=())
if not Doc.has_extension("watch_positions"):
    Doc.set_extension("watch_positions", default={})
if not Doc.has_extension("watch_relevance"):
    Doc.set_extension("watch_relevance", default={})
if not Doc.has_extension("watch_aside"):  # named, but the relevance found it about none
    Doc.set_extension("watch_aside", default={})


class WatchTerms:
    """Which watched entities a doc is about: their terms or query match, their exclusions
    and context rules do not rule it out."""

    def __init__(self, nlp: Language, watch: Sequence[Watch]) -> None:
        self.queries = QueryMatcher(nlp, watch)
        # Set by the Scorer: None, the context rules alone decide (nlp.relevance weighs them).
        self.relevance: relevance.Relevance | None = None

    def __call__(self, doc: Doc) -> Doc:
        if self.relevance is None:
            doc._.watch_positions = self.queries(doc)
        else:
            found = self.queries.candidates(doc)
            doc._.watch_positions, doc._.watch_relevance = self.relevance.decide(doc, found)
            if not doc._.watch_positions and doc._.watch_relevance:
                doc._.watch_aside = {
                    name: [start for start, _ in found[name][0]] for name in doc._.watch_relevance
                }
        doc._.watch_terms = tuple(doc._.watch_positions)
        return doc


class Scorer:
    """The compiled watchlist and pipeline. Build once per pass, reuse for every batch."""

    def __init__(self, watch: Sequence[Watch], models_dir: Path | None = None) -> None:
        self.model = model.current(models_dir)
        self.version = f"{RULES_VERSION}+{self.model.version}"
        self.nlp = spacy.blank("en")
        self.nlp.tokenizer = RegexTokenizer(self.nlp.vocab)
        self.nlp.add_pipe("tidings_watch_terms", config={"watch": [w.model_dump() for w in watch]})
        self.relevance = relevance.load(models_dir)  # None: unreadable, the rules decide
        self.nlp.get_pipe("tidings_watch_terms").relevance = self.relevance
        if self.relevance and self.relevance.version:
            self.version += f"+{self.relevance.version}"
        self.nlp.add_pipe("tidings_sentiment")
        model.add_to(self.nlp, self.model)
        self.prefilter = Prefilter(watch)

    def might_mention(self, text: str) -> bool:
        return self.prefilter.might_mention(text)

    def score(
        self,
        mentions: Iterable[Mention],
        batch_size: int = 256,
        failed: list[tuple[Mention, str]] | None = None,
    ) -> list[tuple[Mention, Score]]:
        """The mentions that are about a watched entity, each with its score, and those that
        name one but that the relevance model finds about none (their score `set_aside`).

        If a batch fails, its mentions are scored one by one, and the ones that still fail are
        left out (and listed in `failed`, with the reason, when given): one bad item never
        costs the others their scores."""
        candidates = [m for m in mentions if self.might_mention(f"{m.title}\n{m.text}")]
        try:
            return self._score_all(candidates, batch_size)
        except Exception:
            if failed is None:
                raise
        out = []
        for m in candidates:
            try:
                out += self._score_all([m], 1)
            except Exception as e:  # noqa: BLE001 — the item is skipped and counted
                failed.append((m, f"{type(e).__name__}: {e}".splitlines()[0][:200]))
        return out

    def _score_all(self, candidates: list[Mention], batch_size: int) -> list[tuple[Mention, Score]]:
        out = []
        texts = (for_scoring(f"{m.title}\n{m.text}") for m in candidates)
        docs = self.nlp.pipe(texts, batch_size=batch_size)
        for m, doc in zip(candidates, docs, strict=True):
            if doc._.watch_terms or doc._.watch_aside:
                out.append((m, self._score(m.id, doc)))
        return out

    def score_text(self, text: str) -> Score:
        return self._score("", self.nlp(for_scoring(text)))

    def _score(self, mention_id: str, doc: Doc) -> Score:
        text = text_of(doc)
        aside = not doc._.watch_terms and bool(doc._.watch_aside)
        if aside:  # scored as if about the names it uses, and marked set aside
            doc._.watch_positions = doc._.watch_aside
            doc._.watch_terms = tuple(doc._.watch_aside)
        lang = language.detect(text)
        if lang not in language.SCORED_AS_ENGLISH:
            # English lexicons and cues would read noise into French or German: keep, mark, skip.
            polarity, label, wants = 0.0, "unscored", dict.fromkeys(intent.INTENTS, 0.0)
            per_term = tuple(0.0 for _ in doc._.watch_terms)
        else:
            polarity = round(doc._.sentiment, 4)
            label = sentiment.label(polarity)
            wants = intent.intents(text, polarity, {i: doc.cats[i] for i in self.model.intents})
            per_term = tuple(
                round(sentiment.around(doc, doc._.watch_positions[t]), 4) for t in doc._.watch_terms
            )
        return Score(
            mention_id=mention_id,
            model_version=self.version,
            terms=doc._.watch_terms,
            sentiment=polarity,
            sentiment_label=label,
            lang=lang,
            intents=wants,
            term_sentiments=per_term,
            fingerprint=duplicates.signature(doc),
            present=intent.present(wants, self.model.thresholds),
            term_relevance=tuple(
                round(doc._.watch_relevance[t], 4)
                for t in doc._.watch_terms
                if t in doc._.watch_relevance
            ),
            set_aside=aside,
        )


@Language.factory("tidings_watch_terms", default_config={"watch": []})
def _make_watch_terms(nlp: Language, name: str, watch: list[dict]) -> WatchTerms:
    return WatchTerms(nlp, [Watch.model_validate(w) for w in watch])


def build_scorer(watch: Sequence[Watch], models_dir: Path | None = None) -> Scorer:
    """The compiled pipeline for this watchlist and the newest model under `models_dir`
    (else the shipped one), built once per process, watchlist and model."""
    newest = model.current(models_dir).path
    watch_json = json.dumps([w.model_dump() for w in watch], sort_keys=True)
    return _cached_scorer(watch_json, models_dir, newest, relevance.stamp(models_dir))


@lru_cache(maxsize=4)
def _cached_scorer(
    watch_json: str, models_dir: Path | None, newest: Path, relevance_stamp: object = None
) -> Scorer:
    return Scorer([Watch.model_validate(w) for w in json.loads(watch_json)], models_dir)
