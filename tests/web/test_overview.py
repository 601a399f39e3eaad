"""The top of the Sentiment page: per-stock numbers (z-score, change, forecast, out-of-sample skill
clustered by session), the server-side sort, the backtest's charts, and the queries behind them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from scipy import stats as scipy_stats

from finsent.ingest.records import KST
from finsent.ml.stats import Clusters, balanced_accuracy_from_counts, session_intervals
from finsent.web.overview import (
    Skill,
    backtest_charts_html,
    overview_html,
    rolling_timing,
    sort_rows,
    stock_row,
    stock_skills,
    zscore,
)
from finsent.web.queries import (
    BookDay,
    IndexPoint,
    SessionCounts,
    Stock,
    backtest_days,
    index_built_at,
    priced_through,
    skill_counts,
)
from tests.data.board import add_prices
from tests.web.test_parts import flag

D0 = date(2024, 1, 1)


def _history(values, start=D0, close=1000.0):
    return [IndexPoint(start + timedelta(days=i), v, close, "champion") for i, v in enumerate(values)]


def test_balanced_accuracy_from_counts_is_the_session_jackknife_of_the_stats_module():
    rng = np.random.default_rng(4)
    sessions = np.repeat(np.arange(15), rng.integers(3, 30, 15))
    y = rng.integers(0, 2, len(sessions))
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.25, len(sessions)), 0, 1)
    clusters = Clusters.of(np.zeros(len(y)), sessions)
    pred = p > 0.5
    counts = [clusters.per_date(a) for a in (pred & (y == 1), y == 1, pred & (y == 0), y == 0)]
    value, low, high = balanced_accuracy_from_counts(*counts)
    expected_low, expected_high = session_intervals(y, p, clusters)["balanced_accuracy"]
    assert (low, high) == pytest.approx((expected_low, expected_high), abs=1e-12)
    assert low < value < high
    assert np.isnan(balanced_accuracy_from_counts(*(c[:1] for c in counts))[1])  # one session: no interval


def test_stock_skills_say_too_few_sessions_below_the_minimum():
    counts = [SessionCounts("A", D0 + timedelta(days=i), 10, 10, 8, 2) for i in range(12)]
    counts += [SessionCounts("B", D0 + timedelta(days=i), 10, 10, 6, 4) for i in range(4)]
    skills = stock_skills(counts)
    assert skills["A"].has_verdict and skills["A"].n_sessions == 12 and skills["A"].n_posts == 240
    assert skills["A"].balanced_accuracy == pytest.approx(0.8) and not skills["B"].has_verdict
    rows = [stock_row(Stock(code, code), _history([0.5, 0.6]), skills[code], D0 + timedelta(days=1))
            for code in "AB"]
    html = overview_html(rows, "skill", True, None)
    assert "0.800 [" in html and "n = 12 sessions, 240 posts" in html
    assert "0.600 <span class=\"warn\">too few sessions for a verdict</span>" in html


def test_zscore_change_and_forecast():
    rng = np.random.default_rng(1)
    values = [*(0.5 + rng.normal(0, 0.02, 80)), 0.6]
    history = _history(values)
    before = np.array(values[-61:-1])
    assert zscore(history) == pytest.approx((0.6 - before.mean()) / before.std(ddof=1))
    assert zscore(history[-15:]) is None  # fewer than 20 sessions before the latest
    row = stock_row(Stock("A", "a"), history, None, history[-2].session_date)
    assert row.forecast and row.change == pytest.approx(0.6 - values[-2])
    assert not stock_row(Stock("A", "a"), history, None, history[-1].session_date).forecast
    built = datetime(2026, 12, 2, 8, 31, tzinfo=KST)
    html = overview_html([row], "code", False, built)
    assert '<b class="fc">forecast</b>' in html and "computed 2026-12-02 08:31 KST" in html
    assert "no out-of-sample labels yet" in html


def test_the_overview_sorts_on_the_server_by_any_column():
    rows = [stock_row(Stock(code, code), _history(v), Skill(s, s - 0.1, s + 0.1, 20, 100), None)
            for code, v, s in (("A", [0.5, 0.7], 0.55), ("B", [0.5, 0.4], 0.65), ("C", [0.5, 0.5], 0.6))]
    assert [r.stock.code for r in sort_rows(rows, "index", True)] == ["A", "C", "B"]
    assert [r.stock.code for r in sort_rows(rows, "skill", True)] == ["B", "C", "A"]
    assert [r.stock.code for r in sort_rows(rows, "change", False)] == ["B", "C", "A"]
    assert [r.stock.code for r in sort_rows(rows, "nonsense", False)] == ["A", "B", "C"]
    html = overview_html(rows, "index", True, None)
    assert html.index(">A</a>") < html.index(">C</a>") < html.index(">B</a>")
    assert 'href="?sort=index&amp;order=asc"' in html and 'href="?sort=z&amp;order=desc"' in html


def test_the_rolling_correlation_is_spearman_over_the_window():
    rng = np.random.default_rng(2)
    points = [IndexPoint(D0 + timedelta(days=i), float(rng.random()), None, "backtest", float(rng.normal()))
              for i in range(30)]
    rolling = rolling_timing(points, 20)
    assert rolling[:19] == [None] * 19
    window = points[5:25]
    expected = scipy_stats.spearmanr([p.mean_p_up for p in window], [p.ret for p in window]).statistic
    assert rolling[24] == pytest.approx(expected)


def test_the_backtest_charts_show_the_ic_over_time_and_the_long_short_before_and_after_cost():
    rng = np.random.default_rng(3)
    days = [BookDay(t, D0 + timedelta(days=i), float(rng.random()), float(rng.normal(0, 0.01)),
                    float(rng.normal(0, 0.01))) for i in range(40) for t in ("A", "B", "C")]
    html = backtest_charts_html(days, 20.0, 20.0)
    assert "IC over time: 40 sessions with at least 3 stocks" in html and "20-session mean" in html
    assert "long-short, cumulative: 40 sessions" in html and "before cost" in html
    assert "after 20 bps a side + 20 bps tax" in html and "1 = start" in html and ">0<" in html
    few = backtest_charts_html(days[:15], 20.0, 20.0)
    assert "too few sessions for a verdict (n = 5)" in few


def _execute(engine, sql, rows):
    with engine.begin() as conn:
        conn.execute(sa.text(sql), rows)


def test_skill_counts_read_the_backtest_then_the_champion_after_what_it_saw(engine):
    days = [D0 + timedelta(days=i) for i in range(6)]
    _execute(engine, "INSERT INTO backtests (name, spec, steps_total, status) VALUES ('w', '{}', 1, 'done')", [{}])
    labels = [{"i": i, "d": days[i // 4], "l": "up" if i % 2 else "down"} for i in range(24)]
    _execute(engine, "INSERT INTO labels (definition, ticker, post_id, session_date, base_date, target_date, ret, "
                     "label) VALUES ('next_open_close', '005930', :i, :d, :d, :d, 0.0, :l)", labels)
    _execute(engine, "INSERT INTO backtest_scores VALUES ('w', '005930', :i, :p, :t, :d)",
             [{"i": r["i"], "p": 0.9 if r["i"] % 2 else 0.6, "t": D0 - timedelta(days=1), "d": r["d"]}
              for r in labels[:8]])  # days 0 and 1: every up right, every down wrong
    _execute(engine, "INSERT INTO backtest_daily VALUES ('w', '005930', :d, 4, 0.7, 0.0)",
             [{"d": d} for d in days[:2]])
    _execute(engine, "INSERT INTO post_scores (model_version, ticker, post_id, p_up) VALUES (2, '005930', :i, :p)",
             [{"i": r["i"], "p": 0.9 if r["i"] % 2 else 0.1} for r in labels])  # every live score right
    flag(engine, "005930", 21)
    with engine.connect() as conn:
        counts = skill_counts(conn, backtest="w", champion=2, seen_through=days[2], definition="next_open_close")
    by_day = {c.session_date: c for c in counts}
    assert sorted(by_day) == [days[0], days[1], days[3], days[4], days[5]]  # day 2: the champion saw it
    assert (by_day[days[0]].hits, by_day[days[0]].false_alarms) == (2, 2)  # the walk's scores, not the champion's
    assert (by_day[days[3]].hits, by_day[days[3]].false_alarms) == (2, 0)
    assert by_day[days[5]].ups == 1 and by_day[days[5]].downs == 2  # post 21 (up) is flagged: left out


def test_prices_build_time_and_backtest_days(engine):
    add_prices(engine, "005930", {D0: 100.0, D0 + timedelta(days=1): 101.0})
    _execute(engine, "INSERT INTO backtests (name, spec, steps_total, status) VALUES ('w', '{}', 1, 'done')", [{}])
    _execute(engine, "INSERT INTO backtest_daily VALUES ('w', '005930', :d, 4, 0.7, 0.01)",
             [{"d": D0}, {"d": D0 + timedelta(days=2)}])
    built = datetime(2026, 1, 1, tzinfo=KST)
    _execute(engine, "INSERT INTO daily_sentiment_state (model_version, built_at) VALUES (2, :b)", [{"b": built}])
    with engine.connect() as conn:
        assert priced_through(conn) == {"005930": D0 + timedelta(days=1)}
        assert index_built_at(conn, 2) == built and index_built_at(conn, None) is None
        rows = backtest_days(conn, "w")
    assert [r.session_date for r in rows] == [D0, D0 + timedelta(days=2)]
    assert rows[0].ret == pytest.approx(0.01) and rows[1].ret_open_close is None
