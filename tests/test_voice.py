"""Share of voice per week, from the daily rollups' counts."""

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from data import store
from data.records import Mention, Score
from data.voice import weekly_share
from tests.conftest import make_config
from tests.test_dashboard import filled  # noqa: F401 (fixture)


def test_weeks_start_on_monday_and_shares_add_up_to_one():
    daily = pd.DataFrame({
        "day": [date(2026, 11, 16), date(2026, 11, 22), date(2026, 11, 22), date(2026, 11, 23)],
        "term": ["Nimbus Notes", "Nimbus Notes", "Quillpad", "Quillpad"],
        "mentions": [3, 1, 4, 2], "negative": [3, 0, 1, 0], "positive": [0, 1, 1, 2],
    })  # fmt: skip
    weekly = weekly_share(daily)
    rows = {(r.week.date(), r.term): r for r in weekly.itertuples()}
    ours = rows[(date(2026, 11, 16), "Nimbus Notes")]  # Monday 16th to Sunday 22nd
    assert ours.mentions == 4 and ours.share == pytest.approx(0.5)
    assert ours.net_feeling == pytest.approx((1 - 3) / 4)
    theirs = rows[(date(2026, 11, 23), "Quillpad")]
    assert theirs.share == 1.0 and theirs.net_feeling == 1.0
    assert weekly.groupby("week")["share"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_no_mentions_no_weeks():
    empty = pd.DataFrame(columns=["day", "term", "mentions", "negative", "positive"])
    assert weekly_share(empty).empty


def test_share_of_voice_from_the_stores_rollups(tmp_path):
    config = make_config(tmp_path, [])
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    ms = [Mention("f", f"{i}", f"https://f.example/{i}", f"t{i}", "x", None,
                  now - timedelta(days=i % 10), None) for i in range(30)]  # fmt: skip
    scores = [Score(m.id, "v", ("Quillpad",) if i % 3 == 0 else ("Nimbus Notes",),
                    -0.5 if i % 2 else 0.5, "negative" if i % 2 else "positive")
              for i, m in enumerate(ms)]  # fmt: skip
    with store.connect(config.db_path) as db:
        store.upsert_mentions(db, ms, now)
        store.upsert_scores(db, scores, now)
        daily = store.mentions_per_day(db, store.MentionFilter())
    weekly = weekly_share(daily)
    assert weekly["mentions"].sum() == 30
    assert weekly.groupby("term")["mentions"].sum().to_dict() == {
        "Nimbus Notes": 20,
        "Quillpad": 10,
    }


def test_the_overview_shows_each_terms_weekly_share_and_net_feeling(filled):  # noqa: F811
    import json

    from tests.test_dashboard import page

    at = page("overview")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    share, feeling = specs[3], specs[4]
    assert share["encoding"]["y"]["field"] == "share"
    assert share["encoding"]["color"]["scale"] == specs[0]["encoding"]["color"]["scale"]
    line = feeling["layer"][0]
    assert line["encoding"]["y"]["field"] == "net_feeling"
    assert line["encoding"]["y"]["scale"]["domain"] == [-1, 1]
    # The chart's rows: every week's shares add up to one, over the Overview's mentions.
    import pyarrow as pa

    data = at.get("vega_lite_chart")[3].proto.datasets[0].data.data
    rows = pa.ipc.open_stream(data).read_pandas()
    assert rows.groupby("week")["share"].sum().tolist() == pytest.approx(
        [1.0] * rows["week"].nunique()
    )
    per_day = at.get("vega_lite_chart")[0].proto.datasets[0].data.data
    assert rows["mentions"].sum() == pa.ipc.open_stream(per_day).read_pandas()["mentions"].sum()
    assert set(rows["term"]) <= {"Nimbus Notes", "Nimbus Sync", "Quillpad"} and len(rows) > 1
