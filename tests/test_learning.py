"""Learning from users: corrections on the dashboard apply at once; `tidings train` turns them
into a new, versioned model; `tidings rescore` applies it to what is stored. Real DuckDB file,
real training (a few seconds), the dashboard under AppTest."""

from datetime import UTC, datetime, timedelta

import pytest

from data import corrections, store
from data.records import Mention
from flows.cli import main
from nlp import RULES_VERSION, build_scorer, model
from tests.conftest import make_config, open_view

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
# "borked" is in no lexicon and in none of the rated sentences: only corrections can teach it.
BORKED = [
    "Nimbus Notes sync is borked again this morning",
    "the Nimbus Notes export is completely borked",
    "Nimbus Notes search borked after the update",
    "is it just me or is Nimbus Notes borked today",
    "Nimbus Notes login page is borked on firefox",
    "Nimbus Notes borked my calendar integration",
]


def stored(tmp_path, texts):
    config = make_config(tmp_path, [])
    ms = [
        Mention(
            "forum", str(i), f"https://f.example/{i}", "", t, "ana", NOW - timedelta(hours=i + 1)
        )  # fmt: skip
        for i, t in enumerate(texts)
    ]
    scorer = build_scorer(config.watch, config.models_dir)
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, ms, NOW)
        store.upsert_scores(db, [s for _, s in scorer.score(ms)], NOW)
    return config, ms


def view(config, mention_id):
    with store.connect(config.db_path) as db:
        found = db.execute(
            "SELECT sentiment_label, sentiment, intents, model_version FROM scored_mentions "
            "WHERE id = ?",
            [mention_id],
        ).fetchone()
    return found


def test_corrections_apply_at_once_and_can_be_undone(tmp_path):
    config, ms = stored(tmp_path, ["Nimbus Notes is great", "Nimbus Notes released 4.2"])
    assert view(config, ms[0].id)[0] == "positive"
    with store.connect(config.db_path) as db:
        n = corrections.correct(db, ms[0].id, "ana@example.com", NOW, sentiment="negative",
                                intents=["complaint"])  # fmt: skip
        corrections.correct(db, ms[1].id, "ana@example.com", NOW, not_about=True)
        assert n == 2
        assert (
            store.summary(db, store.MentionFilter(since=(NOW - timedelta(days=2)).date()))[
                "mentions"
            ]
            == 1
        )
        history = db.execute("SELECT change FROM inbox_history ORDER BY change").fetchall()
    label, score, intents, _ = view(config, ms[0].id)
    assert (label, score, list(intents)) == ("negative", -0.5, ["complaint"])
    assert view(config, ms[1].id) is None  # not about us: it counts nowhere
    assert ("corrected sentiment → negative",) in history and ("marked not about us",) in history
    with store.connect(config.db_path) as db:
        assert corrections.undo(db, ms[1].id, "relevance", "ana@example.com", NOW)
        assert not corrections.undo(db, ms[1].id, "relevance", "ana@example.com", NOW)
    assert view(config, ms[1].id) is not None
    with store.connect(config.db_path) as db, pytest.raises(ValueError, match="sentiment must"):
        corrections.correct(db, ms[0].id, "ana", NOW, sentiment="angry")


