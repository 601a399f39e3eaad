"""The champion rule through the real train and evaluate paths: attempts counted in MLflow, the
horizon read from the trading calendar, no in-sample report, no self-comparison."""

from __future__ import annotations

import logging

import pytest
from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.data.build import DatasetSpec, build_dataset
from finsent.data.labels import LabelDefinition, label_posts
from finsent.data.snapshots import load_snapshot
from finsent.errors import FinsentError
from finsent.ml.lineage import TrainingRecord, record_from_rows
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.registry import EXPERIMENT, MODEL_NAME, configure, tracking_uri
from finsent.ml.train import train_model
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC, make_board


def train_runs(settings) -> list:
    client = MlflowClient(tracking_uri(settings))
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.`finsent.step` = 'train'")
    return sorted(runs, key=lambda r: r.info.start_time)


def test_every_attempt_is_counted_in_mlflow(engine, tmp_path, caplog):
    """Needs the tradable label: the default snapshot is a next_open_close one."""
    settings = load_settings()
    make_board(engine, planted=False, seed=4)
    build_dataset(engine, "noise", VERDICT_SPEC, settings.data_dir)
    caplog.set_level(logging.INFO, logger="finsent.ml.train")
    for _ in range(3):
        outcome = train_model(settings, engine, "noise", "baseline")
        assert not outcome.decision.promoted
    assert "attempt 3 since the last champion: needs p < 0.0027" in caplog.text
    assert "attempt 3 since the last champion: needs p < 0.0027" in outcome.decision.reason
    # a run that crashes after it started (a base model that does not load) still counts
    (tmp_path / "empty").mkdir()
    with pytest.raises(FinsentError, match="not a loadable model"):
        train_model(settings, engine, "noise", "lora",
                    transformer=TransformerSpec(base_model=str(tmp_path / "empty"), device="cpu"))
    # a snapshot that can never be promoted spends nothing
    build_dataset(engine, "gap", DatasetSpec(definition="next_session"), settings.data_dir)
    ineligible = train_model(settings, engine, "gap", "baseline")
    assert ineligible.decision.verdict == "ineligible" and "not tradable" in ineligible.decision.reason
    # so does a test part too short for any verdict (7 sessions): a new install's first weeks
    build_dataset(engine, "short", DatasetSpec(), settings.data_dir)
    short = train_model(settings, engine, "short", "baseline")
    assert short.decision.verdict == "ineligible" and "too few sessions for a verdict" in short.decision.reason
    fifth = train_model(settings, engine, "noise", "baseline")
    assert fifth.decision.attempt == 5
    runs = train_runs(settings)
    assert [r.data.tags.get("finsent.attempt") for r in runs] == ["1", "2", "3", "4", None, None, "5"]
    assert [r.data.tags.get("finsent.verdict") for r in runs] == [
        "not promoted", "not promoted", "not promoted", None, "ineligible", "ineligible", "not promoted"]
    assert runs[3].info.status == "FAILED" and runs[4].data.tags["finsent.eligible"] == "false"
    assert runs[5].data.tags["finsent.eligible"] == "false"
    client = configure(settings)
    tags = client.get_model_version(MODEL_NAME, str(fifth.version)).tags
    assert tags["finsent.attempt"] == "5" and float(tags["finsent.alpha"]) == pytest.approx(0.04 * 6 / 3.14159**2 / 25,
                                                                                               rel=1e-3)
    # a new champion (here set by an operator) starts the count again
    client.set_registered_model_alias(MODEL_NAME, "champion", str(fifth.version))
    assert train_model(settings, engine, "noise", "baseline").decision.attempt == 1


def test_fifty_failed_attempts_then_a_strong_model_through_train(engine, capsys):
    """50 failed attempts in MLflow (weekly no-skill tries since the beginning), then `finsent train`
    on a planted board whose test part has 21 dates: attempt 51 (p < 9.3e-6, below the old Monte
    Carlo floor of 1/5000) makes the champion; the attempt and its level are in the output and tags."""
    settings = load_settings()
    make_board(engine, planted=True, sessions=105)
    build_dataset(engine, "strong", VERDICT_SPEC, settings.data_dir)
    client = configure(settings)
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    for week in range(50):
        run = client.create_run(experiment, run_name=f"week-{week}", tags={
            "finsent.step": "train", "finsent.model_name": MODEL_NAME, "finsent.eligible": "true",
            "finsent.attempt": str(week + 1), "finsent.verdict": "not promoted"})
        client.set_terminated(run.info.run_id)
    assert main(["train", "--dataset", "strong"]) == 0
    out = capsys.readouterr().out
    assert "attempt 51 since the last champion: its tests ran at alpha_51 = 9.35e-06" in out
    assert "registered finsent-updown v1 (champion: first champion: evidence of skill" in out
    tags = client.get_model_version(MODEL_NAME, "1").tags
    assert tags["finsent.attempt"] == "51" and float(tags["finsent.alpha"]) == pytest.approx(9.349e-06, rel=1e-3)
    assert str(client.get_registered_model(MODEL_NAME).aliases["champion"]) == "1"


