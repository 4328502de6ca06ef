"""Near-duplicates: copies grouped into one story, independent mentions kept apart, across
passes through the real flow's store step and a real DuckDB file."""

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from data import store, text
from data.records import Mention
from data.text import canonical_url
from flows.pipeline import store_pass
from nlp import build_scorer, duplicates
from tests.conftest import make_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ARTICLE = (
    "Nimbus Notes has published a post-mortem of last week's sync outage. The company says a "
    "faulty database migration left notes unsynced for up to nine hours for about a fifth of its "
    "users, and that no notes were permanently lost."
)
POST = "Nimbus Notes lost a week of my notes after the update and support has not replied in days"


def sig(text: str) -> bytes | None:
    return build_scorer([]).score_text(text).fingerprint


def test_copies_are_similar_and_different_texts_are_not():
    syndicated = "From our partners: " + ARTICLE.replace("says", "said")
    retweet = f"RT @ana: {POST}!! https://t.co/abc"
    assert duplicates.similarity(sig(ARTICLE), sig(syndicated)) >= duplicates.SIMILAR
    assert duplicates.similarity(sig(POST), sig(retweet)) >= duplicates.SIMILAR
    other = "Nimbus Notes shipped a new sync engine today with faster uploads and a new sidebar"
    assert duplicates.similarity(sig(POST), sig(other)) < 0.2
    # Same complaint, own words: two people, two stories.
    own = "After the update Nimbus Notes ate a whole week of my notes and nobody at support answers"
    assert duplicates.similarity(sig(POST), sig(own)) < duplicates.SIMILAR
    assert sig("Nimbus Notes is down again") is None  # too short to call a copy


def test_group_joins_the_nearest_stored_or_earlier_copy():
    a, b, c = sig(ARTICLE), sig("Update: " + ARTICLE), sig(POST)
    d = sig(POST + " +1")
    incoming = [("m1", b, "site-b/1"), ("m2", c, "site-c/2"), ("m3", d, "site-d/3")]
    bands = duplicates.band_keys([b, c, d])
    # The store found that m1 shares a band with a stored head (index 0 of incoming).
    grouped = duplicates.group(incoming, bands, stored=[(0, a, "site-a/article")])
    assert grouped.keys == {"m1": "site-a/article", "m2": "site-c/2", "m3": "site-c/2"}
    assert list(grouped.heads) == ["m2"]  # the only new story; its bands are stored with it
    # A mention whose own link is already a stored story keeps it.
    grouped = duplicates.group([("m4", c, "site-a/article")], duplicates.band_keys([c]),
                               existing=["site-a/article"])  # fmt: skip
    assert grouped.keys == {"m4": "site-a/article"} and grouped.heads == {}


def test_a_syndicated_story_counts_once_and_shows_also_on(tmp_path):
    config = make_config(tmp_path, [])
    scorer = build_scorer(config.watch)
    first = [Mention("technews", "1", "https://technews.example/a", "Post-mortem", ARTICLE, None,
                     NOW - timedelta(hours=5))]  # fmt: skip
    later = [
        Mention("startup-news", "9", "https://startup.example/x", "Nimbus explains",
                "Reported by staff. " + ARTICLE, None, NOW - timedelta(hours=2)),
        Mention("forum", "2", "https://forum.example/2", "", POST, "bo", NOW - timedelta(hours=1)),
        Mention("forum", "3", "https://forum.example/3", "", "Nimbus Notes is down again", "cy",
                NOW - timedelta(hours=1)),
    ]  # fmt: skip
    for batch in (first, later):  # two passes: the copy arrives after the original is stored
        store_pass(config, [], [], scorer.score(batch), {}, NOW)
    with store.connect(config.db_path) as db:
        f = store.MentionFilter(since=(NOW - timedelta(days=1)).date())
        assert store.summary(db, f)["mentions"] == 3  # 4 mentions, 3 stories
        rows = store.find_mentions(db, f)
    also = dict(zip(rows["source"], rows["also_on"], strict=True))
    assert also["technews"] == 1 and also["startup-news"] == 1 and also["forum"] == 0


