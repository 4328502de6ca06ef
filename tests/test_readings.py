"""The learned readings on the failures that made the cue rules useless (issue 11): plainly
worded complaints, cue words out of context, neutral news and questions read as negative, a
customer won read as churn. None of these texts is in the training data."""

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
