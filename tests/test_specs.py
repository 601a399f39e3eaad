"""Options declared once: each spec's command flags and DAG params are the same set, with the same
defaults, and a bad value fails with the option's message wherever it comes from."""

from __future__ import annotations

import runpy

import pytest

from finsent.cli import build_parser
from finsent.data.spec import DatasetSpec
from finsent.errors import ConfigError
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.models.catalogue import BASES, DEFAULT_BASES
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.kinds import MODEL_KINDS
from finsent.ml.spec import ScoreSpec, TrainSpec
from finsent.specs import flags, from_values, param_schemas
from tests.dags.conftest import ROOT

# (spec, the command, the arguments of the command that are not the spec's, the DAG, its params that are not)
SNAPSHOT = {f.name for f in flags(DatasetSpec)} - {"seed"}  # the train DAG's snapshot options (seed: the model's)
CASES = [
    (TrainSpec, ["train", "--dataset", "d"], {"dataset"}, "finsent_train", SNAPSHOT),
    (DatasetSpec, ["dataset", "build", "d"], {"name", "replace", "dataset_command"}, "finsent_train",
     {f.name for f in flags(TrainSpec)}),
    (BacktestSpec, ["backtest", "n"], {"name", "steps_per_run", "replace"}, "finsent_backtest",
     {"name", "replace", "study"}),
    (ScoreSpec, ["score"], set(), "finsent_score", set()),
]
ENTRY_POINT = {"command", "func", "verbose"}


@pytest.mark.parametrize(("spec", "argv", "command_only", "dag_id", "dag_only"), CASES,
                         ids=[case[0].__name__ for case in CASES])
def test_the_command_flags_and_the_dag_params_are_the_specs_options(spec, argv, command_only, dag_id, dag_only):
    options = {flag.name: flag.default for flag in flags(spec)}
    parsed = vars(build_parser().parse_args(argv))
    command = {k: v for k, v in parsed.items() if k not in ENTRY_POINT | command_only}
    dag_params = runpy.run_path(str(ROOT / "dags" / f"{dag_id}.py"))["PARAMS"]
    dag = {k: p.value for k, p in dag_params.items() if k not in dag_only}
    assert command == options
    if spec is DatasetSpec:  # the train DAG's seed is the model's: the snapshot keeps its default seed
        options.pop("seed")
    assert dag == options


def test_the_backtest_offers_no_lora_checkpoints_and_training_does():
    assert {"checkpoint_dir", "save_every"} <= {f.name for f in flags(TrainSpec)}
    assert not {"checkpoint_dir", "save_every"} & {f.name for f in flags(BacktestSpec)}


def test_every_default_lives_in_the_spec():
    assert BacktestSpec().transformer == TransformerSpec() and TransformerSpec().base_model is None
    assert param_schemas(TrainSpec)["base_model"]["default"] is None  # the kind's default, from the catalogue
    assert TransformerSpec().resolved("lora").base_model == BASES[DEFAULT_BASES["lora"]].hub_id
    assert TransformerSpec().resolved("encoder").base_model == "kakaobank/kf-deberta-base"
    assert BacktestSpec().rules == from_values(BacktestSpec, {"rules": "all"}).rules != ()


@pytest.mark.parametrize(("values", "message"), [
    ({"cost_bps": -1}, "--cost-bps must be in [0, 10000), got -1.0"),
    ({"lr": 0}, "--lr must be in (0, 1], got 0.0"),
    ({"epochs": 0}, "--epochs must be at least 1, got 0"),
    ({"epochs": "2"}, "--epochs must be an integer, got '2'"),
    ({"epochs": True}, "--epochs must be an integer, got True"),
    ({"quantize": "8bit"}, "--quantize must be one of 4bit, got '8bit'"),
    ({"train_sessions": 9}, "--train-sessions must be at least 10, got 9"),
    ({"embargo": None}, "--embargo must be set, got None"),
    ({"rules": "spam_ad,nonsense"}, "unknown quality rule(s) nonsense"),
    ({"learning_rate": 0.1}, "unknown option(s) learning_rate"),
])
def test_a_bad_value_fails_with_the_options_message(values, message):
    with pytest.raises(ConfigError) as raised:
        from_values(BacktestSpec, values)
    assert message in str(raised.value)