def test_mentions_stored_before_fingerprints_get_them_once(tmp_path):
    config = make_config(tmp_path, [])
    m = Mention("forum", "1", "https://forum.example/1", "", POST, "bo", NOW)
    fp = sig(POST)
    (bands,) = duplicates.band_keys([fp])
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, [m], NOW)  # as before migration 010: no fingerprint
        assert store.story_heads(db, [bands], NOW - timedelta(days=1)).pairs() == []
        store.fill_fingerprints(db, {m.id: fp}, {m.id: bands})
        other = b"x" * duplicates.SIGNATURE_BYTES
        store.fill_fingerprints(db, {m.id: other}, {m.id: bands})  # never replaced
        found = store.story_heads(db, [[1, 2], bands], NOW - timedelta(days=1)).pairs()
        assert found == [(1, fp, store.story_key(m))]
        assert store.story_heads(db, [bands], NOW + timedelta(days=1)).pairs() == []  # too old


def test_story_heads_bands_are_kept_in_their_own_table_equal_to_a_rebuild(tmp_path, monkeypatch):
    """story_bands (migration 021) holds each head's band keys: kept on write, filled for a
    store that had none, and searched in parts that find what one search finds."""
    config = make_config(tmp_path, [])
    scorer = build_scorer(config.watch)
    texts = [ARTICLE, POST, "Reported by staff. " + ARTICLE, POST + " Again and again."]
    batches = [
        [Mention("blog", f"{b}-{i}", f"https://blog.example/{b}/{i}", "", f"{t} ({b}{i})",
                 None, NOW - timedelta(hours=b)) for i, t in enumerate(texts)]
        for b in range(3)
    ]  # fmt: skip
    for batch in batches:
        store_pass(config, [], [], scorer.score(batch), {}, NOW)
    order = "SELECT * FROM story_bands ORDER BY ALL"
    with store.connect(config.db_path) as db:
        kept = db.execute(order).fetchall()
        heads = db.execute("SELECT count(*) FROM mentions WHERE bands IS NOT NULL").fetchone()[0]
        assert 0 < heads < 12 and len(kept) == heads * duplicates.BANDS
        store.rebuild_story_bands(db)
        assert db.execute(order).fetchall() == kept
        # A store from before migration 021 gets them when migrated.
        db.execute("DROP TABLE story_bands")
        db.execute("DELETE FROM schema_migrations WHERE version = 21")
        db.execute("ALTER TABLE daily_terms DROP COLUMN sentiment_units")
        db.execute("ALTER TABLE daily_sources DROP COLUMN sentiment_units")
        store.migrate(db)
        assert db.execute(order).fetchall() == kept
        bands = duplicates.band_keys([s.fingerprint for _, s in scorer.score(batches[0])])
        whole = store.story_heads(db, bands, NOW - timedelta(days=1)).pairs()
        monkeypatch.setattr(store, "PAIRS_AT_ONCE", 1)  # one new mention at a time
        assert store.story_heads(db, bands, NOW - timedelta(days=1)).pairs() == whole
        assert {i for i, _, _ in whole} == {0, 1, 2, 3}


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    host=st.from_regex(
        r"(www\.)?[a-zA-Z0-9-]{1,8}(\.[a-z0-9-]{1,5}){0,2}(:[0-9]{1,4})?", fullmatch=True
    ),
    path=st.from_regex(r"(/[a-z0-9._~%-]{0,6}){0,3}/?", fullmatch=True),
    tail=st.sampled_from(["", "?", "?a=1", "?utm_source=x&b=2", "#frag", " ", "\t"]),
)
def test_links_spelled_as_stories_key_them_already_are_taken_as_they_are(scheme, host, path, tail):
    """The quick look at a link already spelled canonically keeps every link's key as
    splitting it would."""
    url = f"{scheme}://{host}{path}{tail}"
    assert canonical_url(url) == text._canonical_parts(url)
    assert canonical_url(canonical_url(url)) == canonical_url(url)


