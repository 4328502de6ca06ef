"""Trying before doing: `tidings push --dry-run` sends and records nothing; `tidings train`
without corrections refuses instead of making a new model version."""

from dataclasses import replace
from datetime import timedelta

from data import clients, store
from data.clients import Client
from flows.cli import main
from nlp import model
from tests.test_push import ALICE, ARTICLES, setup


def config_file(tmp_path, config) -> str:
    path = tmp_path / "tidings.toml"
    path.write_text(
        f'[database]\npath = "{config.db_path}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {config.smtp.port}\nsecurity = "none"\n'
        '[[sources]]\nid = "industry-blog"\nurl = "https://blog.example/feed"\nknowledge = true\n'
    )
    return str(path)


def test_push_dry_run_shows_each_digest_and_sends_nothing(tmp_path, smtp, capsys):
    now = store.utcnow()
    fresh = [replace(a, published=now - timedelta(hours=5)) for a in ARTICLES]
    instant = ALICE.model_copy(update={"cadence": "instant"})
    paused = Client(id="pat", name="Pat", email="pat@example.com", interests=["remote work"],
                    status="paused")  # fmt: skip
    config = setup(tmp_path, smtp, instant, paused, articles=fresh)
    path = config_file(tmp_path, config)
    assert main(["--config", path, "push", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "alice: would send 2 article(s) to alice@example.com:"
    assert "  - Remote work policies that actually work in 2026 (industry-blog)" in out
    assert "pat: not now (the client is paused)" in out
    with store.connect(config.db_path) as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
        assert not clients.delivered_ids(db, "alice")
    assert smtp.messages == []


def test_push_names_an_unknown_client(tmp_path, smtp, capsys):
    config = setup(tmp_path, smtp, ALICE)
    path = config_file(tmp_path, config)
    assert main(["--config", path, "push", "--client", "alcie", "--now"]) == 2
    err = capsys.readouterr().err
    assert err == "tidings: error: --client: no client with id 'alcie' (clients: alice)\n"


def test_train_without_corrections_refuses_and_keeps_the_model(tmp_path, smtp, capsys):
    config = setup(tmp_path, smtp)
    path = config_file(tmp_path, config)
    assert main(["--config", path, "train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tidings: error: nothing to learn from yet: no correction")
    assert "`tidings corrections import FILE`" in err and err.count("\n") == 1
    assert model.current(config.models_dir).version == "linear-base"
