"""Build the spaCy pipeline from the watchlist and score mentions with it in batches."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from spacy.attrs import IS_ALPHA, IS_DIGIT, IS_SPACE, IS_UPPER, LENGTH, LIKE_NUM, LIKE_URL, LOWER
from spacy.language import Language
from spacy.tokens import Doc

from data.config import Watch
from data.records import Mention, Score
from data.text import clean_text
from nlp import duplicates, features, intent, language, model, relevance, sentiment
from nlp.query import Prefilter, QueryMatcher
from nlp.tokenizer import ATTRS, Tokens, blank, text_of, tokens_of

# The rules' version; a score's model_version is this plus the trained model's, e.g.
# "rules-6+linear-base". 2: language; 3: intents; 4: sentiment per watched entity;
# 5: a trained classifier beside the lexicon; 6: learned intents and sentiment (nlp.model);
# 7: the sentiment decision chosen on development data (calm posts read neutral);
# 8: praise closing a complaint read as sarcasm; 9: model trained on more customer text, praise
# closing a plainly told let-down read as sarcasm; 10: which watched entities a mention is about
# decided by the learned relevance (nlp.relevance), keeping sponsorship and company news;
# 11: intents read per sentence too (a padded complaint counts), model trained on review sentences;
# 12: model trained with calm details and sign-offs (neither a complaint nor negative);
# 13: a post's opening after its @handles among the features, tweet-style brand posts, a
# complaint's feeling without the neutral lean, complaint thresholds recall-first;
# 14: model trained on 683 hand-written customer tweets to brands.
RULES_VERSION = "rules-14"

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
        doc._.watch_positions, doc._.watch_relevance, aside = self.find(doc)
        if aside:
            doc._.watch_aside = aside
        doc._.watch_terms = tuple(doc._.watch_positions)
        return doc

    def find(self, doc: Doc) -> tuple[dict[str, list[int]], dict[str, float], dict[str, list[int]]]:
        """The entities the doc is about, each with where it is named; the probability of each
        candidate's being about it (none when the context rules alone decide); and, when it
        is about none, the candidates it names that the relevance set aside, with where."""
        if self.relevance is None:
            return self.queries(doc), {}, {}
        found = self.queries.candidates(doc)
        about, chances = self.relevance.decide(doc, found)
        aside = {} if about or not chances else {n: [s for s, _ in found[n][0]] for n in chances}
        return about, chances, aside


class Scorer:
    """The compiled watchlist and pipeline. Build once per pass, reuse for every batch."""

    def __init__(self, watch: Sequence[Watch], models_dir: Path | None = None) -> None:
        self.model = model.current(models_dir)
        self.version = f"{RULES_VERSION}+{self.model.version}"
        self.nlp = blank()
        self.nlp.add_pipe("tidings_watch_terms", config={"watch": [w.model_dump() for w in watch]})
        self.relevance = relevance.load(models_dir)  # None: unreadable, the rules decide
        self.nlp.get_pipe("tidings_watch_terms").relevance = self.relevance
        if self.relevance and self.relevance.version:
            self.version += f"+{self.relevance.version}"
        self.nlp.add_pipe("tidings_sentiment")
        model.add_to(self.nlp, self.model)
        self.watch: WatchTerms = self.nlp.get_pipe("tidings_watch_terms")
        self.readings: model.Readings = self.nlp.get_pipe("tidings_readings")
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
            with _collection_paused():
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
        for at in range(0, len(candidates), batch_size):
            batch = candidates[at : at + batch_size]
            docs = [self.nlp.make_doc(for_scoring(f"{m.title}\n{m.text}")) for m in batch]
            scores = self._score_docs([m.id for m in batch], docs)
            out += [(m, s) for m, s in zip(batch, scores, strict=True) if s is not None]
        return out

    def score_text(self, text: str) -> Score:
        return self._score("", self.nlp(for_scoring(text)))

    def score_texts(self, texts: Sequence[str], batch_size: int = 256) -> list[Score]:
        """The score of each text, whatever it names, as score_text gives it; read a batch
        at a time, as a pass reads its mentions (`tidings score`)."""
        out: list[Score] = []
        with _collection_paused():
            for at in range(0, len(texts), batch_size):
                docs = [self.nlp.make_doc(for_scoring(t)) for t in texts[at : at + batch_size]]
                out += self._score_docs([""] * len(docs), docs, every=True)
        return out

    def _score(self, mention_id: str, doc: Doc) -> Score:
        """The score of one doc the whole pipeline has run on (one text: its components cost
        less than a batch's arrays)."""
        text = text_of(doc)
        aside = not doc._.watch_terms and bool(doc._.watch_aside)
        if aside:  # scored as if about the names it uses, and marked set aside
            doc._.watch_positions = doc._.watch_aside
            doc._.watch_terms = tuple(doc._.watch_aside)
        lang = language.detect(text)
        read = None
        if lang in language.SCORED_AS_ENGLISH:
            read = (doc._.clauses, [doc.cats[i] for i in self.model.intents], doc._.sentiment)
        positions, chances = doc._.watch_positions, doc._.watch_relevance
        fingerprint = duplicates.signature(doc)
        return self._reading(mention_id, text, lang, positions, chances, read, fingerprint, aside)

    def _score_docs(
        self, ids: Sequence[str], docs: Sequence[Doc], every: bool = False
    ) -> list[Score | None]:
        """The score of each tokenized doc about a watched entity (None for the others; with
        `every`, of every doc). Only the tokenizer has run on the docs: the pipeline's
        components would do the same work one doc at a time, where here the readings of all
        docs are made at once."""
        found = [self.watch.find(doc) for doc in docs]
        # A doc naming entities the relevance finds it about none of is scored as if about
        # them, and marked set aside.
        chosen = [i for i, (about, _, aside) in enumerate(found) if every or about or aside]
        texts = {i: text_of(docs[i]) for i in chosen}
        langs = {i: language.detect(texts[i]) for i in chosen}
        english = [i for i in chosen if langs[i] in language.SCORED_AS_ENGLISH]
        tokens = tokens_of([docs[i] for i in chosen])
        at = {i: k for k, i in enumerate(chosen)}
        readings = self._readings([docs[i] for i in english], tokens.of([at[i] for i in english]))
        read = {
            i: (clauses, values[3:].tolist(), feeling)
            for i, (clauses, values, feeling) in zip(english, readings, strict=True)
        }
        prints = duplicates.signatures(tokens.rows[:, _MINHASH], tokens.starts)
        out: list[Score | None] = [None] * len(docs)
        for i in chosen:
            about, chances, aside = found[i]
            out[i] = self._reading(
                ids[i], texts[i], langs[i], about or aside, chances, read.get(i), prints[at[i]],
                not about and bool(aside),
            )  # fmt: skip
        return out

    def _reading(
        self,
        mention_id: str,
        text: str,
        lang: str,
        positions: dict[str, list[int]],
        chances: dict[str, float],
        read: tuple[list[tuple[int, int, float]], list[float], float] | None,
        fingerprint: bytes | None,
        aside: bool = False,
    ) -> Score:
        """The score from what was read: `read` is the clauses, the learned intents'
        confidences and the sentiment score, None for a text not scored as English."""
        terms = tuple(positions)
        if read is None:
            # English lexicons and cues would read noise into French or German: keep, mark, skip.
            polarity, label, wants = 0.0, "unscored", dict.fromkeys(intent.INTENTS, 0.0)
            per_term = tuple(0.0 for _ in terms)
        else:
            clauses, learned, feeling = read
            polarity = round(feeling, 4)
            label = sentiment.label(polarity)
            wants = intent.intents(
                text, polarity, dict(zip(self.model.intents, learned, strict=True))
            )
            per_term = tuple(
                round(sentiment.feeling_near(clauses, feeling, positions[t]), 4) for t in terms
            )
        return Score(
            mention_id=mention_id,
            model_version=self.version,
            terms=terms,
            sentiment=polarity,
            sentiment_label=label,
            lang=lang,
            intents=wants,
            term_sentiments=per_term,
            fingerprint=fingerprint,
            present=intent.present(wants, self.model.thresholds),
            term_relevance=tuple(round(chances[t], 4) for t in terms if t in chances),
            set_aside=aside,
        )

    def _readings(
        self, docs: list[Doc], tokens: Tokens
    ) -> list[tuple[list[tuple[int, int, float]], np.ndarray, float]]:
        """Each doc's clauses, the model's readings and its sentiment score, as the sentiment
        and readings components make them, for all docs at once."""
        clauses = sentiment.clauses_of(docs, tokens)
        raws = [[r for _, _, r in c] for c in clauses]
        rows = tokens.rows[:, _FEATURES]
        lexical = [sentiment.normalize(sum(raw)) for raw in raws]
        indices, offsets = features.of_docs(rows, tokens.starts, lexical, raws)
        for doc, c in zip(docs, clauses, strict=True):
            doc._.clauses = c  # the readings of a doc's sentences read them
        values = self.readings.values_of(docs, rows, tokens.starts, indices, offsets)
        return [
            self.readings.read(doc, c, v) for doc, c, v in zip(docs, clauses, values, strict=True)
        ]


# Columns of nlp.tokenizer.ATTRS that features.of_docs and duplicates.signatures read.
_FEATURES = [ATTRS.index(a) for a in (LOWER, IS_SPACE, LIKE_URL, LIKE_NUM, IS_UPPER, LENGTH)]
_MINHASH = [ATTRS.index(a) for a in (LOWER, IS_ALPHA, IS_DIGIT)]


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Python's cycle collector paused while a batch is scored: scoring makes millions of
    short-lived objects (none of them in cycles that outlive it), and the collections they
    set off walk the whole heap, a pass's feeds and Prefect included: 15-20 % of scoring's
    time. The collector's state before is restored after."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


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
