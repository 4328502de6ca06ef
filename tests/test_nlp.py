"""Watched-term matching and sentiment on hand-written cases."""

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.vocab import Vocab

from data.config import Watch
from data.records import Mention
from nlp import RULES_VERSION, build_scorer
from nlp.tokenizer import RegexTokenizer

WATCH = [
    Watch(name="Apple", terms=["Apple", "iPhone"], exclude=["apple pie", "orchard"]),
    Watch(name="Nimbus Notes", terms=["Nimbus Notes", "NimbusNotes"]),
    Watch(name="Quillpad", kind="competitor", terms=["Quillpad"]),
]


@pytest.fixture(scope="module")
def scorer():
    return build_scorer(WATCH)


def m(text: str, i: int = 0) -> Mention:
    return Mention("s", str(i), "", "", text, None, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("I love my new IPHONE", ("Apple",)),
        ("nimbus notes vs QUILLPAD: a comparison", ("Nimbus Notes", "Quillpad")),
        ("Grandma's apple pie recipe", ()),
        ("A day at the apple orchard", ()),
        ("Pineapple season is here", ()),
        ("NimbusNotes.", ("Nimbus Notes",)),
        ("#NimbusNotes is down again", ("Nimbus Notes",)),
        ("@quillpad why?", ("Quillpad",)),
        ("Nimbus is a cloud; notes are paper", ()),
    ],
)
def test_watched_terms_match_whole_words_case_insensitively_with_exclusions(scorer, text, terms):
    assert scorer.score_text(text).about == terms


def test_items_about_nothing_we_watch_are_not_mentions(scorer):
    items = [m("The weather is nice", 1), m("Nimbus Notes lost my data", 2), m("apple pie", 3)]
    scored = scorer.score(items)
    assert [mention.native_id for mention, _ in scored] == ["2"]
    assert (
        scored[0][1].mention_id == items[1].id
        and scored[0][1].model_version == f"{RULES_VERSION}+linear-base"
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Nimbus Notes is great", "positive"),
        ("Nimbus Notes is not great", "negative"),
        ("Nimbus Notes is not bad at all", "positive"),
        ("Nimbus Notes lost my notes, this is terrible", "negative"),
        ("Nimbus Notes released version 4.2 on Tuesday", "neutral"),
        ("The old editor was awful but Nimbus Notes is excellent now", "positive"),
        ("Nimbus Notes :(", "negative"),
        ("Nimbus Notes :)", "positive"),
        # emoji-only posts
        ("Nimbus Notes 😍😍😍", "positive"),
        ("Nimbus Notes 😡", "negative"),
        ("Nimbus Notes 👍", "positive"),
        ("Nimbus Notes 👎", "negative"),
        ("Nimbus Notes 💩", "negative"),
        # sarcasm markers turn praise words around
        ("Great, Nimbus Notes crashed again. Just what I needed 🙄", "negative"),
        ("Oh great, another Nimbus Notes outage", "negative"),
        ("Nimbus Notes is the best /s", "negative"),
        ("I love how easy Nimbus Notes makes sharing", "positive"),
        # idioms whose feeling is not their words'
        ("Nimbus Notes support is a joke", "negative"),
        ("Nimbus Notes never fails to disappoint", "negative"),
        ("Nimbus Notes is a game changer", "positive"),
        ("Nimbus Notes is not a game changer", "negative"),
        # feeling no lexicon word carries: the trained classifier reads it
        ("Nimbus Notes: the plot goes nowhere and the acting is wooden", "negative"),
        ("Nimbus Notes shipped the export we asked for", "neutral"),
    ],
)
def test_sentiment_label(scorer, text, label):
    assert scorer.score_text(text).sentiment_label == label


def test_intensifiers_caps_and_exclamations_strengthen(scorer):
    plain = scorer.score_text("Nimbus Notes is good").sentiment
    assert scorer.score_text("Nimbus Notes is very good").sentiment > plain
    assert scorer.score_text("Nimbus Notes is GOOD").sentiment > plain
    assert scorer.score_text("Nimbus Notes is good!!!").sentiment > plain
    assert scorer.score_text("Nimbus Notes is slightly good").sentiment < plain