def test_train_learns_from_corrections_and_rescore_applies_the_new_version(tmp_path, capsys):
    texts = [*BORKED, "Nimbus Notes offline mode is borked for me too"]
    config, ms = stored(tmp_path, texts)
    before = build_scorer(config.watch, config.models_dir)
    assert before.version == f"{RULES_VERSION}+linear-base"
    unseen = "Nimbus Notes is borked"  # no lexicon word: the classifier decides
    assert before.score_text(unseen).sentiment_label != "negative"
    with store.connect(config.db_path) as db:
        for m in ms[:-1]:  # the last one is left for rescore to fix
            corrections.correct(db, m.id, "ana", NOW, sentiment="negative")
    (tmp_path / "tidings.toml").write_text(
        f'[database]\npath = "{config.db_path}"\n\n'
        '[[watch]]\nname = "Nimbus Notes"\nterms = ["Nimbus Notes"]\n'
    )
    assert main(["--config", str(tmp_path / "tidings.toml"), "train"]) == 0
    out = capsys.readouterr().out
    assert "Trained linear-1" in out and "6 sentiment and 0 intent corrections" in out
    trained = model.current(config.models_dir)
    assert trained.version == "linear-1" and (trained.path / "meta.json").is_file()
    after = build_scorer(config.watch, config.models_dir)
    assert after.version == f"{RULES_VERSION}+linear-1"
    assert after.score_text(unseen).sentiment_label == "negative"
    # Names were masked in training: the model learned "borked", not that the brand is bad.
    # (The whole model is trained again, and common words of the corrections such as "is"
    # lean a little negative: the score may move a little, its label does not.)
    not_bad = "Nimbus Notes is not bad at all"
    assert abs(after.score_text(not_bad).sentiment - before.score_text(not_bad).sentiment) < 0.1
    assert after.score_text(not_bad).sentiment_label == "positive"
    # Stored mentions keep the version that scored them until re-scored.
    assert view(config, ms[-1].id)[3] == f"{RULES_VERSION}+linear-base"

    assert main(["--config", str(tmp_path / "tidings.toml"), "rescore"]) == 0
    assert f"Re-scored {len(ms)} mentions with {RULES_VERSION}+linear-1" in capsys.readouterr().out
    label, _, _, version = view(config, ms[-1].id)
    assert (label, version) == ("negative", f"{RULES_VERSION}+linear-1")
    with store.connect(config.db_path) as db:
        versions = db.execute("SELECT DISTINCT model_version FROM scores").fetchall()
    assert len(versions) == 2  # the old scores are kept beside the new ones

    # The next training is the next version; a half-written model folder is never picked up.
    (config.models_dir / ".partial-linear-9").mkdir()
    (config.models_dir / "linear-7").mkdir()  # no meta.json: incomplete
    assert model.current(config.models_dir).version == "linear-1"


def test_intent_corrections_teach_an_intent_the_shipped_model_lacks(tmp_path):
    things = ("dark mode", "tags", "tables", "math", "kanban", "calendar", "templates", "maps",
              "voice notes", "web clipper", "reminders", "backups")  # fmt: skip
    texts = [f"Nimbus Notes feature request: {w} please" for w in things]
    config, ms = stored(tmp_path, texts)
    with store.connect(config.db_path) as db:
        for m in ms:
            corrections.correct(db, m.id, "ana", NOW, intents=["purchase_intent"])
        sentiments, intents, silver = corrections.training_data(db)
    assert not sentiments and len(intents) == 12
    trained = model.train(config.models_dir, sentiments, intents, silver)
    assert (
        "purchase_intent" in trained.intents
        and "purchase_intent" not in model.current(None).intents
    )
    assert "purchase_intent" in trained.thresholds
    unseen = "Nimbus Notes feature request: sync please"
    before = build_scorer(config.watch).score_text(unseen)
    after = build_scorer(config.watch, config.models_dir).score_text(unseen)
    assert after.intents["purchase_intent"] > before.intents["purchase_intent"] + 0.2


def test_the_mention_page_takes_a_correction(tmp_path, monkeypatch):
    config, ms = stored(tmp_path, ["Nimbus Notes is great", "Nimbus Notes released 4.2"])
    toml = f'[database]\npath = "{config.db_path}"\n'
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "mentions", id=ms[0].id)
    assert not at.exception
    at.radio[0].set_value("negative")
    at.multiselect[0].set_value(["complaint"])
    next(b for b in at.button if b.label == "Save correction").click().run()
    assert not at.exception
    assert view(config, ms[0].id)[:1] == ("negative",)
    with store.connect(config.db_path) as db:
        assert corrections.of_mention(db, ms[0].id) == {
            "sentiment": "negative",
            "intents": "complaint",
        }
    next(b for b in at.button if b.label == "Undo the sentiment correction").click().run()
    assert view(config, ms[0].id)[0] == "positive"


def test_sources_page_says_which_model_scores_and_what_it_has_not_learned(tmp_path, monkeypatch):
    config, ms = stored(tmp_path, ["Nimbus Notes is great"])
    with store.connect(config.db_path) as db:
        corrections.correct(db, ms[0].id, "ana", NOW, sentiment="neutral")
    toml = (
        f'[database]\npath = "{config.db_path}"\n\n'
        '[[sources]]\nid = "blog"\nurl = "http://127.0.0.1:9/feed.xml"\n'
    )
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "sources")
    assert not at.exception
    assert any(f"{RULES_VERSION}+linear-base" in c.value for c in at.caption)
    assert "1 correction(s) made since the model was trained" in at.info[0].value


