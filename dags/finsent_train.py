"""
### finsent_train: snapshot, fine-tune, evaluate, register, promote fairly

**What**: weekly (Saturday 18:00 KST) and on demand with parameters, freezes a dataset snapshot
(time split with an embargo, quality rules applied), trains the chosen model on the `gpu` queue,
makes its choices on valid (regularisation or early stopping, calibration of P(up)), scores the test
part once, evaluates it against the majority / previous-session / TF-IDF baselines with statistics
clustered by session, logs everything to MLflow, registers a `finsent-updown` version as
`challenger`, and moves `champion` only when it wins fairly: a first champion needs balanced
accuracy above 0.5 (session-clustered p < 0.05); a challenger needs the same forward-looking label
definition, a time split, a test part after everything either model saw, and a paired clustered
test at p < 0.05. Every decision is tagged on the version (`champion_decision`) and logged here.
When the champion moves, emits the `champion` asset, which starts `finsent_score`.

**Reads / writes**: Postgres `labels`, `post_flags` → `datasets`, `dataset_rows`, Parquet under
`$FINSENT_DATA_DIR/datasets/`; MLflow runs, model versions and aliases.

**Owner**: finsent. **Triage**: the train task has an "MLflow run" link with the metrics, plots and
report. Out of GPU memory: trigger with a smaller `batch_size`, or `quantize=4bit`. A failed run
registers and promotes nothing. Parameters: `model` (baseline | lora), `base_model`, `prompt`,
`definition`, `split`, `rules`, `balance`, `quantize`, `epochs`, `max_steps`.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from finsent.orchestration.airflow_support import CHAMPION, DEFAULT_ARGS, TIMEZONE, FinsentTrainOperator

PARAMS = {
    "model": Param("baseline", enum=["baseline", "lora"]),
    "base_model": Param("EleutherAI/polyglot-ko-1.3b", type="string", description="hub id or local directory"),
    "prompt": Param("study-2shot", enum=["study-2shot", "zero-shot"]),
    "definition": Param("next_open_close", type="string"),
    "split": Param("time", enum=["time", "random"]),
    "rules": Param("all", type="string", description="all, none, or a comma-separated list of quality rules"),
    "balance": Param(False, type="boolean"),
    "quantize": Param("", enum=["", "4bit"]),
    "epochs": Param(1, type="integer", minimum=1),
    "max_steps": Param(None, type=["null", "integer"]),
}


# No start_date: a new deployment waits for the next Saturday instead of training at once on
# whatever labels exist (trigger it by hand for that).
@dag(dag_id="finsent_train", schedule=CronTriggerTimetable("0 18 * * 6", timezone=TIMEZONE), catchup=False,
     max_active_runs=1,
     default_args={**DEFAULT_ARGS, "retries": 1}, params=PARAMS, tags=["finsent", "train", "mlflow"],
     doc_md=__doc__, render_template_as_native_obj=True)
def finsent_train():
    @task
    def snapshot(params=None, run_id=None) -> str:
        from finsent.orchestration.tasks import build_snapshot

        name = "train_" + "".join(c if c.isalnum() else "_" for c in run_id)[:80]
        build_snapshot(name, params["definition"], params["split"], params["rules"], params["balance"])
        return name

    train = FinsentTrainOperator(
        task_id="train", queue="gpu", dataset="{{ ti.xcom_pull(task_ids='snapshot') }}",
        model="{{ params.model }}", base_model="{{ params.base_model }}", prompt="{{ params.prompt }}",
        quantize="{{ params.quantize }}", epochs="{{ params.epochs }}", max_steps="{{ params.max_steps }}")

    @task.short_circuit
    def champion_moved(result: dict) -> bool:
        return bool(result["promoted"])

    @task(outlets=[CHAMPION])
    def publish_champion(result: dict) -> int:
        return int(result["version"])

    snapshot() >> train
    champion_moved(train.output) >> publish_champion(train.output)


finsent_train()
