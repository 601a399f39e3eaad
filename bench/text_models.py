"""The model table: what a model reads (title, title + body, + the comments before the open) and how the
baseline cuts Korean (character n-grams, kiwi morphemes), on one frozen test with intervals.

A loopback board is crawled whole (bodies the list cut come from the detail endpoint), labelled by
the tradable move and quality-checked; three snapshots of one spec that differ only in ``--text``
have the same rows, so every variant is fitted on the same train part and scored on the same test
part. Some posts carry their view in the title (``plant_signal``), others a neutral title and the
view in the body (``plant_body_signal``), others a neutral title and body and the view in a comment
written before the session opened (``plant_comment_signal``; a comment after the close tells the
answer, which no model may read): a title-only model can find only the first, a title + body model
the first two. Each row:
balanced accuracy and accuracy with 95% intervals (jackknife over session dates), the sessions,
clusters and posts behind them, and the fit + score time (the baseline reference: char, title).
With the real 005930 list rows of SOURCES.md (when ../shared/naver/samples is here): how each
tokenizer cuts real titles (tokens per title, vocabulary, speed); they carry no labels.

    python bench/text_models.py [--posts 2500] [--days 150] [--tiny]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import scratch_database
from finsent.data.spec import DatasetSpec

TICKERS = {"005930": "삼성전자", "000660": "SK하이닉스", "005380": "현대차"}
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "naver" / "samples"
VARIANTS = (("title", "char"), ("title", "kiwi"), ("title+body", "char"), ("title+body", "kiwi"),
            ("title+body+comments", "char"), ("title+body+comments", "kiwi"))
SNAPSHOTS = {"title": "titles", "title+body": "whole", "title+body+comments": "threads"}  # text -> snapshot


def make_world(engine, posts: int, days: int) -> None:
    """Crawl a loopback board with views in titles, bodies and comments; label, check, freeze a snapshot
    of each text."""
    from finsent.config import load_settings
    from finsent.data.build import build_dataset
    from finsent.data.labels import LabelDefinition, label_posts
    from finsent.data.quality import check_quality
    from finsent.ingest.comments_crawl import crawl_comments
    from finsent.ingest.crawl import crawl_boards
    from finsent.ingest.prices import sync_prices
    from finsent.loopback import FakeNaver

    now = datetime.now().replace(microsecond=0)
    fake = FakeNaver(tickers=TICKERS, posts_per_ticker=posts, first_post_at=now - timedelta(days=days),
                     post_spacing=timedelta(days=days) / posts, price_start=(now - timedelta(days=days + 30)).date(),
                     price_end=now.date())
    fake.plant_signal(0.3, accuracy=0.8)  # the view in the title
    fake.plant_body_signal(0.3, accuracy=0.8)  # a neutral title, the view in the body
    fake.plant_comment_signal(0.3, accuracy=0.8)  # a neutral title and body, the view in a comment
    fake.cut_bodies(0.1, missing_share=0.05)
    with fake:
        for key in ("BOARD", "PRICE", "LEGACY", "API", "NEWS", "COMMENTS"):
            os.environ[f"FINSENT_NAVER_{key}_URL"] = fake.base_url
        settings = load_settings()
        assert all(r.ok for r in crawl_boards(settings, engine, list(TICKERS), since=date(2000, 1, 1)))
        assert all(r.ok for r in crawl_comments(settings, engine, list(TICKERS), days=days + 2))
        assert all(r.ok for r in sync_prices(settings, engine, list(TICKERS)))
    label_posts(engine, LabelDefinition.build("next_open_close"))
    check_quality(engine)
    spec = DatasetSpec(test_frac=0.2)
    for text, name in SNAPSHOTS.items():
        build_dataset(engine, name, replace(spec, text=text), settings.data_dir)


def variant_rows(engine) -> list[str]:
    from finsent.data.snapshots import load_snapshot
    from finsent.ml.evaluate import evaluate_predictions
    from finsent.ml.models.base import encode_labels
    from finsent.ml.models.baseline import BaselineClassifier
    from finsent.ml.models.morphemes import kiwi
    from finsent.ml.models.texts import texts_of

    load, _ = _timed(kiwi)  # the analyser's model loads once per process: not a fit's time
    lines, reference = [f"(kiwi's model loaded once in {load:.1f} s)"], None
    for text, tokenizer in VARIANTS:
        snapshot = load_snapshot(engine, SNAPSHOTS[text])
        train, valid, test = (snapshot.part(s) for s in ("train", "valid", "test"))
        started = time.perf_counter()
        model = BaselineClassifier(tokenizer=tokenizer)
        model.fit(texts_of(train, snapshot.text), encode_labels(train["label"]),
                  valid=(texts_of(valid, snapshot.text), encode_labels(valid["label"])) if len(valid) else None)
        p = model.predict_proba(texts_of(test, snapshot.text))
        seconds = time.perf_counter() - started
        reference = reference or seconds
        report = evaluate_predictions(f"{text}/{tokenizer}", test, p, float((train["label"] == "up").mean()), {})
        c = report.counts
        cells = [f"{report.metrics[m]:.3f} [{report.intervals[m][0]:.3f}, {report.intervals[m][1]:.3f}]"
                 if m in report.intervals else f"{report.metrics[m]:.3f} (no verdict)"
                 for m in ("balanced_accuracy", "accuracy")]
        lines.append(f"| {text} | {tokenizer} | {cells[0]} | {cells[1]} | {c['n_sessions']:.0f} / "
                     f"{c['n_clusters']:.0f} / {c['n_posts']:.0f} | {seconds:.2f} s ({seconds / reference:.1f}x) | "
                     f"{'skill' if report.shows_skill else 'no skill shown'} |")
    return lines


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def real_titles(samples: Path, limit: int) -> list[str]:
    path = samples / "board_list_rows_005930_2025-04-17.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [row["title"] for row in csv.DictReader(handle)][:limit]


def tokenizer_rows(titles: list[str]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from finsent.ml.models.morphemes import analyzer, kiwi, prepared

    kiwi()  # the model's load (seconds, once per process) is not the tokenizer's speed
    lines = []
    for name in ("char", "kiwi"):
        started = time.perf_counter()
        vectorizer = TfidfVectorizer(analyzer=analyzer(name), ngram_range=(1, 3) if name == "char" else (1, 1))
        matrix = vectorizer.fit_transform(prepared(titles, name))
        seconds = time.perf_counter() - started
        lines.append(f"| {name} | {len(titles)} | {matrix.getnnz() / len(titles):.1f} | "
                     f"{len(vectorizer.vocabulary_)} | {len(titles) / seconds:,.0f} titles/s |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=2500, help="posts per ticker")
    parser.add_argument("--days", type=int, default=150, help="the board's span")
    parser.add_argument("--tiny", action="store_true", help="a few hundred posts: the suite's check")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the real saved pages (shared/naver/samples)")
    parser.add_argument("--titles-only", action="store_true", help="only the real titles' table (no board)")
    args = parser.parse_args()
    if args.tiny:
        args.posts, args.days = 220, 45
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("FINSENT_CRAWL_DELAY_S", "0")
    if not args.titles_only:
        board_table(args)
    titles = real_titles(args.samples, 200 if args.tiny else 2000)
    if titles:
        print("\nreal 005930 list titles (2025-04-17/18, no labels): how each tokenizer cuts them\n")
        print("| tokenizer | titles | features per title | vocabulary | speed |")
        print("|---|---:|---:|---:|---:|")
        print("\n".join(tokenizer_rows(titles)))


def board_table(args: argparse.Namespace) -> None:
    with scratch_database(os.environ.get("FINSENT_DATABASE_URL")) as engine:
        os.environ["FINSENT_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        make_world(engine, args.posts, args.days)
        rows = variant_rows(engine)
    print(f"\nloopback board: {len(TICKERS)} tickers x {args.posts} posts over {args.days} days, label "
          "next_open_close, time split (test 20%), one frozen test part for every row\n")
    print("| text | tokenizer | balanced accuracy [95%] | accuracy [95%] | sessions / clusters / posts | "
          "fit + score | verdict |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows[1:]))
    print(f"\n{rows[0]}")


if __name__ == "__main__":
    main()