def test_the_label_reach_counts_trading_sessions(engine):
    settings = load_settings()
    make_board(engine, planted=True, sessions=40)
    label_posts(engine, LabelDefinition.build("next_session", horizon=3))
    build_dataset(engine, "h3", DatasetSpec(definition="next_session_h3", rules=()), settings.data_dir)
    record = TrainingRecord.from_snapshot(engine, load_snapshot(engine, "h3"))
    calendar = [d for (d,) in query(engine, "SELECT DISTINCT trade_date FROM prices ORDER BY 1")]
    assert record.horizon == 3 and record.label_reach == calendar[calendar.index(record.seen_through) + 2]
    assert record.test_from > record.label_reach  # the snapshot's own gap already covers it
    assert record_from_rows(engine, "h3", record.dataset_hash) == record
    assert TrainingRecord.from_tags(record.tags()) == record


def test_evaluate_refuses_an_in_sample_report(engine, planted, capsys, caplog):
    settings = load_settings()
    train_model(settings, engine, planted, "baseline")
    (last_seen,) = query(engine, "SELECT max(session_date) FROM dataset_rows WHERE dataset = :d "
                                 "AND split <> 'test'", d=planted)[0]
    build_dataset(engine, "earlier", DatasetSpec(end=last_seen), settings.data_dir)
    overlap = [d for (d,) in query(engine, "SELECT DISTINCT session_date FROM dataset_rows WHERE dataset = 'earlier' "
                                           "AND split = 'test' ORDER BY 1")]
    assert main(["evaluate", "--model-version", "1", "--dataset", "earlier"]) == 2
    assert f"holds {len(overlap)} session(s) v1 saw: {overlap[0]} .. {overlap[-1]}" in caplog.text
    assert "--allow-in-sample" in caplog.text
    capsys.readouterr()
    assert main(["evaluate", "--model-version", "1", "--dataset", "earlier", "--allow-in-sample"]) == 0
    out = capsys.readouterr().out
    assert "IN-SAMPLE" in out.splitlines()[0] and "**IN-SAMPLE, no evidence either way" in out
    client = MlflowClient(tracking_uri(settings))
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`finsent.step` = 'evaluate'")
    assert [r.data.tags["in_sample"] for r in runs] == ["true"]
    metrics = runs[0].data.metrics
    assert "in_sample_test_accuracy" in metrics and not any(k.startswith("test_") for k in metrics)
    # its own test part is out of sample
    assert main(["evaluate", "--model-version", "1", "--dataset", planted]) == 0
    assert "IN-SAMPLE" not in capsys.readouterr().out


@pytest.mark.parametrize("version", ["7", "abc", "-1", "1.5"])
def test_evaluate_a_version_that_does_not_exist(engine, planted, version, capsys, caplog):
    train_model(load_settings(), engine, planted, "baseline")
    assert main(["evaluate", "--model-version", version, "--dataset", planted]) == 2
    assert f"--model-version {version!r}: {MODEL_NAME} has no " in caplog.text
    assert "its newest is v1 (v1: first champion" in caplog.text  # the next command names the version
    assert f"`finsent evaluate --dataset {planted} --model-version 1`" in caplog.text
    assert "Traceback" not in caplog.text + capsys.readouterr().err


def test_evaluate_right_after_training_v1_names_the_next_command(engine, capsys, caplog):
    settings = load_settings()
    make_board(engine, planted=False, seed=3)  # noise: v1 shows no skill, so there is no champion
    build_dataset(engine, "noise", VERDICT_SPEC, settings.data_dir)
    assert not train_model(settings, engine, "noise", "baseline").decision.promoted
    assert main(["evaluate", "--dataset", "noise"]) == 2
    assert f"--model-version 'champion': {MODEL_NAME} has no @champion yet; its newest is v1 (v1: " in caplog.text
    assert "Evaluate it by number: `finsent evaluate --dataset noise --model-version 1`" in caplog.text
    assert main(["evaluate", "--dataset", "noise", "--model-version", "1", "--allow-in-sample"]) == 0


def test_the_baseline_is_not_compared_with_itself(engine, planted):
    settings = load_settings()
    outcome = train_model(settings, engine, planted, "baseline")
    assert "baseline" not in outcome.report.baselines and "p_value_vs_baseline" not in outcome.report.tests
    assert {"majority", "previous_session"} <= set(outcome.report.baselines)
    assert "p_value_vs_previous_session" in outcome.report.tests
