"""The training data of the learned readings: fetched sets are checked, and where their files
are absent the shipped feature cache stands in for them, split as the files were."""

import hashlib
import json

import numpy as np
import pytest

from nlp import model, train


@pytest.fixture
def no_fetched_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDINGS_TRAIN_DATA", str(tmp_path / "absent"))
    return tmp_path / "absent"


def test_without_the_fetched_files_the_feature_cache_gives_the_same_sets(no_fetched_files):
    assert not train.fetched_available()
    splits = train.shipped_data()
    recorded = json.loads((model.BASE / "metrics.json").read_text("utf-8"))["data"]
    for name in train.FETCHED_SETS:
        assert splits.sizes[name] == recorded[name]
        cached = [e for e in splits.train + splits.dev + splits.test if e.source == name]
        assert cached and all(e.x is not None and e.x.dtype == np.int64 for e in cached)
        # and each sentence's features, which the per-sentence intents read
        assert any(len(e.sentences or []) > 1 for e in cached)
    # The cache's features are what the model reads: the shipped model scores them as it did
    # (within the rounding of its weights to half precision when saved).
    test = [e for e in splits.test if e.source == "financial tweets"]
    xs, lexical, sentences = train.featurize_examples(test)
    figures = train.evaluate(model.current(None).linear, test, xs, lexical, sentences)["sentiment"]
    shipped = json.loads((model.BASE / "metrics.json").read_text("utf-8"))["test"]
    assert figures["financial tweets"]["macro_f1"] == pytest.approx(
        shipped["sentiment"]["financial tweets"]["macro_f1"], abs=5e-3
    )


def test_rebuilding_the_shipped_model_without_a_fetched_file_says_which_and_where(
    no_fetched_files, tmp_path
):
    with pytest.raises(train.MissingData, match=r"absent/bitext_customer_support\.csv: .*bitext/"):
        train.train_base(tmp_path / "linear-test")
    assert not (tmp_path / "linear-test").exists()


def test_a_fetched_file_that_is_not_the_expected_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDINGS_TRAIN_DATA", str(tmp_path))
    for f in train.FETCHED:
        (tmp_path / f.file).write_text("text,label\nhello,2\n", encoding="utf-8")
    with pytest.raises(train.MissingData, match="sha256 differs"):
        train.financial_tweets()


def test_customer_care_tweets_that_tell_a_fault_are_complaints_and_the_rest_say_nothing(
    tmp_path, monkeypatch
):
    """The customer-care set (IBM's tweets to support accounts): an opening tweet telling a
    fault is a complaint and reads negative; a how-to question says nothing of complaints; no
    opening tweet is praise; agents' replies and tweets not in English are left out."""

    def conversation(*turns: tuple[str, str]) -> dict:
        return {"dialogContent": [{who: "x", "message": text} for who, text in turns]}

    data = [
        conversation(
            ("client", "@acme my card reader won't connect since the update"),
            ("agent", "@x Sorry to hear that! Which phone are you using?"),
        ),  # fmt: skip
        conversation(("client", "@acme how do I move my files to a new laptop?")),
        conversation(("client", "@acme das Update ist kaputt und der Drucker druckt nicht mehr")),
    ]
    monkeypatch.setenv("TIDINGS_TRAIN_DATA", str(tmp_path))
    fetched = []
    for f in train.FETCHED:
        if f.file.startswith("customer_care_"):
            raw = json.dumps(data if f.file.endswith("dev.json") else []).encode("utf-8")
            (tmp_path / f.file).write_bytes(raw)
            f = train.Fetched(f.file, f.repo, f.commit, f.path, hashlib.sha256(raw).hexdigest())
        fetched.append(f)
    monkeypatch.setattr(train, "FETCHED", tuple(fetched))
    got = {e.text: (e.intents, e.sentiment) for e in train.customer_care()}
    assert got == {
        "@acme my card reader won't connect since the update": (
            {"complaint": 1, "compliment": 0},
            "negative",
        ),
        "@acme how do I move my files to a new laptop?": ({"compliment": 0}, None),
    }
    assert "customer care" in train.FETCHED_SETS


def test_the_held_out_tweets_are_labelled_and_never_trained_on(no_fetched_files):
    """bench/nlp.py reads the model on nlp/data/held_out_tweets.tsv as posts by people it never
    learned from: every post has its labels, and none is among the data the model is fit on."""
    held = train.held_out_tweets()
    assert len(held) > 2000
    for _, copies in held:
        e = copies[0]
        assert e.sentiment in ("negative", "neutral", "positive")
        assert set(e.intents) == {"complaint", "question", "compliment", "churn_risk",
                                  "recommendation", "purchase_intent"}  # fmt: skip
    splits = train.shipped_data()
    fitted = {e.text for e in splits.train + splits.dev + splits.test if e.text}
    assert not fitted & {e.text for _, copies in held for e in copies}
    assert {e.source for e in splits.train} & {"held-out tweets"} == set()


def test_each_copy_of_a_hand_written_post_has_labels_of_its_own():
    """A post is used with BRAND_COPIES brands; a label changed on one copy (a set that leaves
    an intent unsaid) must not change the others'."""
    _, copies = train.brand_posts()[0]
    assert len(copies) == train.BRAND_COPIES
    copies[0].intents.pop("complaint")
    assert all("complaint" in e.intents for e in copies[1:])


def test_a_brands_handle_in_a_hand_written_post_is_one_handle():
    """ "@{b}" is the brand's handle: "@Northwind", never "@@Northwind"; a brand written as two
    words has a handle of one ("@BrightlineMobile")."""
    assert (
        train._branded("@{b} thanks, {b} rocks", "@FlyAeris") == "@FlyAeris thanks, @FlyAeris rocks"
    )
    assert train._branded("@{b} hi from a {b} fan", "Brightline Mobile") == (
        "@BrightlineMobile hi from a Brightline Mobile fan"
    )
    texts = [e.text for posts in (train.brand_posts, train.brand_tweets, train.held_out_tweets)
             for _, copies in posts() for e in copies]  # fmt: skip
    assert not [t for t in texts if "@@" in t or "{b}" in t]
