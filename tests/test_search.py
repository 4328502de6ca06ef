"""The Mentions page's text filter (data.search): what it finds is what a plain scan of the
mentions' titles and texts, lower-cased, finds: partial words, any case, non-ASCII letters,
punctuation; kept true as readings change; filled into a store made before it."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from data import corrections, rollups, store
from data.records import Mention, Score
from tests.conftest import open_view

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

WORDS = [
    "Nimbus", "Notes", "outage", "OUTAGES", "Outage:", "sync", "refund", "down", "100%",
    "ÉCHEC", "échec", "Straße", "STRASSE", "Ελληνικά", "ΣΟΦΊΑ", "σοφία", "İstanbul", "ıi",
    "Ñandú", "日本語", "テスト", "emoji🙂", "naïve", "NAÏVE", "a_b", "c%d", "x.y", "e-mail",
    "\"quoted\"", "it's", "can't", "line\nbreak", "tab\tstop", "  ",
]  # fmt: skip
NEEDLES = [
    "outage", "OUTAGE", "Outage", "tage", "utag", "age out", "outage:", "nimbus notes",
    "échec", "ÉCHEC", "Échec", "chec", "straße", "STRASSE", "strasse", "ελληνικά", "ΕΛΛΗΝΙΚΆ",
    "σοφία", "ΣΟΦΊΑ", "istanbul", "İstanbul", "stanbul", "ñandú", "ÑANDÚ", "日本", "テ",
    "🙂", "naïve", "NAÏVE", "naive", "100%", "%", "_", "a_b", "c%d", "x.y", ".", "e-mail",
    "\"", "'", "it's", "can't", "line\nbreak", "k\nb", "\n", "tab\tstop", "\t", "s n",
    " refund ", "zzqx", "a",
]  # fmt: skip


def corpus(n: int, seed: int = 13) -> list[Mention]:
    """n mentions of random words from WORDS, over the last 40 days."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        title = " ".join(rng.choices(WORDS, k=rng.randint(0, 4)))
        text = " ".join(rng.choices(WORDS, k=rng.randint(1, 12)))
        published = NOW - timedelta(hours=rng.randint(0, 40 * 24))
        out.append(Mention("blog", f"m{i}", f"https://x.example/{i}", title, text, None, published))
    return out


def score(m: Mention, sentiment: float = -0.5, version: str = "v1") -> Score:
    label = "positive" if sentiment > 0 else "negative"
    return Score(m.id, version, ("Nimbus Notes",), sentiment, label)


def plain_scan(db, f: store.MentionFilter) -> list[str]:
    """The mentions the filter keeps, by a plain scan of the words: each mention's title and
    text lower-cased, the needle as the filter takes it (trimmed, lower-cased), newest first."""
    needle = f.text.strip().lower()
    rows = db.execute(
        """
        SELECT r.mention_id FROM readings r JOIN mentions m ON m.id = r.mention_id
        WHERE m.published >= ? AND m.published < ?::DATE + INTERVAL 1 DAY
          AND (contains(lower(m.title), ?) OR contains(lower(m.text), ?))
        ORDER BY r.published DESC, r.mention_id
        """,
        [f.since, f.until, needle, needle],
    ).fetchall()
    return [i for (i,) in rows]


def found(db, f: store.MentionFilter) -> list[str]:
    return store.find_mentions(db, f)["id"].tolist()


@pytest.fixture
def searched(tmp_path):
    mentions = corpus(400)
    path = tmp_path / "t.duckdb"
    with store.connect(path) as db:
        store.upsert_mentions(db, mentions, NOW)
        # Most scored; a few never are (no reading: never listed).
        store.upsert_scores(db, [score(m) for m in mentions[:380]], NOW)
    return path, mentions


@pytest.mark.parametrize("needle", NEEDLES)
def test_search_finds_what_a_plain_scan_of_the_words_finds(searched, needle):
    path, _ = searched
    f = store.MentionFilter(
        since=(NOW - timedelta(days=29)).date(), until=NOW.date(), text=needle, limit=1000
    )
    with store.connect(path) as db:
        expected = plain_scan(db, f)
        assert found(db, f) == expected
        assert store.count_mentions(db, f) == len(expected)
        # A page at a time too, the last one short.
        pages = [found(db, store.MentionFilter(**{**_fields(f), "limit": 7, "offset": o}))
                 for o in range(0, len(expected) + 7, 7)]  # fmt: skip
        assert [i for p in pages for i in p] == expected


def _fields(f: store.MentionFilter) -> dict:
    return {k: getattr(f, k) for k in f.__slots__}