def _group_plainly(incoming, bands, stored, existing):
    """group() as first written: every mention searched in an index of every head."""
    by_index: dict[int, list[int]] = {}
    for k, (i, _, _) in enumerate(stored):
        by_index.setdefault(i, []).append(k)
    taken, index, keys, heads = set(existing), duplicates.Index(), {}, {}
    for i, ((mention_id, sig, own), own_bands) in enumerate(zip(incoming, bands, strict=True)):
        key = own if own in taken else None
        if key is None and i in by_index:
            share, best = max((duplicates.similarity(sig, stored[k][1]), stored[k][2])
                              for k in by_index[i])  # fmt: skip
            key = best if share >= duplicates.SIMILAR else None
        if key is None:
            key = index.story_of(sig, own_bands)
        if key is None:
            key = own
            index.add(sig, key, own_bands)
            heads[mention_id] = own_bands
        keys[mention_id] = key
        taken.add(key)
    return keys, heads


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    originals=st.integers(1, 12),
    copies=st.integers(0, 150),
    changed=st.integers(0, 40),
    links=st.integers(1, 400),
)
def test_grouping_a_batch_finds_the_stories_a_search_of_every_mention_finds(
    seed, originals, copies, changed, links
):
    """group() searches its index only for mentions sharing a band with an earlier one, and
    indexes only heads sharing one with a later one: the stories are those of searching and
    indexing every mention, also with boilerplate filling buckets past BUCKET_CAP."""
    import numpy as np

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, (originals, duplicates.HASHES), dtype=np.uint32)
    sigs = []
    for n in range(originals + copies):
        row = base[n % originals].copy()
        if n >= originals:  # a near or far copy: some values of the original changed
            at = rng.choice(
                duplicates.HASHES, size=int(rng.integers(0, changed + 1)), replace=False
            )
            row[at] = rng.integers(0, 2**32, len(at), dtype=np.uint32)
        sigs.append(row.astype("<u4").tobytes())
    order = rng.permutation(len(sigs))
    incoming = [(f"m{i}", sigs[j], f"link{rng.integers(0, links)}") for i, j in enumerate(order)]
    bands = duplicates.band_keys([s for _, s, _ in incoming])
    stored = [(int(i), sigs[int(rng.integers(0, len(sigs)))], f"stored{k}")
              for k, i in enumerate(rng.integers(0, len(incoming), 5))]  # fmt: skip
    existing = [f"link{k}" for k in range(0, links, 7)]
    keys, heads = _group_plainly(incoming, bands, stored, existing)
    for given_bands, at_once in ((bands, duplicates.PAIRS_AT_ONCE),
                                 (duplicates.band_array([s for _, s, _ in incoming]), 7)):  # fmt: skip
        with (
            patch.object(duplicates, "PAIRS_AT_ONCE", at_once),  # compared in parts, or not
            patch.object(duplicates, "STORED_PAIRS_AT_ONCE", min(at_once, 2)),
        ):
            grouped = duplicates.group(incoming, given_bands, stored, existing)
        assert grouped.keys == keys
        assert {m: list(map(int, b)) for m, b in grouped.heads.items()} == heads
    # The stored heads as the store gives them to a pass: arrays, each head once.
    unique = sorted({(sig, key) for _, sig, key in stored})
    as_arrays = store.StoryHeads(
        np.array([i for i, _, _ in stored], np.int32),
        np.array([unique.index((sig, key)) for _, sig, key in stored], np.int32),
        [sig for sig, _ in unique],
        [key for _, key in unique],
    )
    assert as_arrays.pairs() == stored
    for at_once in (duplicates.STORED_PAIRS_AT_ONCE, 2, 1):  # stored heads compared in parts
        with patch.object(duplicates, "STORED_PAIRS_AT_ONCE", at_once):
            assert duplicates.group(incoming, bands, as_arrays, existing).keys == keys
