"""Dataset snapshots: leakage-free time splits, the study's random split, hashes, bad input."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import STANDARD_DEFINITIONS, LabelDefinition, label_posts
from finsent.data.quality import check_quality
from finsent.data.snapshots import load_snapshot
from finsent.errors import FinsentError, SnapshotError
from tests.data.board import add_posts, add_prices, post, query

TICKERS = ("005930", "000660")
WORDS = ["가즈아", "물린다", "실적", "반등", "손절", "외인", "매수", "떡상", "하락", "배당", "공매도", "차트",
         "호재", "악재", "바닥", "천장", "존버", "익절", "수급", "기관"]


def business_days(start: date, n: int) -> list[date]:
    days, day = [], start
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@pytest.fixture
def board(engine):
    """60 sessions per ticker, 12 posts a day at varied hours, titles mostly unique, some repeated."""
    rng = random.Random(7)
    sessions = business_days(date(2024, 1, 2), 60)
    rows = []
    ids = iter(range(1, 10**6))  # fixed ids: the seeded draws must not depend on which tests ran before
    for ticker in TICKERS:
        price = 1000.0
        closes = {}
        for day in sessions:
            price *= 1 + rng.choice([-0.02, -0.01, 0.01, 0.02])
            closes[day] = round(price, 2)
        # each session opens at the close before it: the open-to-close move is the session's move
        add_prices(engine, ticker, closes, opens=dict(zip(sessions[1:], (closes[d] for d in sessions[:-1]))))
        for day in sessions[:-1]:
            for k in range(12):
                title = " ".join(rng.sample(WORDS, 4))
                if k == 0:
                    title = "매일 올라오는 같은 제목"  # a title repeated every day: must stay in one part
                rows.append(post(ticker, datetime.combine(day, datetime.min.time()) + timedelta(hours=1 + 2 * k),
                                 title, post_id=next(ids)))
    add_posts(engine, rows)
    for rule in (*STANDARD_DEFINITIONS, "same_day"):
        label_posts(engine, LabelDefinition.build(rule))
    check_quality(engine)
    return rows


def build(engine, name="snap", **spec):
    return build_dataset(engine, name, DatasetSpec(**spec), load_settings().data_dir)


def test_time_split_has_no_session_overlap_and_respects_the_embargo(engine, board):
    summary = build(engine, embargo=2)
    parts = {split: sorted(d for (d,) in query(engine, "SELECT DISTINCT session_date FROM dataset_rows "
                                                       "WHERE split = :s", s=split))
             for split in ("train", "valid", "test")}
    assert all(parts.values())
    assert parts["train"][-1] < parts["valid"][0] and parts["valid"][-1] < parts["test"][0]
    sessions = sorted(d for (d,) in query(engine, "SELECT DISTINCT session_date FROM labels"))
    for earlier, later in (("train", "valid"), ("valid", "test")):
        between = [d for d in sessions if parts[earlier][-1] < d < parts[later][0]]
        assert len(between) == 2  # exactly the embargo, left out
    assert summary.counts["train"]["up"] > 0 and summary.counts["test"]["down"] > 0


def test_a_title_repeated_every_day_is_a_new_event_in_every_part(engine, board):
    summary = build(engine)
    repeated = query(engine, "SELECT DISTINCT d.split FROM dataset_rows d JOIN posts p USING (ticker, post_id) "
                             "WHERE p.title = '매일 올라오는 같은 제목' ORDER BY 1")
    assert repeated == [("test",), ("train",), ("valid",)]  # a day apart and more: not one story
    same_story = query(engine, """
        SELECT count(*) FROM dataset_rows a JOIN dataset_rows b ON a.ticker = b.ticker AND a.split < b.split
        JOIN posts pa ON pa.ticker = a.ticker AND pa.post_id = a.post_id
        JOIN posts pb ON pb.ticker = b.ticker AND pb.post_id = b.post_id
        WHERE a.dataset = 'snap' AND b.dataset = 'snap' AND pa.title = pb.title
          AND abs(extract(epoch FROM pa.posted_at - pb.posted_at)) < 86400""")[0][0]
    assert same_story == 0 and summary.dropped_same_story == {}


def test_same_spec_gives_the_same_hash_and_files(engine, board, tmp_path):
    first = build(engine, "a", balance=True, seed=3)
    second = build(engine, "b", balance=True, seed=3)
    other = build(engine, "c", balance=True, seed=4)
    assert first.content_hash == second.content_hash != other.content_hash
    frames = {s: pd.read_parquet(first.path / f"{s}.parquet") for s in ("train", "valid", "test")}
    assert sum(len(f) for f in frames.values()) == first.rows
    assert set(frames["train"].columns) >= {"ticker", "post_id", "posted_at", "session_date", "title", "label"}
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["content_hash"] == first.content_hash and manifest["spec"]["seed"] == 3
    counts = dict(query(engine, "SELECT label, count(*) FROM dataset_rows WHERE dataset = 'a' GROUP BY label"))
    # balanced when drawn; the embargo and the one-part-per-title rule then drop a few rows
    assert abs(counts["up"] - counts["down"]) < 0.1 * first.rows


def test_random_split_reproduces_the_study_proportions(engine, board):
    summary = build(engine, "study", definition="same_day", rules=(), split="random", valid_frac=0.0,
                    test_frac=0.01, balance=True, per_class=300)
    total = {label: sum(c.get(label, 0) for c in summary.counts.values()) for label in ("up", "down")}
    assert 290 <= total["down"] <= total["up"] == 300 or 290 <= total["up"] <= total["down"] == 300
    assert sum(summary.counts["test"].values()) == 6  # 1% of the 600 drawn, exactly
    assert "valid" not in summary.counts


def test_cli_show_prints_counts_dates_and_hash(engine, board, capsys):
    assert main(["dataset", "build", "cli", "--embargo", "1"]) == 0
    capsys.readouterr()
    assert main(["dataset", "show", "cli"]) == 0
    out = capsys.readouterr().out
    ((content_hash,),) = query(engine, "SELECT content_hash FROM datasets WHERE name = 'cli'")
    assert content_hash in out and "train" in out and "005930" in out and "2024-01" in out


@pytest.mark.parametrize("args, code, message", [
    (["dataset", "build", "x", "--definition", "nope"], 2, "unknown label definition"),
    # refusals are bad input or configuration (exit 2), as the documented exit codes say (they were exit 1)
    (["dataset", "build", "x", "--from", "2030-01-01"], 2, "the selection is empty"),
    (["dataset", "build", "x", "--test-frac", "0.5", "--valid-frac", "0.5"], 2, "must leave something"),
    (["dataset", "build", "x", "--from", "2024-01-02", "--to", "2024-01-05"], 2, "leaves a part empty"),
    (["dataset", "build", "x", "--valid-frac", "0.45", "--test-frac", "0.45", "--embargo", "100"], 2,
     "leaves a part empty"),
    (["label", "--tickers", "999999"], 2, "unknown ticker code(s): 999999"),
    (["dataset", "build", "x", "--rules", "spam,typo"], 2, "unknown quality rule"),
    (["dataset", "build", "x", "--embargo", "100000"], 2, "more than 250 sessions"),
    (["dataset", "show", "missing"], 2, "no dataset named"),
])
def test_bad_dataset_input_is_a_clear_error_and_writes_nothing(engine, board, args, code, message, caplog):
    assert main(args) == code
    assert message in caplog.text
    assert query(engine, "SELECT count(*) FROM datasets") == [(0,)]
    assert query(engine, "SELECT count(*) FROM dataset_rows") == [(0,)]
    assert not (load_settings().data_dir / "datasets" / "x").exists()


def test_a_snapshot_is_frozen_unless_replaced(engine, board):
    build(engine, "frozen")
    assert main(["dataset", "build", "frozen"]) == 2
    assert main(["dataset", "build", "frozen", "--replace"]) == 0


def test_unchecked_posts_block_a_filtered_build(engine, board):
    add_posts(engine, [post("005930", datetime(2024, 1, 3, 20, 0), "새 글")])
    label_posts(engine, LabelDefinition.build("next_open_close"))
    with pytest.raises(FinsentError, match="finsent quality check"):
        build(engine)
    build(engine, rules=())  # the study's uncleaned data needs no check


def test_a_snapshot_stays_frozen_after_a_relabel(engine, board):
    build(engine, "frozen")
    before = load_snapshot(engine, "frozen")
    test = before.part("test")
    # a price re-fetch rewrites history (as a split does); the next label run relabels the posts
    ticker = test["ticker"].iloc[0]
    closes = dict(query(engine, "SELECT trade_date, close::float8 FROM prices WHERE ticker = :t", t=ticker))
    add_prices(engine, ticker, {day: close * (1.5 if i % 2 else 0.7) for i, (day, close) in
                                enumerate(sorted(closes.items()))})
    relabelled = label_posts(engine, LabelDefinition.build("next_open_close")).relabelled  # the snapshot's
    assert relabelled > 0
    live = dict(query(engine, "SELECT post_id, ret::float8 FROM labels WHERE definition = 'next_open_close' "
                              "AND ticker = :t", t=ticker))
    frozen = test[test["ticker"] == ticker]
    assert any(abs(live[pid] - ret) > 1e-9 for pid, ret in zip(frozen["post_id"], frozen["ret"]))
    after = load_snapshot(engine, "frozen")
    for part in ("train", "valid", "test"):
        pd.testing.assert_frame_equal(before.part(part), after.part(part))
    # Parquet carries the same frozen values
    parquet = pd.read_parquet(load_settings().data_dir / "datasets" / "frozen" / "test.parquet")
    assert parquet["ret"].tolist() == test["ret"].tolist()
    assert parquet["previous_session_up"].tolist() == test["previous_session_up"].tolist()


def test_a_tampered_or_unfrozen_snapshot_is_refused(engine, board, caplog):
    build(engine, "tampered")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE dataset_rows SET ret = ret + 0.01 WHERE dataset = 'tampered' "
                             "AND post_id = (SELECT min(post_id) FROM dataset_rows WHERE dataset = 'tampered')")
    with pytest.raises(SnapshotError, match="no longer match its content hash"):
        load_snapshot(engine, "tampered")
    assert main(["train", "--dataset", "tampered"]) == 2
    assert "finsent dataset build tampered --replace" in caplog.text
    build(engine, "old")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE datasets SET hash_version = 1 WHERE name = 'old'")
    with pytest.raises(SnapshotError, match="before snapshots froze"):
        load_snapshot(engine, "old")


def test_stale_labels_refuse_the_build_with_exit_2(engine, board, caplog):
    with engine.begin() as conn:
        changed = conn.exec_driver_sql("UPDATE prices SET close = close * 1.01 WHERE ticker = '005930' AND trade_date "
                                       "= (SELECT trade_date FROM prices WHERE ticker = '005930' ORDER BY 1 OFFSET 5 "
                                       "LIMIT 1)").rowcount
    assert changed == 1
    assert main(["dataset", "build", "stale"]) == 2
    assert "use prices that changed after they were written" in caplog.text and "finsent label" in caplog.text