def test_sentiment_is_bounded(scorer):
    text = "Nimbus Notes " + "amazing wonderful excellent " * 50
    assert 0.95 < scorer.score_text(text).sentiment <= 1.0
    text = "Nimbus Notes " + "horrible awful terrible " * 50
    assert -1.0 <= scorer.score_text(text).sentiment < -0.95


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_tokenizer_keeps_the_text_exactly(text):
    doc = RegexTokenizer(Vocab())(text)
    assert doc.text == text
    assert all(t.text for t in doc)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I don't like it :)", ["I", "do", "n't", "like", "it", ":)"]),
        ("isn’t it", ["is", "n’t", "it"]),
        (
            "See https://x.example/a?b=1. Great!!",
            ["See", "https://x.example/a?b=1", ".", "Great", "!", "!"],
        ),
        ("#NimbusNotes rocks 😀 <3 @dana", ["#", "NimbusNotes", "rocks", "😀", "<3", "@", "dana"]),
        ("line one\nline two", ["line", "one", "\n", "line", "two"]),
    ],
)
def test_tokenizer_keeps_social_tokens_whole(text, tokens):
    assert [t.text for t in RegexTokenizer(Vocab())(text)] == tokens


@pytest.mark.parametrize(
    ("text", "lang", "label"),
    [
        ("Nimbus Notes lost all my notes again and support is terrible", "en", "negative"),
        ("Nimbus Notes a perdu toutes mes notes, le support ne répond jamais", "fr", "unscored"),
        ("Nimbus Notes stürzt ständig ab und der Support antwortet nicht", "de", "unscored"),
        ("Nimbus Notes 😍", "und", "positive"),
        ("Nimbus Notes is down", "en", "negative"),
        ("Nimbus Notes не синхронизирует", "ru", "unscored"),  # short, mostly Cyrillic
        ("Nimbus Notes funciona muy bien", "es", "unscored"),  # short, no English word
    ],
)
def test_other_languages_are_kept_and_marked_not_scored_as_english(scorer, text, lang, label):
    s = scorer.score_text(text)
    assert s.terms == ("Nimbus Notes",) and s.lang == lang and s.sentiment_label == label
    if label == "unscored":
        assert s.sentiment == 0.0


# --- boolean queries and context rules ------------------------------------------------------

QUERIES = [
    Watch(
        name="Apple",
        query="apple OR iphone",
        context={
            "requires": ["iphone", "mac", "ios", "tim cook", "app store"],
            "excludes": ["pie", "orchard"],
            "window": 8,
        },
    ),
    Watch(name="Refunds", query='acme NEAR/3 refund* OR "acme corp" NEAR/3 refund*'),
    Watch(name="Acme support", query='acme AND (support OR helpdesk) AND NOT "job opening"'),
]


@pytest.fixture(scope="module")
def queries():
    return build_scorer(QUERIES)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Apple updated iOS again and my mac is slow", ("Apple",)),
        ("Tim Cook on stage: Apple will change the App Store", ("Apple",)),
        ("Grandma's apple pie with fresh apples from the orchard", ()),
        ("An apple a day keeps the doctor away", ()),  # no required word nearby
        ("Acme refunded me in two days", ("Refunds",)),
        ("Acme Corp, refund me now please", ("Refunds",)),
        ("Acme Corp still has not processed my refund", ()),  # five words apart
        ("Acme is great. Much later in a long post, unrelated, a word about a refund", ()),
        ("Acme support answered within an hour", ("Acme support",)),
        ("Acme helpdesk job opening in Leeds", ()),
    ],
)
def test_boolean_queries_near_wildcards_and_context(queries, text, terms):
    assert queries.score_text(text).about == terms


