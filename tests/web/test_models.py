"""The Models page: every registered version on the champion's frozen test snapshot, side by side
with clustered intervals, the paired test against the champion and each version's decision; read
from a real MLflow store filled by the real train and evaluate paths."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from html import escape

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.ml.train import train_model
from finsent.web.models import VersionRow, models_html, render_models_page
from tests.data.board import query


def test_every_version_on_the_champions_snapshot_with_the_paired_test(engine, planted):
    settings = load_settings()
    assert train_model(settings, engine, planted, "baseline").decision.promoted  # v1: the champion
    (test_from,) = query(engine, "SELECT min(session_date) FROM dataset_rows WHERE dataset = :d AND split = 'test'",
                         d=planted)[0]
    build_dataset(engine, "early", DatasetSpec(end=test_from - timedelta(days=3)), settings.data_dir)
    v2 = train_model(settings, engine, "early", "baseline")  # trained before the champion's test part
    assert v2.version == 2 and not v2.decision.promoted
    page = render_models_page(settings)
    assert "not evaluated on planted: <code>finsent evaluate --model-version 2 --dataset planted</code>" in page
    assert main(["evaluate", "--model-version", "2", "--dataset", planted]) == 0
    page = render_models_page(settings)
    assert "2 version(s) of <b>finsent-updown</b> on the test part of the frozen snapshot <b>planted</b>" in page
    v1_row, v2_row = page.split("<tr><td>v1")[1], page.split("<tr><td>v2")[1].split("<tr><td>v1")[0]
    assert "<b>@champion</b>" in v1_row and "the champion" in v1_row and "training run" in v1_row
    assert "<b>promoted</b> first champion" in v1_row
    assert "attempt 1 since the last champion, tested at alpha = 0.0243" in v1_row
    assert "spent no attempt (it could never be promoted)" in v2_row  # 5 test dates: no verdict, nothing spent
    assert "evaluate run" in v2_row and "sessions neither saw" in v2_row and ", p = " in v2_row
    assert "<b>@challenger</b>" in v2_row and " [0." in v2_row  # its clustered interval on planted's test part
    assert escape(v2.decision.reason) in v2_row  # its own promotion decision


def test_a_version_with_too_few_sessions_gets_no_verdict():
    tags = {"model": "baseline", "label_definition": "next_open_close", "split": "time", "dataset": "s",
            "finsent.verdict": "ineligible", "champion_decision": "not eligible: too few sessions"}
    few = VersionRow(3, tags, {"test_balanced_accuracy": 0.7, "test_n_sessions": 6, "test_accuracy": 0.7},
                     "evaluate run", ())
    html = models_html("s", 1, [few])
    assert "spent no attempt (it could never be promoted)" not in html  # no attempt tag at all: says nothing
    spent = VersionRow(4, {**tags, "finsent.attempt": "", "finsent.alpha": ""}, few.metrics, "evaluate run", ())
    assert "spent no attempt (it could never be promoted)" in models_html("s", 1, [spent])
    horizon_five = VersionRow(5, tags, {**few.metrics, "test_n_sessions": 30, "test_has_verdict": 0.0}, "training run",
                              ())
    assert "too few sessions for a verdict" in models_html("s", 1, [horizon_five])  # 30 dates, 6 blocks of 5
    assert "0.700 <span class=\"warn\">no interval</span> <b class=\"warn\">too few sessions for a verdict</b>" in html
    assert "baseline · reads title · next_open_close · time split" in html  # a version from before bodies
    assert "<b>ineligible</b> not eligible" in html
    tags.update(tokenizer="kiwi", text="title+body")
    assert "baseline (kiwi) · reads title+body · next_open_close" in models_html("s", 1, [replace(few, tags=tags)])
    assert "no registered version" in models_html(None, None, [])


def test_kinds_and_bases_stand_side_by_side():
    tags = {"label_definition": "next_open_close", "split": "time", "dataset": "s"}
    rows = [VersionRow(3, {**tags, "model": "encoder", "base_model": "kakaobank/kf-deberta-base"}, {}, "", ()),
            VersionRow(2, {**tags, "model": "prompt", "base_model": "/models/tiny-qwen3"}, {}, "", ()),
            VersionRow(1, {**tags, "model": "lora", "base_model": "Some/Other-Model"}, {}, "", ())]
    html = models_html("s", None, rows)
    assert "encoder · kf-deberta-base · reads title · next_open_close · time split" in html  # a catalogue name
    assert "prompt · tiny-qwen3 · " in html and "lora · Some/Other-Model · " in html  # a directory, a hub id
