"""Is a mention about the watched entity? The learned relevance per watch: what the priors
keep with no correction, what "not about us" / "about us" corrections and `tidings train`
change, and what happens when its model file is damaged. Real DuckDB file in tmp_path, the
real correction path (data.corrections, the mention page under AppTest) and the real CLI."""

import json
import logging
import re
from datetime import UTC, datetime, timedelta

from data import clients, corrections, inbox, store
from data.config import Watch
from data.records import Mention
from flows.cli import main
from nlp import Scorer, build_scorer, relevance
from tests.conftest import make_config, open_view

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
# "Maple" is a phone network here; the word is also a tree and a syrup.
TOML = """[database]
path = "{db}"

[[watch]]
name = "Maple"
terms = ["maple"]
{context}"""
RULE = 'context = { requires = ["phone", "signal", "network", "bill", "app"], window = 10 }\n'
TREES = [
    "Maple syrup on pancakes is the best breakfast",
    "the maple in our garden turned bright red this week",
    "Bought a maple dining table from the flea market",
    "Tapping maple trees for sap: a weekend guide",
    "Maple leaves everywhere on the path to school",
    "maple walnut ice cream is underrated",
]
PHONES = [
    "Maple dropped my calls all morning",
    "switched to Maple last month and the coverage is great",
    "Maple charged me twice this month",
    "is Maple down? nothing loads",
]


def configured(tmp_path, rule: bool = False):
    """The watch, the config and its file: "Maple", with or without its context rule."""
    config = make_config(tmp_path, [])
    toml = tmp_path / "tidings.toml"
    toml.write_text(TOML.format(db=config.db_path, context=RULE if rule else ""))
    context = {"requires": ["phone", "signal", "network", "bill", "app"], "window": 10}
    return [Watch(name="Maple", terms=["maple"], context=context if rule else None)], config, toml


def store_scored(config, watch, texts):
    ms = [
        Mention("forum", str(i), f"https://f.example/{i}", "", t, "ana", NOW - timedelta(hours=i))
        for i, t in enumerate(texts)
    ]
    scored = build_scorer(watch, config.models_dir).score(ms)
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, ms, NOW)
        store.upsert_scores(db, [s for _, s in scored], NOW)
    return ms, {m.id: s for m, s in scored}


def test_not_about_us_corrections_and_train_set_aside_similar_new_mentions(
    tmp_path, capsys, monkeypatch
):
    watch, config, toml = configured(tmp_path)  # no context rule: the name alone matches
    ms, scores = store_scored(config, watch, TREES + PHONES)
    assert all(scores[m.id].terms == ("Maple",) for m in ms)  # every one counted, trees too
    with store.connect(config.db_path) as db:
        for m in ms[1 : len(TREES)]:
            corrections.correct(db, m.id, "ana", NOW, not_about=True)
        corrections.correct(db, ms[len(TREES)].id, "ana", NOW, about=True)
        inbox.update(db, [ms[len(TREES) + 1].id], "ana", NOW, status="done")  # handled: ours
    # One of them through the mention page, as people do it.
    page = open_view(monkeypatch, toml, TOML.format(db=config.db_path, context=""), "mentions",
                     id=ms[0].id)  # fmt: skip
    assert not page.exception
    assert any(re.match(r"About Maple: \d+% sure", c.value) for c in page.caption)
    next(r for r in page.radio if r.label == "About us?").set_value(corrections.NOT_ABOUT)
    next(b for b in page.button if b.label == "Save correction").click().run()
    assert not page.exception

    unseen = ["fresh maple syrup from the farm", "the maple trees are turning red"]
    before = build_scorer(watch, config.models_dir)
    assert [before.score_text(t).terms for t in unseen] == [("Maple",), ("Maple",)]

    assert main(["--config", str(toml), "train"]) == 0
    out = capsys.readouterr().out
    assert "Trained relevance-1" in out and "from 8 labelled mentions" in out
    assert "about Maple: accuracy" in out

    after = build_scorer(watch, config.models_dir)
    assert after.version.endswith("+relevance-1")
    for text in unseen:
        was, now = before.score_text(text), after.score_text(text)
        assert now.set_aside and now.terms == ("Maple",)  # set aside: not about us
    # How sure it is moved a long way down for what resembles the corrected mentions …
    got = after.relevance.of("Maple")
    syrup = relevance.Extractor(watch)(unseen[0])["Maple"][0]
    assert got.probability(syrup) < 0.5 < before.relevance.of("Maple").probability(syrup)
    # … and the phone network's own mentions still count, with their probability stored.
    ours = Mention("forum", "new", "https://f.example/new", "", "Maple coverage is great", "b", NOW)
    ((_, score),) = after.score([ours])
    assert score.terms == ("Maple",) and score.term_relevance[0] >= 0.5
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [ours], NOW)
        store.upsert_scores(db, [score], NOW)
        (kept,) = db.execute(
            "SELECT term_relevance FROM scores WHERE mention_id = ?", [ours.id]
        ).fetchone()
    assert kept == list(score.term_relevance)
    assert was.term_relevance and was.term_relevance[0] > 0.8  # the prior, before training


