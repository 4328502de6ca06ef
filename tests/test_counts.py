"""Counts that could disagree say what they count: posts about watched terms, articles kept for
client digests only (status), stories in a period (Overview), posts (Mentions, Inbox)."""

from data import store
from data.records import Score
from flows.cli import main
from tests.conftest import make_config
from tests.test_push import ARTICLES, MONDAY


def test_status_tells_mentions_from_articles_kept_for_digests(tmp_path, capsys):
    config = make_config(tmp_path, [{"id": "industry-blog", "url": "https://b.example/f"}])
    about_us = ARTICLES[:2]  # say these two name a watched term; the other three do not
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, ARTICLES, MONDAY, knowledge=frozenset({"industry-blog"}))
        store.upsert_scores(
            db, [Score(m.id, "v", ("Nimbus Notes",), 0.0, "neutral") for m in about_us], MONDAY
        )
    path = tmp_path / "tidings.toml"
    path.write_text(f'[database]\npath = "{config.db_path}"\n')
    assert main(["--config", str(path), "status"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("Mentions:"))
    assert line == (
        "Mentions: 2 about watched terms (every post on every source, whenever published); "
        "3 more article(s) kept for client digests only"
    )
