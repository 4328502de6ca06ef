"""Mastodon through recorded hashtag timelines and search served from 127.0.0.1."""

from werkzeug import Response

from collectors import mastodon
from data.records import SourceState
from tests.conftest import collect_with, fast_source, recorded


def serve(httpserver, search_needs_token: bool = True):
    httpserver.expect_request("/api/v1/timelines/tag/nimbusnotes").respond_with_handler(
        lambda r: Response(recorded("mastodon/tag.json"), content_type="application/json")
    )

    def search(request):
        if search_needs_token and request.headers.get("Authorization") != "Bearer tok":
            return Response('{"error":"The access token is invalid"}', status=401)
        return Response(recorded("mastodon/search.json"), content_type="application/json")

    httpserver.expect_request("/api/v2/search").respond_with_handler(search)
    return fast_source("mastodon", None, instances=[httpserver.url_for("")])


def test_hashtag_timeline_resolves_boosts_and_skips_broken_statuses(httpserver, monkeypatch):
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    fetched = collect_with(mastodon.collect, serve(httpserver))
    assert fetched.error is None and fetched.skipped == 1
    by_author = {m.author: m for m in fetched.mentions}
    assert set(by_author) == {"@dana@fosstodon.example", "@kai@social.example"}
    dana = by_author["@dana@fosstodon.example"]
    assert dana.text == "We just shipped offline mode in #NimbusNotes 🎉"
    assert dana.reach == 5400 and dana.shared_url == "https://blog.nimbusnotes.example/offline"
    assert dana.url == "https://fosstodon.example/@dana/113500000000000003"
    boosted = by_author["@kai@social.example"]
    assert boosted.native_id == "https://social.example/users/kai/statuses/113499999999999999"
    assert boosted.text == "Is #nimbusnotes down for anyone else? Sync isn't working."
    host = httpserver.url_for("").split("//")[1].rstrip("/")
    assert fetched.cursors == {f"{host} tag nimbusnotes": "113500000000000003"}
    assert [r.path for r, _ in httpserver.log] == ["/api/v1/timelines/tag/nimbusnotes"]


def test_next_pass_asks_only_for_newer_statuses(httpserver, monkeypatch):
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    source = serve(httpserver)
    first = collect_with(mastodon.collect, source)
    httpserver.clear_log()
    collect_with(mastodon.collect, source, state=SourceState("mastodon", cursors=first.cursors))
    assert httpserver.log[0][0].args["since_id"] == "113500000000000003"


def test_full_text_search_with_a_token(httpserver, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "tok")
    fetched = collect_with(mastodon.collect, serve(httpserver))
    assert fetched.error is None
    assert "@priya@127.0.0.1" in {m.author for m in fetched.mentions}  # local: its instance
    search = [r for r, _ in httpserver.log if r.path == "/api/v2/search"][0]
    assert search.args["q"] == "Nimbus Notes" and search.args["type"] == "statuses"


def test_a_refused_token_marks_the_source(httpserver, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "expired")
    fetched = collect_with(mastodon.collect, serve(httpserver))
    assert fetched.needs_credentials and "MASTODON_TOKEN" in fetched.error
    assert "expired" not in fetched.error


def test_hashtags_come_from_watched_terms():
    assert mastodon.hashtag("Nimbus Notes") == "nimbusnotes"
    assert mastodon.hashtag("@quillpad") == "quillpad"


def test_accounts_of_the_instance_itself_are_stored_with_their_instance(httpserver, monkeypatch):
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    httpserver.expect_request("/api/v1/timelines/tag/nimbusnotes").respond_with_handler(
        lambda r: Response(recorded("mastodon/tag_local.json"), content_type="application/json")
    )
    source = fast_source("mastodon", None, instances=[httpserver.url_for("")])
    fetched = collect_with(mastodon.collect, source)
    assert fetched.error is None
    # Mira's account gives its own address; Tomás's (boosted) does not: the instance we read.
    assert {m.author for m in fetched.mentions} == {"@mira@mastodon.example", "@tomas@127.0.0.1"}


def test_a_status_whose_id_is_beyond_64_bits_is_skipped_and_leaves_the_cursor(httpserver):
    """The cursor is the newest id seen: one absurd id would have every later pass ask for
    statuses after it, finding none, ever again."""
    import json
    from datetime import UTC, datetime

    def status(status_id: object, n: int) -> dict:
        return {
            "id": status_id, "uri": f"https://m.example/{n}", "content": "<p>Nimbus Notes</p>",
            "created_at": datetime.now(UTC).isoformat(), "account": {"acct": f"a{n}@m.example"},
        }  # fmt: skip

    statuses = [status("9" * 30, 1), status(1.5e300, 2), status(True, 3), status("110", 4)]
    httpserver.expect_request("/api/v1/timelines/tag/nimbusnotes").respond_with_data(
        json.dumps(statuses), content_type="application/json"
    )
    fetched = collect_with(
        mastodon.collect, fast_source("mastodon", None, instances=[httpserver.url_for("")])
    )
    assert fetched.error is None and fetched.skipped == 3 and len(fetched.mentions) == 1
    assert list(fetched.cursors.values()) == ["110"]


def test_a_pleroma_instance_with_flake_ids_is_read_and_its_cursor_kept(httpserver):
    """Pleroma and Akkoma speak Mastodon's API but number statuses with flake ids (base 62,
    ordered by time): their statuses are read, the cursor is the newest, and the next pass
    asks for what follows it; the pages run on from the oldest of the last page."""
    import json
    from datetime import UTC, datetime

    def status(status_id: str, n: int) -> dict:
        return {
            "id": status_id, "uri": f"https://p.example/objects/{n}",
            "content": f"<p>Nimbus Notes {n}</p>", "created_at": datetime.now(UTC).isoformat(),
            "account": {"acct": f"a{n}@p.example"},
        }  # fmt: skip

    newest, older, oldest = "AdGq2mJ3lS2FLtd2cK", "AdGq2mJ3lS2FLtd2Zz", "9zzzzzzzzzzzzzzzzz"
    page = [status(newest, 1), status(older, 2), status(oldest, 3), status("bad id!", 4)]
    tag = "/api/v1/timelines/tag/nimbusnotes"
    httpserver.expect_request(tag).respond_with_data(
        json.dumps(page), content_type="application/json"
    )
    source = fast_source("mastodon", None, instances=[httpserver.url_for("")])
    first = collect_with(mastodon.collect, source)
    assert first.error is None and first.skipped == 1 and len(first.mentions) == 3
    assert list(first.cursors.values()) == [newest]
    httpserver.clear_log()
    collect_with(mastodon.collect, source, state=SourceState("mastodon", cursors=first.cursors))
    assert httpserver.log[0][0].args["since_id"] == newest


def test_ids_are_ordered_as_their_instance_numbers_them():
    order = sorted(["110", "9", "AdGq2mJ3lS2FLtd2cK", "9zzzzzzzzzzzzzzzzz", "AdGq2mJ3lS2FLtd2Zz"],
                   key=mastodon.id_order)  # fmt: skip
    assert order == ["9", "110", "9zzzzzzzzzzzzzzzzz", "AdGq2mJ3lS2FLtd2Zz", "AdGq2mJ3lS2FLtd2cK"]