def test_train_reports_an_unwritable_models_folder_in_one_line(tmp_path, capsys):
    config, _ = stored(tmp_path, ["Nimbus Notes is great"])
    config.models_dir.write_text("not a folder")  # where the models folder should be
    (tmp_path / "tidings.toml").write_text(f'[database]\npath = "{config.db_path}"\n')
    assert main(["--config", str(tmp_path / "tidings.toml"), "train"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tidings: error: {config.models_dir}: cannot write the model")
    assert "\n" not in err


def test_corrections_import_bootstraps_training_from_a_labelled_history(tmp_path, capsys):
    config, _ = stored(tmp_path, ["Nimbus Notes is great"])
    (tmp_path / "tidings.toml").write_text(f'[database]\npath = "{config.db_path}"\n')
    history = tmp_path / "history.jsonl"
    history.write_text(
        '{"text": "my order never came", "intents": ["complaint"], "sentiment": "negative"}\n'
        '{"text": "do you ship to Spain?", "intents": ["question"]}\n'
        '{"text": "lovely staff", "sentiment": "positive", "relevant": true}\n'
    )
    cli = ["--config", str(tmp_path / "tidings.toml")]
    assert main([*cli, "corrections", "import", str(history)]) == 0
    assert "Imported 3 labelled texts" in capsys.readouterr().out
    table = tmp_path / "history.csv"
    table.write_text('text,intents,sentiment\n"the app crashes on start",complaint,negative\n')
    assert main([*cli, "corrections", "import", str(table)]) == 0
    with store.connect(config.db_path) as db:
        sentiments, intents, _ = corrections.training_data(db)
    assert ("my order never came", "negative") in sentiments
    assert ("the app crashes on start", ["complaint"]) in intents
    assert ("do you ship to Spain?", ["question"]) in intents

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "x", "intents": ["angry"]}\n')
    assert main([*cli, "corrections", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tidings: error: {bad}:1: no label (sentiment, intents or relevant)"


def test_a_labelled_text_longer_than_a_model_reads_is_a_bad_line(tmp_path, capsys):
    """The text is the imported labels' key, and DuckDB refuses a key over 120 KB: such a line
    once ended the import with a traceback."""
    config, _ = stored(tmp_path, ["Nimbus Notes is great"])
    (tmp_path / "tidings.toml").write_text(f'[database]\npath = "{config.db_path}"\n')
    history = tmp_path / "history.jsonl"
    history.write_text(
        '{"text": "lovely staff", "sentiment": "positive"}\n'
        f'{{"text": "{"slow " * 40_000}", "sentiment": "negative"}}\n'
    )
    assert (
        main(["--config", str(tmp_path / "tidings.toml"), "corrections", "import", str(history)])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == (
        f"tidings: error: {history}:2: text of 200,000 characters; at most 20,000 "
        "(a model reads no more of a post)"
    )


def test_each_correction_keeps_its_fold_every_training():
    import numpy as np

    from nlp.train import FOLDS, fold_of

    first = [f"my card was declined at shop {i}" for i in range(500)]
    later = [f"the app logs me out on screen {i}" for i in range(500)] + first
    sizes = np.bincount([fold_of(t) for t in first], minlength=FOLDS)
    assert len(sizes) == FOLDS and (sizes > 60).all()  # about a fifth each
    # More corrections later never move one to another fold: a correction is always read by
    # a model fitted without the same others.
    assert [fold_of(t) for t in first] == [fold_of(t) for t in later[500:]]


def test_corrections_are_measured_by_models_that_never_learned_them():
    """Cross-fitting: each correction is read, to choose thresholds and to report figures, by
    a model fitted without it. Corrections no model could generalise from (each complaint
    or not at random, told by a word of its own) are learned by the model kept, yet the
    figures reported on them stay those of a guess."""
    import random

    from nlp.train import CROSS_FROM, Example, Splits, build, evaluate, featurize

    def post(i: int, complaint: int) -> Example:
        words = "my card was declined again" if complaint else "thanks for the quick help"
        return Example(f"{words} {i}", None, {"complaint": complaint}, source="shipped")

    shipped = [post(i, i % 2) for i in range(300)]
    splits = Splits(shipped[:200], shipped[200:260], shipped[260:], {})
    rng = random.Random(5)
    mine = [
        Example(f"zq{i}x order {i}", None, {"complaint": rng.randint(0, 1)},
                source="corrections", repeats=20)
        for i in range(60)
    ]  # fmt: skip
    model, metrics = build(splits, ["complaint"], lambda _: None, mine)
    crossed = metrics["corrections_held_out"]["after"]["complaint"]["all"]
    xs, lexical, sentences = featurize([e.text for e in mine])
    in_sample = evaluate(model, mine, xs, lexical, sentences)["complaint"]["all"]
    assert crossed["n"] == in_sample["n"] == 60
    assert in_sample["f1"] > 0.9  # the model kept learned every correction
    assert crossed["f1"] < 0.75  # read out of fold, a word of its own tells nothing
    _, few = build(splits, ["complaint"], lambda _: None, mine[: CROSS_FROM - 1])
    assert "corrections_held_out" not in few  # too few to cross: all learned, none measured


def test_corrections_choose_the_threshold_once_enough_are_held_out():
    """The shipped sets' dev parts favour one threshold, the team's held-out corrections
    another: from CORRECTIONS_DECIDE of them on, the corrections weigh as much as all the
    shipped sets together, and the threshold suits the mentions the model will read."""
    import numpy as np

    from nlp.train import CORRECTIONS_DECIDE, best_threshold, calibration_weights, set_weights

    rng = np.random.default_rng(3)
    shipped_p = rng.uniform(0, 1, 2000)
    shipped_y = (shipped_p > 0.6).astype(float)  # the shipped sets: best from 0.6
    for n, expect_low in ((CORRECTIONS_DECIDE - 1, False), (CORRECTIONS_DECIDE + 10, True)):
        mine_p = np.linspace(0.2, 0.9, n)
        mine_y = (mine_p > 0.3).astype(float)  # the team's mentions: best from 0.3
        p, y = np.concatenate((shipped_p, mine_p)), np.concatenate((shipped_y, mine_y))
        sources = np.array(["GoEmotions"] * 1000 + ["BANKING77"] * 1000 + ["corrections"] * n)
        t = best_threshold(p, y, sources)
        assert (t <= 0.35) == expect_low, (n, t)
        weight = set_weights(sources)
        mine = sources == "corrections"
        if expect_low:
            assert weight[mine].sum() == pytest.approx(weight[~mine].sum())
            assert calibration_weights(sources)[mine].sum() == pytest.approx(2000)
        else:
            assert weight[mine].sum() == pytest.approx(np.sqrt(n))
            assert (calibration_weights(sources) == 1).all()


def test_corrections_get_weights_of_their_own_beside_the_shipped_ones():
    """A word the shipped data reads one way and the team's mentions another ("down" is calm
    in 2,000 shipped texts, a complaint in the team's 40 corrections): with weights of their
    own, the corrections are read as the team marked them; shared with the shipped data,
    AdaGrad hardly moves a weight that 2,000 texts have already moved."""
    import numpy as np

    from nlp import features
    from nlp.train import fit

    down, calm, app = 11, 12, 13
    xs = [np.array([down, calm])] * 2000 + [np.array([down, app])] * 40 * 20  # repeats
    feel = np.full(len(xs), -1)
    wants = np.array([[0.0]] * 2000 + [[1.0]] * 800)
    weights = np.ones(len(xs))
    own = np.array([False] * 2000 + [True] * 800)

    def complaint(w, bias, ids):
        return 1 / (1 + np.exp(-(w[ids, 3].sum() + bias[3])))

    shared = fit(xs, feel, wants, weights)
    apart = fit(xs, feel, wants, weights, own)
    assert apart[0].shape == shared[0].shape == (features.BUCKETS, 4)
    theirs = np.array([down, app])  # "the app is down", as the team's people mark it
    assert complaint(*apart, theirs) > 0.8 and complaint(*shared, theirs) < 0.7
    # The shipped texts are still read as they were taught.
    assert complaint(*apart, np.array([down, calm])) < 0.5
    assert complaint(*apart, np.array([calm])) < 0.5
