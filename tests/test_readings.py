"""The learned readings on the failures that made the cue rules useless (issue 11): plainly
worded complaints, cue words out of context, neutral news and questions read as negative, a
customer won read as churn. None of these texts is in the training data."""

import dataclasses
import math

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
                # within three standard errors of the observed rate (and 0.02): a bin of
                # a hundred texts differs from its confidence by up to ~0.1 by chance alone
                spread = math.sqrt(step["observed"] * (1 - step["observed"]) / step["n"])
                assert abs(step["confidence"] - step["observed"]) < 3 * spread + 0.02


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


@pytest.mark.parametrize(
    ("padded", "plain"),
    [
        ("Love your app's colours. My card was declined twice today and nobody answers the chat. "
         "Anyway, have a nice weekend.",
         "My card was declined twice today and nobody answers the chat."),
        ("Great to see the new shop open on Main Street! My refund from last month still hasn't "
         "arrived. Have a lovely day everyone.",
         "My refund from last month still hasn't arrived."),
        ("Happy Monday Nimbus Notes team. Your colours are lovely. The sync has stopped working on "
         "my laptop since Friday. Thanks and have a great week!",
         "The sync has stopped working on my laptop since Friday."),
    ],
)  # fmt: skip
def test_a_complaint_padded_with_other_sentences_still_counts(scorer, padded, plain):
    got, alone = scorer.score_text(padded), scorer.score_text(plain)
    assert "complaint" in got.present and "complaint" in alone.present
    # The sentences only ever add to what the whole post reads.
    readings = scorer.nlp.get_pipe("tidings_readings")
    whole = dataclasses.replace(readings.model, sentence_weights={})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(readings, "model", whole)
        drowned = scorer.score_text(padded)
    assert got.intents["complaint"] >= drowned.intents["complaint"]


@pytest.mark.parametrize(
    "text",
    [
        "Lovely weather. I renewed my plan today. See you all tomorrow.",
        "Love your app. Awesome!",
        "Nimbus Notes opens an office in Leeds. The team grows to forty. Hiring continues.",
    ],
)
def test_sentences_without_a_problem_make_no_complaint(scorer, text):
    assert "complaint" not in wanted(scorer, text)


def test_sentences_are_split_at_stops_and_line_breaks_not_at_but(scorer):
    doc = scorer.nlp("Love the colours. The app is fine but it crashes daily!\nThanks. Hi")
    assert [doc[a:b].text.strip() for a, b, _ in model.sentences(doc)] == [
        "Love the colours.",
        "The app is fine but it crashes daily!",
    ]  # "Thanks." and "Hi" are too short to read alone
    assert model.sentences(scorer.nlp("My card was declined twice today.")) == []


def test_the_sentences_weight_is_chosen_on_dev_and_stored_with_the_model(tmp_path):
    shipped = model.current(None)
    chosen = shipped.metrics["per_sentence"]
    assert chosen["compliment"]["sentence_weight"] == 0.0  # praise is never read per sentence
    assert shipped.linear.sentence_weights == {
        i: c["sentence_weight"] for i, c in chosen.items() if c["sentence_weight"] > 0
    }
    assert "complaint" in shipped.linear.per_sentence
    shipped.linear.save(tmp_path)
    assert model.LinearModel.load(tmp_path).sentence_weights == shipped.linear.sentence_weights
    with np.load(tmp_path / "weights.npz") as f:  # a model trained before: whole posts only
        old = {k: f[k] for k in f.files if k != "sentence_weights"}
    np.savez_compressed(tmp_path / "weights.npz", **old)
    assert model.LinearModel.load(tmp_path).sentence_weights == {}


def test_a_padded_complaint_feels_as_its_complaint_does(scorer):
    text = (
        "Great to see the new shop open on Main Street! My refund from last month still "
        "hasn't arrived. Have a lovely day everyone."
    )
    assert scorer.score_text(text).sentiment_label == "negative"
    # Pleasantries around no problem keep their feeling.
    assert (
        scorer.score_text("Lovely weather. I renewed my plan today.").sentiment_label != "negative"
    )


@pytest.mark.parametrize(
    "text",
    [
        # As the demo's customers close their posts; none of these sentences is in the training
        # data (brand_posts.tsv words its details and sign-offs otherwise).
        "Really impressed with how fast Nimbus Sync has become after the update. Sent from my "
        "Linux desktop. Tried it again this morning on my Linux desktop before writing this.",
        "Tried Quillpad and Nimbus Notes; Nimbus Notes wins easily for me, much cleaner. Tried "
        "it again this morning on my Chromebook before writing this.",
    ],
)
def test_praise_closed_by_calm_details_is_neither_a_complaint_nor_negative(scorer, text):
    score = scorer.score_text(text)
    assert "complaint" not in wanted(scorer, text) and score.sentiment_label == "positive"


