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
from nlp.needed import Needles
from nlp.query import Prefilter, QueryMatcher
from nlp.tokenizer import ATTRS, Text, Tokens, blank, text_of, tokenize, tokens_of

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
# 14: model trained on 683 hand-written customer tweets to brands; 15: model trained on IBM's
# customer-care tweets, a text that opens with its title read once (as_read); 16: model trained
# on 2,182 more customer tweets to brands for compliments and the feeling (brand_tweets.tsv);
# 17: a sarcasm marker turns praise words round at full strength, hand-written posts' "@{b}" a
# brand's one handle (was "@@Northwind"), the model retrained.
RULES_VERSION = "rules-17"

# Scoring reads at most this much of a text: enough for any post or article, far below
# spaCy's own limit (nlp.max_length, 1,000,000), which a pasted book would otherwise hit.
MAX_SCORED_CHARS = 20_000


def as_read(title: str, text: str) -> str:
    """What is read of a mention: its title, then its text; the text alone where it opens with
    the title (a social post's title is its first line, a forum post's often its first
    sentence), so that no word is read twice and counts double."""
    head = title.rstrip("…").strip()
    if head and text.lstrip(" \t\n").startswith(head):
        return text
    return f"{title}\n{text}"


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
        return self._decide(doc, self.queries.candidates(doc))

    def find_in(
        self,
        text: Text,
        lowers: list[int],
        firsts: Iterable[int] | None = None,
        flagged: Sequence[int] | None = None,
    ) -> tuple[dict[str, list[int]], dict[str, float], dict[str, list[int]]]:
        """find() of a text without a Doc, from its tokens' LOWER (and where a watched
        phrase's first word stands, when known: QueryMatcher.candidates_in; and the words
        that may weigh in the relevance: Relevance.may_weigh)."""
        return self._decide(text, self.queries.candidates_in(lowers, firsts), flagged)

    def _decide(
        self,
        doc: Doc | Text,
        found: dict[str, tuple[list[tuple[int, int]], bool | None]],
        flagged: Sequence[int] | None = None,
    ) -> tuple[dict[str, list[int]], dict[str, float], dict[str, list[int]]]:
        if self.relevance is None:
            about = {
                n: [s for s, _ in spans] for n, (spans, rule) in found.items() if rule is not False
            }
            return about, {}, {}
        if not found:
            return {}, {}, {}
        about, chances = self.relevance.decide(doc, found, flagged)
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
        cues = [p for i, p in intent._COMPILED.items() if i not in self.model.intents]
        self.needles = Needles([sentiment._SARCASM, sentiment._IDIOMS, *cues])

    def might_mention(self, text: str) -> bool:
        return self.prefilter.might_mention(text)

    def score(
        self,
        mentions: Iterable[Mention],
        batch_size: int = 1024,
        failed: list[tuple[Mention, str]] | None = None,
    ) -> list[tuple[Mention, Score]]:
        """The mentions that are about a watched entity, each with its score, and those that
        name one but that the relevance model finds about none (their score `set_aside`).

        A batch of 1,024 costs less per mention than smaller ones (numpy's work per call is
        shared by more texts) or larger ones (its arrays leave the processor's cache).
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
            texts = tokenize([for_scoring(as_read(m.title, m.text)) for m in batch], self.nlp.vocab)
            scores = self._score_docs([m.id for m in batch], texts)
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
                part = [for_scoring(t) for t in texts[at : at + batch_size]]
                out += self._score_docs([""] * len(part), tokenize(part, self.nlp.vocab), True)
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
        self, ids: Sequence[str], docs: Sequence[Text], every: bool = False
    ) -> list[Score | None]:
        """The score of each tokenized text about a watched entity (None for the others; with
        `every`, of every text). The pipeline's components would do the same work one Doc at
        a time, where here the readings of all texts are made at once, and no Doc is built."""
        every_token = tokens_of(docs)
        found = self._find(docs, every_token)
        # A doc naming entities the relevance finds it about none of is scored as if about
        # them, and marked set aside.
        chosen = [i for i, (about, _, aside) in enumerate(found) if every or about or aside]
        texts = {i: docs[i].text for i in chosen}
        langs = {i: language.detect(texts[i]) for i in chosen}
        english = [i for i in chosen if langs[i] in language.SCORED_AS_ENGLISH]
        all_chosen = len(chosen) == len(docs)
        tokens = every_token if all_chosen else every_token.of(chosen)
        at = {i: k for k, i in enumerate(chosen)}
        # What the sarcasm, idiom and intent cue patterns need, looked for once in all texts.
        lows = [texts[i].lower() for i in english]
        held = self.needles.held(lows)
        marked = (
            lows,
            self.needles.search(sentiment._SARCASM, lows, held),
            self.needles.search(sentiment._IDIOMS, lows, held),
        )
        readings = self._readings(
            [docs[i] for i in english], tokens.of([at[i] for i in english]), marked
        )
        read = {
            i: (clauses, values[3:].tolist(), feeling)
            for i, (clauses, values, feeling) in zip(english, readings, strict=True)
        }
        prints = duplicates.signatures(tokens.rows[:, _MINHASH], tokens.starts)
        cues = dict(
            zip(
                english,
                intent.cue_counts(
                    [texts[i] for i in english],
                    self.model.intents,
                    lows,
                    lambda pattern: self.needles.holding(pattern, lows, held),
                ),
                strict=True,
            )
        )
        out: list[Score | None] = [None] * len(docs)
        for i in chosen:
            about, chances, aside = found[i]
            out[i] = self._reading(
                ids[i], texts[i], langs[i], about or aside, chances, read.get(i), prints[at[i]],
                not about and bool(aside), cues.get(i),
            )  # fmt: skip
        return out

    def _find(
        self, docs: Sequence[Text], tokens: Tokens
    ) -> list[tuple[dict[str, list[int]], dict[str, float], dict[str, list[int]]]]:
        """WatchTerms.find of each text, from the batch's tokens: where a watched phrase's
        first word stands is found for all texts at once, most of which hold it once or twice."""
        lowers = tokens.rows[:, 0]
        first_words = np.array(self.watch.queries.first_words, dtype=np.uint64)
        hits = np.zeros(0, dtype=np.int64)
        if len(first_words) and len(lowers):
            hits = np.flatnonzero(features._within(lowers, first_words))
        bounds = tokens.starts.tolist()
        cut = np.searchsorted(hits, tokens.starts).tolist()
        hits = hits.tolist()
        # The words that may weigh in the relevance, for all texts at once: few texts hold any.
        weigh = np.zeros(0, dtype=np.int64)
        if self.relevance is not None and len(lowers):
            rows = tokens.rows
            weigh = np.flatnonzero(self.relevance.may_weigh(lowers, rows[:, _URL], rows[:, _NUM]))
        weigh_cut = np.searchsorted(weigh, tokens.starts).tolist()
        weigh = weigh.tolist()
        return [
            self.watch.find_in(
                doc,
                lowers[bounds[d] : bounds[d + 1]].tolist(),
                [h - bounds[d] for h in hits[cut[d] : cut[d + 1]]],
                [w - bounds[d] for w in weigh[weigh_cut[d] : weigh_cut[d + 1]]],
            )
            for d, doc in enumerate(docs)
        ]

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
        cues: dict[str, int] | None = None,
    ) -> Score:
        """The score from what was read: `read` is the clauses, the learned intents'
        confidences and the sentiment score, None for a text not scored as English; `cues`
        the text's intent.cue_counts, if counted with its batch's."""
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
                text, polarity, dict(zip(self.model.intents, learned, strict=True)), cues
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
        self,
        docs: list[Text],
        tokens: Tokens,
        marked: tuple[Sequence[str], Sequence[bool], Sequence[bool]] | None = None,
    ) -> list[tuple[list[tuple[int, int, float]], np.ndarray, float]]:
        """Each text's clauses, the model's readings and its sentiment score, as the sentiment
        and readings components make them, for all texts at once."""
        clauses = sentiment.clauses_of(docs, tokens, marked)
        flat = model.Clauses.of(clauses)
        counts = np.bincount(flat.doc, minlength=len(docs))
        rows = tokens.rows[:, _FEATURES]
        lexical = sentiment.normalized(sentiment.sums(flat.value, counts))
        indices, offsets = features.of_docs(rows, tokens.starts, lexical, flat.value, counts)
        values = self.readings.values_of(docs, rows, tokens.starts, indices, offsets, clauses, flat)
        return [
            self.readings.read(doc, c, v, x)
            for doc, c, v, x in zip(docs, clauses, values, lexical.tolist(), strict=True)
        ]


# Columns of nlp.tokenizer.ATTRS that features.of_docs and duplicates.signatures read.
_FEATURES = [ATTRS.index(a) for a in (LOWER, IS_SPACE, LIKE_URL, LIKE_NUM, IS_UPPER, LENGTH)]
_MINHASH = [ATTRS.index(a) for a in (LOWER, IS_ALPHA, IS_DIGIT)]
_URL, _NUM = ATTRS.index(LIKE_URL), ATTRS.index(LIKE_NUM)


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