def test_sponsorship_and_news_mentions_stay_about_us_where_the_rule_drops_them(tmp_path, capsys):
    watch, config, toml = configured(tmp_path, rule=True)
    rules_only = Scorer(watch, config.models_dir)  # not the shared one build_scorer keeps
    rules_only.nlp.get_pipe("tidings_watch_terms").relevance = None
    kept_by_rules = ["My Maple phone has no signal again", "Maple app keeps crashing, bill wrong"]
    dropped_by_rules = [
        "Proudly sponsored by Maple: thank you for backing our youth football team!",
        "Maple shares fell 6% after the company announced layoffs",
        "Maple CEO steps down after the outage",
    ]
    for text in kept_by_rules:
        assert rules_only.score_text(text).terms == ("Maple",)
    for text in dropped_by_rules + TREES:
        assert rules_only.score_text(text).about == ()

    scorer = build_scorer(watch, config.models_dir)  # no correction yet: the priors
    for text in kept_by_rules + dropped_by_rules:
        assert scorer.score_text(text).terms == ("Maple",), text
    for text in TREES:
        assert scorer.score_text(text).about == (), text

    # Corrections of the tree and the syrup do not cost the sponsorships and the news.
    ms, _ = store_scored(config, [Watch(name="Maple", terms=["maple"])], TREES + PHONES)
    with store.connect(config.db_path) as db:
        for m in ms[: len(TREES)]:
            corrections.correct(db, m.id, "ana", NOW, not_about=True)
        for m in ms[len(TREES) :]:
            corrections.correct(db, m.id, "ana", NOW, about=True)
    assert main(["--config", str(toml), "train"]) == 0
    trained = build_scorer(watch, config.models_dir)
    assert trained.relevance.of("Maple").labelled == len(TREES + PHONES)
    for text in dropped_by_rules + kept_by_rules:
        assert trained.score_text(text).terms == ("Maple",), text
    assert trained.score_text("maple syrup and maple leaves").about == ()


def test_a_damaged_model_file_is_reported_in_one_line_and_the_rules_decide(tmp_path, caplog):
    watch, config, _ = configured(tmp_path, rule=True)
    config.models_dir.mkdir(parents=True)
    sponsored = "Proudly sponsored by Maple, thank you!"
    for damage in ('{"format": 1, "watches": {"Maple": {"bias": "x"}}}', "not json {", "[]"):
        (config.models_dir / relevance.FILE).write_text(damage)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="nlp.relevance"):
            scorer = build_scorer(watch, config.models_dir)
        (record,) = [r for r in caplog.records if r.name == "nlp.relevance"]
        message = record.getMessage()
        assert "\n" not in message and str(config.models_dir / relevance.FILE) in message
        assert "cannot read the relevance model" in message
        assert scorer.relevance is None
        assert scorer.score_text(sponsored).about == ()  # the rule alone: no phone word near
        got = scorer.score_text("My Maple phone has no signal")
        assert got.terms == ("Maple",) and got.term_relevance == ()


def test_it_is_about_us_after_all_teaches_the_model(tmp_path, monkeypatch):
    watch, config, toml = configured(tmp_path)
    ms, _ = store_scored(config, watch, ["Maple dropped my calls again"])
    with store.connect(config.db_path) as db:
        corrections.correct(db, ms[0].id, "ana", NOW, not_about=True)
    page = open_view(monkeypatch, toml, TOML.format(db=config.db_path, context=""), "mentions",
                     id=ms[0].id)  # fmt: skip
    assert not any("sure" in c.value for c in page.caption)  # marked: not shown, not scored
    next(b for b in page.button if b.label == "It is about us after all").click().run()
    assert not page.exception
    with store.connect(config.db_path) as db:
        assert corrections.of_mention(db, ms[0].id) == {"relevance": corrections.ABOUT}
        assert corrections.relevance_data(db) == [("\nMaple dropped my calls again", True)]
        assert (
            store.summary(db, store.MentionFilter(since=(NOW - timedelta(days=2)).date()))[
                "mentions"
            ]
            == 1
        )  # counted again


def test_imported_relevant_labels_train_it_too(tmp_path, capsys):
    watch, config, toml = configured(tmp_path, rule=True)
    history = tmp_path / "history.jsonl"
    lines = [f'{{"text": "{t}", "relevant": false}}' for t in TREES]
    lines += [f'{{"text": "{t}", "relevant": true}}' for t in PHONES]
    history.write_text("\n".join(lines) + "\n")
    assert main(["--config", str(toml), "corrections", "import", str(history)]) == 0
    assert main(["--config", str(toml), "train"]) == 0
    out = capsys.readouterr().out
    assert f"from {len(lines)} labelled mentions for 1 watch(es)" in out
    assert "No sentiment or intent correction yet" in out
    assert relevance.load(config.models_dir).of("Maple").labelled == len(lines)