def test_calm_details_alone_read_neutral_and_a_complaint_beside_them_still_counts(scorer):
    for calm in ["Sent from my Linux desktop.", "Edit: fixed the formatting."]:
        assert scorer.score_text(calm).sentiment_label == "neutral"
        assert "complaint" not in wanted(scorer, calm)
    told = "Nimbus Notes charged me twice this month. Sent from my Linux desktop."
    assert "complaint" in wanted(scorer, told)


def test_a_question_after_the_handles_a_post_opens_with_is_read_as_one(scorer):
    # "@acme how do I…" opens as "how do I…" does: no question mark needed after a handle.
    text = "@NimbusNotes how do I move a notebook to another account"
    assert "question" in wanted(scorer, text)
    assert "complaint" not in wanted(scorer, text)
    assert "question" not in wanted(scorer, "RT @NimbusNotes: version 6 is out today")


def test_a_post_opening_with_handles_has_the_features_of_its_words_alone(scorer):
    from nlp import features, sentiment

    def of(text):
        doc = scorer.nlp(text)
        raw = [r for *_, r in doc._.clauses]
        return set(features.of_doc(doc, sentiment.normalize(sum(raw)), raw).tolist())

    plain = of("my card was declined at the till this morning")
    assert plain <= of("@acme my card was declined at the till this morning")
    assert plain <= of("RT @acme: my card was declined at the till this morning")


def test_a_complaint_told_without_a_feeling_word_reads_negative():
    from nlp.sentiment import Decision, label, reading, readings

    leaning = np.array([[0.45, 0.4, 0.15], [0.45, 0.4, 0.15]])  # the model leans negative
    silent = np.array([0.0, 0.0])  # the lexicon finds no feeling in either
    complaint = np.array([0.9, 0.1])  # one reports a problem
    decision = Decision(silent_neutral=1.0, complaint_from=0.6)
    got = [label(s) for s in readings(silent, leaning, decision, complaint)]
    assert got == ["negative", "neutral"]
    assert [
        label(reading(0.0, *p, decision, c)) for p, c in zip(leaning, complaint, strict=True)
    ] == got
    # A model trained before complaint_from was chosen (its default) reads both neutral.
    assert {
        label(s) for s in readings(silent, leaning, Decision(silent_neutral=1.0), complaint)
    } == {"neutral"}


def test_the_complaints_exemption_is_stored_with_the_model(tmp_path):
    shipped = model.current(None).linear
    assert shipped.decision.complaint_from <= 1.0  # chosen on dev, see metrics.json
    shipped.save(tmp_path)
    assert model.LinearModel.load(tmp_path).decision == shipped.decision
    with np.load(tmp_path / "weights.npz") as f:  # a model trained before: no exemption
        old = {k: f[k] for k in f.files if k != "complaint_from"}
    np.savez_compressed(tmp_path / "weights.npz", **old)
    assert model.LinearModel.load(tmp_path).decision.complaint_from == 2.0


def test_a_complaint_threshold_is_the_lowest_the_dev_parts_cannot_tell_from_the_best():
    from nlp.train import THRESHOLD_TIE, best_threshold, weighted_f1

    # 1,000 complaints at 0.8, 3 other posts at 0.3 and 996 at 0.05: from 0.1 to 0.3, three
    # posts flagged wrongly cost 0.0015 of F1, less than the dev parts can tell.
    p = np.array([0.8] * 1000 + [0.3] * 3 + [0.05] * 996)
    y = np.array([1.0] * 1000 + [0.0] * 999)
    sources = np.array(["a"] * len(p))
    chosen = best_threshold(p, y, sources, recall_first=True)
    grid = np.round(np.arange(0.1, 0.91, 0.025), 3)
    scores = {t: weighted_f1(p, y, sources, t) for t in grid}
    best = max(scores.values())
    assert scores[chosen] >= best - THRESHOLD_TIE
    assert all(scores[t] < best - THRESHOLD_TIE for t in grid if t < chosen)
    assert best_threshold(p, y, sources) == 0.5  # other intents: the best, nearest 0.5 on a tie
    assert chosen < max(scores, key=scores.get)  # a tie lower than the single best is taken


def test_the_demos_customer_praise_is_never_a_complaint(scorer):
    """The issue's done-when: the demo's inbox flags no compliment. Its customers' praise
    comes with the calm details people add ("Day 12 with it.", "We have 8 seats on the
    business plan since 2021.", "Sent from my phone."), which the tweets a model learns from
    tell mostly in complaints ("day 4 without internet", "a customer since 2016 and…")."""
    from pathlib import Path

    from bench import feedgen
    from collectors.rss import read

    recorded = Path(__file__).parent.parent / "data" / "demo" / "recorded"
    posts = [
        m.text
        for path in sorted(recorded.glob("*.xml"))
        for m in read(path.read_bytes(), "demo").mentions
        if feedgen.PRAISED.search(m.text)
    ]
    assert len(posts) > 30, len(posts)
    flagged = [p for p in posts if "complaint" in wanted(scorer, p)]
    assert not flagged, f"{len(flagged)} of {len(posts)}: {flagged[:5]}"
