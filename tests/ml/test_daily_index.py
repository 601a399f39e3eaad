"""The daily index is incremental: a score run rewrites only the (stock, session) rows that changed.

Checked by Postgres row identity (each row's ctid and xmin): a row that is not rewritten keeps both.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from finsent.config import load_settings
from finsent.data.quality import check_quality
from finsent.ingest.importer import import_prices
from finsent.ingest.records import KST
from finsent.ml.score import score_posts
from finsent.ml.spec import ScoreSpec
from finsent.ml.train import train_model
from tests.data.board import add_posts, post, query

OPENING = time(9, tzinfo=KST)
IDENTITY = "SELECT ticker, session_date, ctid::text, xmin::text FROM daily_sentiment ORDER BY 1, 2"


def identities(engine) -> dict[tuple, tuple]:
    return {(t, d): (ctid, xmin) for t, d, ctid, xmin in query(engine, IDENTITY)}


def rewritten(before: dict, after: dict) -> set[tuple]:
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def score(engine, version: int):
    return score_posts(load_settings(), engine, ScoreSpec(alias=str(version)))


def scratch_rewrites(engine, version: int) -> int:
    """A from-scratch refresh over the incremental result: it rewrites nothing if the two agree."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM daily_sentiment_state")
    return score(engine, version).index_rewritten


@pytest.fixture
def scored(engine, planted) -> int:
    """The version whose index is built (a next_session model is never champion: scored by number)."""
    version = train_model(load_settings(), engine, planted, "baseline").version
    first = score(engine, version)
    assert first.index_rows > 0 and first.index_rewritten == first.index_rows  # the first build writes all
    return version


def test_new_posts_rewrite_only_their_sessions(engine, scored):
    before = identities(engine)
    sessions = sorted({d for t, d in before if t == "005930"})
    middle, last = sessions[30], sessions[-1]
    # two posts the evening before an existing session, one after the last session (a new row)
    evening = datetime.combine(sessions[29], datetime.min.time()) + timedelta(hours=20)
    late = datetime.combine(last, datetime.min.time()) + timedelta(hours=18)
    add_posts(engine, [post("005930", evening, "내일 반등 가즈아 새글"), post("005930", evening, "손절 각 새글"),
                       post("000660", late, "다음 세션 새글 매수")])
    report = score(engine, scored)
    assert report.scored == 3
    after = identities(engine)
    changed = rewritten(before, after)
    assert ("005930", middle) in changed and len([k for k in changed if k[0] == "000660" and k not in before]) == 1
    assert len(changed) == 2 == report.index_rewritten  # nothing else was touched
    (n_posts,), = query(engine, "SELECT n_posts FROM daily_sentiment WHERE ticker = '005930' AND session_date = :d",
                        d=middle)
    (expected,), = query(engine, "SELECT count(*) FROM posts p WHERE ticker = '005930' AND posted_at >= :a AND "
                                 "posted_at < :b AND NOT EXISTS (SELECT 1 FROM post_flags f WHERE f.ticker = p.ticker "
                                 "AND f.post_id = p.post_id)",
                         a=datetime.combine(sessions[29], OPENING), b=datetime.combine(middle, OPENING))
    assert n_posts == expected  # the session holds its old posts and the two new ones
    assert score(engine, scored).index_rewritten == 0  # nothing new: nothing written
    assert scratch_rewrites(engine, scored) == 0


def test_a_new_flag_rewrites_only_its_post_session(engine, scored):
    before = identities(engine)
    ((ticker, post_id),) = query(engine, "SELECT p.ticker, p.post_id FROM posts p WHERE NOT EXISTS (SELECT 1 FROM "
                                         "post_flags f WHERE f.ticker = p.ticker AND f.post_id = p.post_id) "
                                         "ORDER BY p.post_id LIMIT 1 OFFSET 100")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO post_flags (ticker, post_id, rule) VALUES (%s, %s, 'spam_ad')",
                             (ticker, post_id))
    assert score(engine, scored).index_rewritten == 1
    changed = rewritten(before, identities(engine))
    assert len(changed) == 1 and next(iter(changed))[0] == ticker
    with engine.begin() as conn:  # removing it again restores the row's values
        conn.exec_driver_sql("DELETE FROM post_flags WHERE ticker = %s AND post_id = %s", (ticker, post_id))
    assert score(engine, scored).index_rewritten == 1
    assert scratch_rewrites(engine, scored) == 0