def test_tidings_score_prints_how_sure_it_is_about_each_entity(tmp_path, capsys):
    _, _, toml = configured(tmp_path, rule=True)
    lines = tmp_path / "posts.jsonl"
    lines.write_text(
        '{"id": "s", "text": "Proudly sponsored by Maple, thank you!"}\n'
        '{"id": "t", "text": "maple syrup on pancakes"}\n'
    )
    assert main(["--config", str(toml), "score", str(lines)]) == 0
    sponsored, syrup = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert sponsored["terms"] == ["Maple"] and 0.5 <= sponsored["term_relevance"]["Maple"] <= 1
    assert syrup["terms"] == [] and syrup["set_aside"] == ["Maple"]
    assert syrup["term_relevance"]["Maple"] < 0.5


def test_many_not_about_us_marks_alone_do_not_set_every_mention_aside():
    watch = [Watch(name="Maple", terms=["maple"])]
    extract = relevance.Extractor(watch)
    marked = [
        relevance.Example(extract(f"{text} ({n})")["Maple"][0], False, None)
        for n in range(6)
        for text in TREES
    ]  # 36 marks, every one "not about us"
    unmarked = [
        relevance.Example(extract(f"{text} ({n})")["Maple"][0], True, None)
        for n in range(10)
        for text in PHONES
    ]
    model = relevance.train_watch(marked, unmarked).model
    assert model.labelled == 36 and model.calibration == (1.0, 0.0)
    ours = extract("Maple charged me twice, calls keep dropping")["Maple"][0]
    syrup = extract("maple syrup on my pancakes this morning")["Maple"][0]
    assert model.probability(ours) >= 0.5 > model.probability(syrup)


def test_what_the_model_sets_aside_is_kept_counts_nowhere_and_can_be_taken_back(
    tmp_path, monkeypatch
):
    watch, config, toml = configured(tmp_path, rule=True)
    ours = ["My Maple phone has no signal again", "Maple app keeps crashing, bill wrong"]
    ms, scores = store_scored(config, watch, TREES[:2] + ours)
    trees, phones = ms[:2], ms[2:]
    assert [scores[m.id].set_aside for m in ms] == [True, True, False, False]
    assert all(scores[m.id].terms == ("Maple",) for m in ms)  # the name each one uses
    start, end = NOW - timedelta(days=2), NOW + timedelta(days=1)
    period = store.MentionFilter(since=start.date(), until=NOW.date())
    with store.connect(config.db_path) as db:
        assert store.summary(db, period)["mentions"] == 2  # the phone network's only
        assert store.count_mentions(db, period) == 2
        assert corrections.set_aside_count(db, start, end) == 2
        assert corrections.set_aside_count(db, start, end, ["Other"]) == 0
        listed = corrections.set_aside(db, start, end)
        assert sorted(listed["id"]) == sorted(m.id for m in trees)
        assert all(p < 0.5 for p in listed["sure"]) and listed["marked_by"].isna().all()
        sent = {a["id"] for a in clients.candidate_articles(db, start)}
        assert sent == {m.id for m in phones}  # set aside: never in a client's digest

    # The Mentions page lists them beside the counted ones …
    cfg_text = TOML.format(db=config.db_path, context=RULE)
    page = open_view(monkeypatch, toml, cfg_text, "mentions")
    page.radio[0].set_value("aside").run()
    page.date_input(key="aside-period").set_value((start.date(), NOW.date())).run()
    assert not page.exception
    (table,) = page.dataframe
    assert sorted(table.value["title"].fillna("")) == ["", ""]
    assert sorted(table.value["text"]) == sorted(TREES[:2])
    assert any("name a watched term but count nowhere" in c.value for c in page.caption)
    # … and one opened says why and takes it back.
    page = open_view(monkeypatch, toml, cfg_text, "mentions", id=trees[0].id)
    assert any("Set aside: it names Maple (" in i.value for i in page.info)
    next(b for b in page.button if b.label == "It is about us after all").click().run()
    assert not page.exception
    with store.connect(config.db_path) as db:
        assert store.summary(db, period)["mentions"] == 3
        assert corrections.set_aside_count(db, start, end) == 1
        assert (f"\n{TREES[0]}", True) in corrections.relevance_data(db)
        # A person's "not about us" lists it too, with who marked it.
        corrections.correct(db, phones[0].id, "ana", NOW, not_about=True)
        listed = corrections.set_aside(db, start, end)
        assert dict(zip(listed["id"], listed["marked_by"].fillna(""), strict=True)) == {
            trees[1].id: "",
            phones[0].id: "ana",
        }