def test_a_dag_runs_params_become_the_spec_once_or_fail_the_run_without_retry():
    from airflow.sdk.exceptions import AirflowFailException

    from finsent.orchestration.tasks import spec_from_params

    params = {"name": "weekly", "replace": False, "model": "lora", "lr": 1e-3, "quantize": None, "cost_bps": 5}
    spec = spec_from_params(BacktestSpec, params)
    assert spec.transformer.lr == 1e-3 and spec.cost_bps == 5.0 and spec.model == "lora"
    with pytest.raises(AirflowFailException, match=r"--sell-tax-bps must be in \[0, 10000\)"):
        spec_from_params(BacktestSpec, {**params, "sell_tax_bps": 10_000})


@pytest.mark.parametrize(("params", "message"), [
    ({"batch_size": 0}, r"--batch-size must be at least 1, got 0"),
    ({"batch_size": 2.5}, r"--batch-size must be an integer, got 2\.5"),
    ({"alias": "champion; drop"}, r"--alias must be an alias \(letters, digits, _ and -\) or a version number"),
    ({"alias": None}, r"--alias must be set, got None"),
])
def test_a_wrong_score_param_fails_the_run_with_the_options_message(params, message):
    from airflow.sdk.exceptions import AirflowFailException

    from finsent.orchestration.tasks import spec_from_params

    assert spec_from_params(ScoreSpec, {"alias": "7", "batch_size": 64}) == ScoreSpec(alias="7", batch_size=64)
    with pytest.raises(AirflowFailException, match=message):
        spec_from_params(ScoreSpec, {"alias": "champion", "batch_size": 256, **params})


def test_a_baseline_walks_stored_spec_is_what_it_was():
    # the walk compares stored spec JSON on resume: a baseline walk stored before there were other kinds, or
    # before bodies (a title walk, char n-grams), resumes
    before = {"model": "baseline", "definition": "next_open_close", "rules": list(BacktestSpec().rules),
              "train_sessions": 120, "step_sessions": 5, "embargo": 1, "cost_bps": 20.0, "sell_tax_bps": 20.0,
              "lora": {}}
    assert BacktestSpec(text="title").to_json() == before
    # the default reads title and body: a walk stored before bodies is resumed with --text title
    assert BacktestSpec().to_json() == {**before, "text": "title+body", "text_tokens": 128}
    assert BacktestSpec(tokenizer="kiwi", text="title").to_json() == {**before, "tokenizer": "kiwi"}


def test_the_model_kinds_are_declared_once():
    """`finsent train --model`, `finsent backtest --model` and both DAGs' params offer the kinds of
    finsent.ml.models.kinds, and each kind's class loads from it."""
    from finsent.ml.models import classifier_class

    assert flags_choices(TrainSpec, "model") == flags_choices(BacktestSpec, "model") == MODEL_KINDS
    assert param_schemas(TrainSpec)["model"]["enum"] == param_schemas(BacktestSpec)["model"]["enum"] == \
        list(MODEL_KINDS)
    assert {kind: classifier_class(kind).kind for kind in MODEL_KINDS} == {k: k for k in MODEL_KINDS}


def flags_choices(spec, name: str) -> tuple:
    return next(f.option.choices for f in flags(spec) if f.name == name)


def test_the_study_command_flags_are_the_study_specs_options():
    from finsent.ml.study.spec import StudySpec

    options = {flag.name: flag.default for flag in flags(StudySpec)}
    parsed = vars(build_parser().parse_args(["study", "n", "--backtest", "b"]))
    command_only = ENTRY_POINT | {"name", "backtest", "json", "replace"}
    assert {k: v for k, v in parsed.items() if k not in command_only} == options
    spec = from_values(StudySpec, {"horizons": "20,1,5", "signals": "news_attention,text", "holds": None})
    assert spec.horizons == (1, 5, 20) and spec.book_holds == (1, 5, 20)
    assert spec.signals == ("news_attention", "text")
    assert from_values(StudySpec, {"signals": "engagement"}).signals == ("engagement",)  # the board's comments
    # news has no engagement signal: its texts have no comments
    for bad in ({"horizons": "0"}, {"horizons": "a"}, {"signals": "news_engagement"}, {"targets": ""}, {"band": 0.9}):
        with pytest.raises(ConfigError):
            from_values(StudySpec, bad)
