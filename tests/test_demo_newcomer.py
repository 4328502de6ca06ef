"""What a newcomer meets on the demo's pages, beyond the issue's browser tests."""

from tests.test_dashboard import filled, page  # noqa: F401 — the demo-filled store fixture


def test_the_mentions_list_shows_what_each_mention_says_beside_its_date(filled):  # noqa: F811
    """The list is wider than a laptop's screen and cut at its right edge: the title, what a
    person reads first, comes right after the date, not after eight other columns."""
    at = page("mentions")
    columns = list(at.dataframe[0].proto.column_order)
    assert columns[:2] == ["published", "title"], columns
    shown = at.dataframe[0].value
    assert shown["title"].str.contains("Nimbus Notes|NimbusNotes|Quillpad").any()


def test_the_demo_names_the_cli_as_it_can_be_typed_again(tmp_path, monkeypatch):
    """After `make demo` the venv is not on PATH: the demo's hint names `.venv/bin/tidings`."""
    from flows.demo import typed_command

    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "tidings").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [".venv/bin/tidings", "demo"])
    assert typed_command() == ".venv/bin/tidings"
    monkeypatch.setattr("sys.argv", [str(tmp_path / ".venv" / "bin" / "tidings"), "demo"])
    assert typed_command() == "tidings"  # found on PATH: an activated venv