def test_a_history_rewrite_of_one_ticker_rewrites_only_its_rows(engine, scored, tmp_path: Path):
    before = identities(engine)
    bars = query(engine, "SELECT trade_date, open, high, low, close, volume FROM prices WHERE ticker = '000660' "
                         "ORDER BY trade_date")
    dropped = bars[40][0]  # not a session after all: its posts move to the next one
    lines = ["ticker,date,open,high,low,close,volume"]
    for day, o, h, low, c, v in bars[35:46]:
        if day == dropped:
            continue
        if day == bars[41][0]:
            c, h = c + 1, max(h, c + 1)  # a changed bar: the file is the ticker's history over its dates
        lines.append(f"000660,{day},{o},{h},{low},{c},{v}")
    path = tmp_path / "rewrite.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_prices(engine, path)
    report = score(engine, scored)
    changed = rewritten(before, identities(engine))
    assert changed and all(t == "000660" for t, _ in changed)
    assert ("000660", dropped) in changed and ("000660", dropped) not in identities(engine)
    assert report.index_rewritten == len(changed)
    assert scratch_rewrites(engine, scored) == 0


def test_a_quality_recheck_rebuilds_and_agrees(engine, scored):
    check_quality(engine, recheck=True)  # truncates the flags: everything is recomputed, nothing differs
    assert score(engine, scored).index_rewritten == 0


SCORE_IDENTITY = "SELECT ticker, post_id, ctid::text, xmin::text FROM post_scores WHERE model_version = :v"


def test_scores_are_written_once_per_post(engine, scored, tmp_path: Path):
    """New posts get a score each; no other score row is rewritten, and prices never touch scores."""
    def score_identities():
        return {(t, p): (ctid, xmin) for t, p, ctid, xmin in query(engine, SCORE_IDENTITY, v=scored)}

    before = score_identities()
    when = datetime(2030, 1, 2, 20, tzinfo=KST)
    add_posts(engine, [post("005930", when, "새글 가즈아"), post("000660", when, "새글 손절")])
    assert score(engine, scored).scored == 2
    after = score_identities()
    assert rewritten(before, after) == set(after) - set(before) and len(after) - len(before) == 2
    ((day, o, h, low, c, v),) = query(engine, "SELECT trade_date, open, high, low, close, volume FROM prices "
                                              "WHERE ticker = '000660' ORDER BY trade_date LIMIT 1 OFFSET 20")
    path = tmp_path / "rewrite.csv"
    path.write_text(f"ticker,date,open,high,low,close,volume\n000660,{day},{o},{h + 5},{low},{c + 5},{v}\n",
                    encoding="utf-8")
    import_prices(engine, path)
    assert score(engine, scored).scored == 0
    assert score_identities() == after


def test_a_session_the_feed_drops_leaves_the_index_as_a_rebuild_makes_it(engine, scored):
    """Issue 32 #3: the feed no longer serves a session and no other bar of the ticker changed: the
    index drops the session's row and counts its posts in the next session, as a rebuild does."""
    from finsent.data.labels import LabelDefinition, label_posts
    from finsent.ingest.store import drop_vanished_sessions

    days = [d for (d,) in query(engine, "SELECT trade_date FROM prices WHERE ticker = '005930' ORDER BY 1")]
    gone = days[len(days) // 2]
    ((following,),) = query(engine, "SELECT n_posts FROM daily_sentiment WHERE ticker = '005930' AND session_date = :d",
                            d=days[len(days) // 2 + 1])
    assert ("005930", gone) in identities(engine)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:  # the price sync's own deletion: the feed lists every other session
            assert drop_vanished_sessions(cur, "005930", days[0], days[-1], [d for d in days if d != gone]) == [gone]
    label_posts(engine, LabelDefinition.build("next_open_close"))
    score(engine, scored)
    incremental = query(engine, "SELECT ticker, session_date, n_posts, round(mean_p_up::numeric, 9) FROM "
                                "daily_sentiment ORDER BY 1, 2")
    assert ("005930", gone) not in {(t, d) for t, d, *_ in incremental}
    (moved,) = [n for t, d, n, _ in incremental if (t, d) == ("005930", days[len(days) // 2 + 1])]
    assert moved > following  # the next session counts the dropped session's posts too
    assert scratch_rewrites(engine, scored) == 0  # a rebuild changes nothing
