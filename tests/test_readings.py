"""The learned readings on the failures that made the cue rules useless (issue 11): plainly
worded complaints, cue words out of context, neutral news and questions read as negative, a
customer won read as churn. None of these texts is in the training data."""

import numpy as np
import pytest

from data.config import Watch
from nlp import build_scorer, model
from nlp.intent import present

WATCH = [
    Watch(name="Nimbus Notes", terms=["Nimbus Notes"]),
    Watch(name="Quillpad", kind="competitor", terms=["Quillpad"]),
]


@pytest.fixture(scope="module")
def scorer():
    return build_scorer(WATCH)


def wanted(scorer, text):
    return set(present(scorer.score_text(text).intents, scorer.model.thresholds))


@pytest.mark.parametrize(
    "text",
    [
        "My credit card was declined.",
        "I made a complaint in one of your stores 5 days ago and no one has dealt with it",
        "@NimbusNotes my invoice shows the old price even though I downgraded",
        "Nimbus Notes lost my notes again after the sync update. This is unacceptable.",
    ],
)
def test_plainly_worded_complaints_count(scorer, text):
    assert "complaint" in wanted(scorer, text)


@pytest.mark.parametrize(
    "text",
    [
        "you can crash and take a nap anywhere",
        "Nimbus Notes released version 5.2 today.",
        "How do I export from Quillpad to Nimbus Notes?",
        "Nimbus Notes will host a webinar about team knowledge bases next week.",
        "I love Nimbus Notes, thanks team!",
    ],
)
def test_no_complaint_without_a_problem(scorer, text):
    assert "complaint" not in wanted(scorer, text)


@pytest.mark.parametrize(
    "text",
    [
        "Nimbus Notes released version 5.2 today.",
        "How do I export from Quillpad to Nimbus Notes?",
        "Nimbus Notes will host a webinar about team knowledge bases next week.",
        "Does anyone know if Nimbus Notes can export to PDF?",
    ],
)
def test_neutral_news_and_questions_read_neutral(scorer, text):
    assert scorer.score_text(text).sentiment_label == "neutral"


def test_a_customer_won_is_praise_not_churn(scorer):
    text = "I switched to Nimbus Notes last month and honestly it's been great."
    got = wanted(scorer, text)
    assert "churn_risk" not in got and "complaint" not in got and "compliment" in got
    assert "churn_risk" in wanted(scorer, "I'm cancelling Nimbus Notes and switching to Quillpad")


def test_questions_are_read_without_a_question_mark(scorer):
    assert "question" in wanted(scorer, "how do I share a notebook in Nimbus Notes")
    assert "question" not in wanted(scorer, "Nimbus Notes is great?!"[:-2])


def test_the_shipped_model_is_calibrated_with_a_threshold_per_intent():
    shipped = model.current(None)
    metrics = shipped.metrics
    assert set(shipped.intents) >= {"complaint", "question", "compliment"}
    for intent in ("complaint", "question", "compliment"):
        assert 0.1 <= shipped.thresholds[intent] <= 0.9
        measured = metrics["test"][intent]["all"]
        assert measured["brier"] < 0.1 and measured["f1"] > 0.7
        for step in measured["reliability"]:  # confidence and observed rate agree
            if step["n"] >= 100:
                assert abs(step["confidence"] - step["observed"]) < 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Switching the office to the new building on Monday",
        "Meeting with the design team at 3",
        "The bus leaves at 7 from the main station",
        "@anna on my way, see you at the station",
    ],
)
def test_calm_posts_without_a_feeling_word_read_neutral(scorer, text):
    assert scorer.score_text(text).sentiment_label == "neutral"


def test_the_sentiment_decision_leans_neutral_only_where_the_lexicon_is_silent():
    from nlp.sentiment import Decision, label, readings

    leaning = np.array([[0.5, 0.4, 0.1], [0.5, 0.4, 0.1]])  # the model leans negative
    lexicon = np.array([0.0, -0.3])  # silent, then a feeling word
    plain = [label(s) for s in readings(lexicon, leaning, Decision())]
    calm = [label(s) for s in readings(lexicon, leaning, Decision(silent_neutral=1.0))]
    assert plain == ["negative", "negative"] and calm == ["neutral", "negative"]


def test_the_sentiment_decision_is_stored_with_the_model(tmp_path):
    from nlp.sentiment import Decision

    shipped = model.current(None).linear
    assert shipped.decision != Decision()  # chosen on development data, see metrics.json
    shipped.save(tmp_path)
    assert model.LinearModel.load(tmp_path).decision == shipped.decision
    # A model trained before decisions were stored reads as it did then.
    with np.load(tmp_path / "weights.npz") as f:
        old = {k: f[k] for k in f.files if k not in ("sentiment_offsets", "silent_neutral",
                                                      "lexicon_share")}  # fmt: skip
    np.savez_compressed(tmp_path / "weights.npz", **old)
    assert model.LinearModel.load(tmp_path).decision == Decision()


def test_one_text_is_decided_as_a_batch_of_them():
    from nlp.sentiment import Decision, reading, readings

    rng = np.random.default_rng(3)
    probs = rng.dirichlet([1, 1, 1], 500)
    lexicon = np.where(rng.random(500) < 0.3, 0.0, rng.uniform(-1, 1, 500))
    for decision in (Decision(), Decision((0.4, 0.0, 0.3), 1.25, 0.3)):
        batch = readings(lexicon, probs, decision)
        one = [reading(x, *p, decision) for x, p in zip(lexicon, probs, strict=True)]
        assert np.allclose(batch, one)


@pytest.mark.parametrize(
    "text",
    [
        "My flight was cancelled twice this week. Great!",
        "@NimbusNotes lost my notes again after the update. Love it!",
    ],
)
def test_praise_closing_a_complaint_reads_as_sarcasm(scorer, text):
    s = scorer.score_text(text)
    assert s.sentiment_label == "negative"
    got = set(present(s.intents, scorer.model.thresholds))
    assert "complaint" in got and "compliment" not in got


@pytest.mark.parametrize(
    "text",
    [
        "Nimbus Notes released the new editor today. Awesome!",
        "Support fixed my account in five minutes. Great!",
        "Finally got my refund today. Thanks!",
    ],
)
def test_meant_closings_are_not_sarcasm(scorer, text):
    assert scorer.score_text(text).sentiment_label == "positive"


def test_a_label_never_leans_against_its_score():
    from nlp.sentiment import NEGATIVE_AT, POSITIVE_AT, Decision, label, readings

    rng = np.random.default_rng(5)
    probs = rng.dirichlet([1, 1, 1], 2000)
    lexicon = np.where(rng.random(2000) < 0.3, 0.0, rng.uniform(-1, 1, 2000))
    decision = Decision((0.6, 0.0, 0.1), 1.25, 0.2)
    scores = readings(lexicon, probs, decision)
    strength = 0.2 * lexicon + 0.8 * (probs[:, 2] - probs[:, 0])
    labels = np.array([label(s) for s in scores])
    # "positive 0.05" where lexicon and model together lean negative and the lexicon alone
    # does not lean positive: neutral instead. A label is backed by one or the other.
    assert not np.any((labels == "positive") & (strength < 0) & (lexicon <= 0))
    assert not np.any((labels == "negative") & (strength > 0) & (lexicon >= 0))
    assert np.all((scores > NEGATIVE_AT) & (scores < POSITIVE_AT) | (labels != "neutral"))
