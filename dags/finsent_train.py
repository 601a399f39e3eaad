"""
### finsent_train: snapshot, fine-tune, evaluate, register, promote fairly

**What**: weekly (Saturday 18:00 KST) and on demand with parameters, freezes a dataset snapshot
(time split with an embargo, quality rules applied), trains the chosen model on the `gpu` queue,
makes its choices on valid (regularisation or early stopping, calibration of P(up)), scores the test
part once, evaluates it against the majority / previous-session / TF-IDF baselines with statistics
clustered by session, logs everything to MLflow, registers a `finsent-updown` version as
`challenger`, and moves `champion` only when it wins fairly: only a tradable label
(`next_open_close`, the default here) and a time split are eligible; every run is an attempt,
counted in MLflow (`finsent.attempt`, `finsent.verdict` on the run), and the k-th attempt since the
last champion tests at alpha_k = 0.04 * 6 / (pi^2 k^2) (the log says "attempt 3 since the last
champion: needs p < 0.0027"); a first champion needs balanced accuracy above 0.5 (session-clustered
p < alpha_k); a challenger needs the same label definition, a test part after every session either
model's labels reached (horizon included), skill of its own and a paired clustered test, both at
p < alpha_k. Every decision is tagged on the version (`champion_decision`) and logged here.
When the champion moves, emits the `champion` asset, which starts `finsent_score`.

**Reads / writes**: Postgres `labels`, `post_flags` → `datasets`, `dataset_rows`, Parquet under
`$FINSENT_DATA_DIR/datasets/`; MLflow runs, model versions and aliases.

**Owner**: finsent. **Triage**: the train task has an "MLflow run" link with the metrics, plots and
report. Out of GPU memory: trigger with a smaller `batch_size`, or `quantize=4bit`. A failed run
registers and promotes nothing. Parameters: every option of `finsent dataset build` for the
snapshot (`definition`, `split`, `rules`, `balance`, ...; its `seed` aside) and every option of
`finsent train` (`model`: baseline, lora, encoder or prompt; `base_model`: a name of `finsent model list`,
a hub id or a directory; `prompt`, `finetune`, `quantize`, `epochs`, `max_steps`, `lr`, ...):
the same names, defaults and bounds (`finsent.data.spec.DatasetSpec`, `finsent.ml.spec.TrainSpec`).
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, dag, task

from finsent.data.spec import DatasetSpec
from finsent.ml.spec import TrainSpec
from finsent.orchestration.airflow_support import (
    CHAMPION,
    DEFAULT_ARGS,
    FAILURE_ALERT,
    TIMEZONE,
    FinsentTrainOperator,
    params_of,
)

# The snapshot's options (its seed aside: `seed` here is the model's) and the training's, declared once
SNAPSHOT_OPTIONS_NOT_OFFERED = ("seed",)
PARAMS = {**params_of(DatasetSpec, skip=SNAPSHOT_OPTIONS_NOT_OFFERED), **params_of(TrainSpec)}


# No start_date: a new deployment waits for the next Saturday instead of training at once on
# whatever labels exist (trigger it by hand for that).
@dag(dag_id="finsent_train", schedule=CronTriggerTimetable("0 18 * * 6", timezone=TIMEZONE), catchup=False,
     max_active_runs=1,
     default_args={**DEFAULT_ARGS, "retries": 1}, on_failure_callback=FAILURE_ALERT, params=PARAMS,
     tags=["finsent", "train", "mlflow"],
     doc_md=__doc__, render_template_as_native_obj=True)
def finsent_train():
    @task
    def snapshot(params=None, run_id=None) -> str:
        from finsent.orchestration.tasks import build_snapshot, spec_from_params

        spec = spec_from_params(DatasetSpec, params, skip=SNAPSHOT_OPTIONS_NOT_OFFERED)  # a wrong param fails here
        name = "train_" + "".join(c if c.isalnum() else "_" for c in run_id)[:80]
        build_snapshot(name, spec)
        return name

    train = FinsentTrainOperator(task_id="train", queue="gpu", dataset="{{ ti.xcom_pull(task_ids='snapshot') }}")

    @task.short_circuit
    def champion_moved(result: dict) -> bool:
        return bool(result["promoted"])

    @task(outlets=[CHAMPION])
    def publish_champion(result: dict) -> int:
        return int(result["version"])

    snapshot() >> train
    champion_moved(train.output) >> publish_champion(train.output)


finsent_train()