def test_search_ignores_case_in_any_alphabet_and_finds_parts_of_words(tmp_path):
    said = {
        "a": ("Status", "Nimbus OUTAGES across Europe"),
        "b": ("ÉCHEC de la synchro", "rien"),
        "c": ("Σχόλιο", "Η ΣΟΦΊΑ του Nimbus"),
        "d": ("Straße", "Nimbus in der Straße"),
        "e": ("Refund?", "I want my money back!"),
    }
    mentions = [
        Mention("blog", k, f"https://x.example/{k}", title, text, None, NOW)
        for k, (title, text) in said.items()
    ]
    with store.connect(tmp_path / "t.duckdb") as db:
        store.upsert_mentions(db, mentions, NOW)
        store.upsert_scores(db, [score(m) for m in mentions], NOW)

        def titles(text: str) -> set[str]:
            return set(store.find_mentions(db, store.MentionFilter(text=text))["title"])

        assert titles("outage") == {"Status"}  # a part of a word, another case
        assert titles("échec") == titles("ÉCHEC") == {"ÉCHEC de la synchro"}
        assert titles("σοφία") == {"Σχόλιο"}
        assert titles("STRASSE") == set()  # as a plain scan: ß is not ss
        assert titles("straße") == {"Straße"}
        assert titles("  REFUND  ") == {"Refund?"}  # trimmed
        assert titles("money back!") == {"Refund?"}
        assert titles("nimbus") == {"Status", "Σχόλιο", "Straße"}
        assert titles("synchro\nrien") == set()  # title and text are searched apart


def test_the_kept_words_follow_corrections_rescoring_and_a_rebuild(searched):
    path, mentions = searched
    f = store.MentionFilter(text="outage", limit=1000)
    with store.connect(path) as db:
        before = found(db, f)
        assert before == plain_scan(db, replace_period(f))
        gone, rescored = before[0], before[1]
        corrections.correct(db, gone, "ann", NOW, not_about=True)  # no reading any more
        corrections.correct(db, rescored, "ann", NOW, sentiment="positive")
        by_id = {m.id: m for m in mentions}
        store.upsert_scores(db, [score(by_id[rescored], 0.9, "v2")], NOW)
        # One never scored before, now scored: found from now on.
        unscored = [m for m in mentions[380:] if "outage" in (m.title + m.text).lower()]
        store.upsert_scores(db, [score(m) for m in unscored], NOW)
        after = found(db, f)
        assert gone not in after and rescored in after
        assert {m.id for m in unscored} <= set(after)
        assert after == plain_scan(db, replace_period(f))
        assert stale_words(db) == 0
        rollups.rebuild(db)
        assert found(db, f) == after and stale_words(db) == 0


def stale_words(db) -> int:
    """Readings whose kept words are not their mention's title and text, lower-cased."""
    (n,) = db.execute(
        "SELECT count(*) FROM readings r JOIN mentions m ON m.id = r.mention_id "
        "WHERE r.search_text IS DISTINCT FROM lower(m.title) || chr(10) || lower(m.text)"
    ).fetchone()
    return n


def replace_period(f: store.MentionFilter) -> store.MentionFilter:
    """The filter over every date (the plain scan needs bounds)."""
    return store.MentionFilter(
        **{**_fields(f), "since": (NOW - timedelta(days=400)).date(), "until": NOW.date()}
    )


def test_a_store_made_before_the_kept_words_gets_them_when_opened(searched):
    path, _ = searched
    f = store.MentionFilter(text="échec", limit=1000)
    with store.connect(path) as db:
        expected = found(db, f)
        assert expected == plain_scan(db, replace_period(f)) and expected
        # As the store was at schema 22: no kept words.
        db.execute("ALTER TABLE readings DROP COLUMN search_text")
        db.execute("DELETE FROM schema_migrations WHERE version = 23")
    store._migrated.discard(path.resolve())
    with store.connect(path) as db:
        missing = db.execute("SELECT count(*) FROM readings WHERE search_text IS NULL")
        assert missing.fetchone() == (0,)
        assert found(db, f) == expected


def test_the_mentions_page_lists_and_counts_what_the_search_finds(searched, tmp_path, monkeypatch):
    path, _ = searched
    toml = f'[database]\npath = "{path}"\n'
    at = open_view(monkeypatch, tmp_path / "tidings.toml", toml, "mentions")
    assert not at.exception
    at.text_input[0].set_value("OUTAGE").run()
    assert not at.exception
    f = store.MentionFilter(
        since=date.today() - timedelta(days=29),  # the page's own default period
        until=date.today(),
        text="OUTAGE",
    )
    with store.connect(path) as db:
        expected = plain_scan(db, f)
    assert expected
    shown = at.dataframe[0].value
    assert shown["id"].tolist() == expected[:100]
    (said,) = [c.value for c in at.caption if "published in the period" in c.value]
    assert said.startswith(f"{len(expected):,} mention(s)")