def test_query_syntax_errors_point_at_the_column():
    from data.query import QuerySyntaxError, parse

    for query, message in [
        ('acme AND "big corp', "unclosed quote at column 10"),
        ("(acme OR x", "unclosed parenthesis at column 1"),
        ("acme OR", "a term is missing at column 8"),
        ("acme )", "unexpected ')' at column 6"),
        ("NOT acme", "at least one term that is not negated"),
        ("ac*me", "* may only end a term at column 1"),
    ]:
        with pytest.raises(QuerySyntaxError, match=re.escape(message)):
            parse(query)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nimbus Notes lost my notes again, this is unacceptable", {"complaint"}),
        ("I love Nimbus Notes, thanks team!", {"compliment"}),
        ("Does Nimbus Notes export to PDF?", {"question"}),
        ("I am cancelling Nimbus Notes and switching to Quillpad", {"churn_risk"}),
        ("Nimbus Notes is hiring a full-time engineer, apply now", {"job_post"}),
        ("Nimbus Notes 50% off with promo code SAVE50, click here", {"spam"}),
        ("Highly recommend Nimbus Notes, worth it", {"recommendation", "compliment"}),
        (
            "Looking for an app like Nimbus Notes, what is the pricing?",
            {"question", "purchase_intent"},
        ),
        ("Nimbus Notes released version 4.2 on Tuesday", set()),
        ("Does Nimbus Notes have a student discount?", {"question"}),
        (
            "I switched to Nimbus Notes in May and honestly it has been great",
            {"compliment", "recommendation"},
        ),
        ("Nimbus Notes is not bad at all", set()),
    ],
)
def test_intents_are_multi_label_with_a_confidence_each(scorer, text, expected):
    from nlp.intent import INTENTS, present

    s = scorer.score_text(text)
    assert set(s.intents) == set(INTENTS) and all(0 <= c <= 1 for c in s.intents.values())
    assert set(present(s.intents, scorer.model.thresholds)) == expected


def test_sentiment_per_watched_entity_reads_the_clauses_that_name_it(scorer):
    s = scorer.score_text("Quillpad crashed and lost my work, awful. Nimbus Notes is wonderful!")
    by_term = dict(zip(s.terms, s.term_sentiments, strict=True))
    assert by_term["Nimbus Notes"] > 0.5 and by_term["Quillpad"] < -0.5
    assert -1 <= s.sentiment <= 1


@pytest.mark.parametrize(
    ("text", "ours", "theirs"),
    [
        ("Quillpad is awful but Nimbus Notes is fine", "positive", "negative"),
        ("Nimbus Notes is great but Quillpad keeps crashing", "positive", "negative"),
        ("Quillpad is fine I guess, but Nimbus Notes is unusable", "negative", "positive"),
    ],
)
def test_but_splits_the_feeling_between_entities(scorer, text, ours, theirs):
    from nlp.sentiment import label

    s = scorer.score_text(text)
    by_term = dict(zip(s.terms, s.term_sentiments, strict=True))
    assert (label(by_term["Nimbus Notes"]), label(by_term["Quillpad"])) == (ours, theirs)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Ordered two teas at the Nimbus Notes café an hour ago, they never came. Awesome!",
         "negative"),
        ("Waited all day for the Nimbus Notes engineer and nobody showed up. Great!", "negative"),
        ("Nimbus Notes never lets me down. Love it.", "positive"),
        ("Nimbus Notes fixed my sync in five minutes. Awesome!", "positive"),
    ],
)  # fmt: skip
def test_praise_closing_a_let_down_is_sarcasm(scorer, text, label):
    s = scorer.score_text(text)
    assert s.sentiment_label == label
    assert ("compliment" in s.present) == (label == "positive")


def test_a_post_with_no_word_to_read_is_scored_in_a_batch_as_alone():
    # Found by tests/test_fuzz.py: the batch path failed on a post whose sentences held nothing
    # to read ("Nimbus Notes ÀÀÀ…"), so the item was left out of the pass.
    scorer = build_scorer([Watch(name="Nimbus Notes", terms=["Nimbus Notes"])])
    text = "Nimbus Notes " + "À" * 23
    post = Mention("fuzz", "0", "http://127.0.0.1/0", "Nimbus Notes", text, None,
                   datetime(2026, 11, 26, tzinfo=UTC))  # fmt: skip
    failed: list = []
    ((_, batch),) = scorer.score([post, post], failed=failed)[:1]
    alone = scorer.score_text(f"Nimbus Notes\n{text}")
    assert not failed
    assert (batch.terms, batch.sentiment, batch.intents, batch.fingerprint) == (
        alone.terms, alone.sentiment, alone.intents, alone.fingerprint
    )  # fmt: skip
