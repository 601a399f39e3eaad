"""The "Models" page (/finsent/models): every registered version of each model name, side by side on
one frozen test snapshot, with clustered intervals, the paired test against the champion and each
version's promotion decision: the honest version of a model x setting table.

Each row names the model's kind and, for a transformers model, its base (a catalogue name, a hub id
or a directory's name), so kinds and bases stand side by side on the same test. The snapshot is the
champion's (else the newest version's). A version's numbers on it come from
its training run when it trained on that snapshot, else from its newest out-of-sample
``finsent evaluate --dataset`` run on it (which also logs the paired test against the champion);
a version with neither says which command fills its row. Read from MLflow only, per request,
through one client built for it (``registry.registry_client``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from finsent.config import Settings
from finsent.errors import FinsentError
from finsent.logs.redact import mask_urls
from finsent.ml.metrics import shown
from finsent.ml.models.catalogue import base_name
from finsent.ml.registry import EXPERIMENT, MODEL_NAME, alias_version, find_run, registry_client
from finsent.ml.stats import MIN_SESSIONS_FOR_VERDICT

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class VersionRow:
    version: int
    tags: dict[str, str]
    metrics: dict[str, float]  # test_* on the frozen snapshot ({} when not evaluated on it)
    source: str  # "training run", "evaluate run" or "" (not evaluated on the snapshot)
    aliases: tuple[str, ...]
    missing_run: str | None = None  # its training run's id when the store no longer has it

    @property
    def name(self) -> str:
        """The model and setting: kind (baseline, lora, encoder, prompt), its base or the baseline's
        tokenizer, what it reads (title, or title and body), label definition, split."""
        t = self.tags
        kind = t.get("model", "?")
        if t.get("base_model"):
            kind += f" · {base_name(t['base_model'])}"
        if t.get("tokenizer"):
            kind += f" ({t['tokenizer']})"
        return (f"{kind} · reads {t.get('text', 'title')} · {t.get('label_definition', '?')} · "
                f"{t.get('split', '?')} split")


def _evaluate_run(client: MlflowClient, version: int, dataset: str) -> dict[str, float]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return {}
    runs = client.search_runs(
        [experiment.experiment_id],
        f"tags.`finsent.step` = 'evaluate' AND tags.dataset = '{dataset}' AND tags.model_version = '{version}' "
        "AND tags.in_sample = 'false'", order_by=["attributes.start_time DESC"], max_results=10)
    # a news (or both) version of the same number is another model's: runs before the tag are the board's
    ours = [r for r in runs if r.data.tags.get("finsent.model_name", MODEL_NAME) == MODEL_NAME]
    return dict(ours[0].data.metrics) if ours else {}


def version_rows(client: MlflowClient) -> tuple[str | None, int | None, list[VersionRow]]:
    """(the frozen snapshot, the champion's version, one row per registered version, newest first)."""
    versions = sorted(client.search_model_versions(f"name = '{MODEL_NAME}'"), key=lambda v: -int(v.version))
    champion = alias_version(client, "champion")
    if not versions:
        return None, champion, []
    aliases: dict[int, list[str]] = {}
    for alias, number in client.get_registered_model(MODEL_NAME).aliases.items():
        aliases.setdefault(int(number), []).append(alias)
    reference = next((v for v in versions if int(v.version) == champion), versions[0])
    dataset = reference.tags.get("dataset")
    rows = []
    for v in versions:
        metrics, source, missing = {}, "", None
        if dataset and v.tags.get("dataset") == dataset and v.run_id:
            run = find_run(client, v.run_id)  # None: deleted and garbage-collected, or in another store
            metrics, source = (dict(run.data.metrics), "training run") if run else ({}, "")
            missing = None if run else v.run_id
        elif dataset:
            metrics = _evaluate_run(client, int(v.version), dataset)
            source = "evaluate run" if metrics else ""
        rows.append(VersionRow(int(v.version), dict(v.tags), {k: x for k, x in metrics.items()
                                                              if k.startswith("test_")}, source,
                               tuple(sorted(aliases.get(int(v.version), []))), missing))
    return dataset, champion, rows


def _interval(m: dict[str, float], name: str) -> str:
    value = m.get(f"test_{name}")
    if value is None:
        return "-"
    low, high = m.get(f"test_{name}_ci_low"), m.get(f"test_{name}_ci_high")
    if not math.isfinite(value):
        return shown(value)
    if low is None or high is None:
        return f'{shown(value)} <span class="warn">no interval</span>'
    return f"{shown(value)} [{shown(low)}, {shown(high)}]"


def _paired(row: VersionRow, champion: int | None) -> str:
    if champion is None:
        return '<span class="muted">no champion</span>'
    if row.version == champion:
        return "the champion"
    m = row.metrics
    if "test_vs_champion_n_sessions" in m and "test_vs_champion_p_value" not in m:
        return (f'<span class="warn">too few sessions for a verdict</span> <span class="muted">'
                f'({m["test_vs_champion_n_sessions"]:.0f} sessions neither saw)</span>')
    if "test_vs_champion_p_value" in m:
        gain = m.get("test_vs_champion_accuracy_gain", float("nan"))
        return (f"{gain:+.4f}, p = {m['test_vs_champion_p_value']:.3g} "
                f'<span class="muted">({m.get("test_vs_champion_n_sessions", 0):.0f} sessions neither saw)</span>')
    return '<span class="muted">see its decision</span>'


def _row_html(row: VersionRow, champion: int | None, dataset: str) -> str:
    m = row.metrics
    if row.missing_run:
        numbers = (f'<td colspan=3><span class="warn">its training run {escape(row.missing_run)} is missing</span> '
                   "from the tracking store (deleted and garbage-collected, or logged to another store): "
                   f"<code>finsent evaluate --model-version {row.version} --dataset {escape(dataset)}</code> "
                   "measures it again</td>")
    elif not row.source:
        numbers = (f'<td colspan=3 class="muted">not evaluated on {escape(dataset)}: <code>finsent evaluate '
                   f"--model-version {row.version} --dataset {escape(dataset)}</code></td>")
    else:
        n = m.get("test_n_sessions", 0)
        enough = m["test_has_verdict"] > 0 if "test_has_verdict" in m else n >= MIN_SESSIONS_FOR_VERDICT
        few = "" if enough else ' <b class="warn">too few sessions for a verdict</b>'
        numbers = (f"<td>{_interval(m, 'balanced_accuracy')}{few}</td><td>{_interval(m, 'accuracy')}</td>"
                   f"<td class=num>{n:.0f} / {m.get('test_n_clusters', 0):.0f} / {m.get('test_n_posts', 0):.0f}"
                   f'<br><span class="muted">{escape(row.source)}</span></td>')
    aliases = " ".join(f"<b>@{escape(a)}</b>" for a in row.aliases)
    verdict = row.tags.get("finsent.verdict", "")
    return (f"<tr><td>v{row.version} {aliases}</td><td>{escape(row.name)}<br><span class=muted>trained on "
            f"{escape(row.tags.get('dataset', '?'))}, seen through {escape(row.tags.get('seen_through', '?'))}</span>"
            f"</td>{numbers}<td>{_paired(row, champion)}</td><td><b>{escape(verdict)}</b> "
            f"{escape(row.tags.get('champion_decision', ''))}<br>{_attempt(row.tags)}</td></tr>")


def _attempt(tags: dict[str, str]) -> str:
    """The attempt this version was (k since the last champion) and the level its tests ran at."""
    if tags.get("finsent.attempt"):
        return (f'<span class="muted">attempt {escape(tags["finsent.attempt"])} since the last champion, tested at '
                f'alpha = {float(tags.get("finsent.alpha") or "nan"):.3g}</span>')
    if "finsent.attempt" in tags:
        return '<span class="muted">spent no attempt (it could never be promoted)</span>'
    return ""


def models_html(dataset: str | None, champion: int | None, rows: list[VersionRow]) -> str:
    if not rows or dataset is None:
        return f"<p>no registered version of {MODEL_NAME} yet: run the <code>finsent_train</code> DAG</p>"
    body = "".join(_row_html(r, champion, dataset) for r in rows)
    return (f"<p>{len(rows)} version(s) of <b>{MODEL_NAME}</b> on the test part of the frozen snapshot "
            f"<b>{escape(dataset)}</b> (the champion's): 95% intervals are a jackknife over session dates; below "
            f"{MIN_SESSIONS_FOR_VERDICT} sessions there is no verdict. The paired test is the one-sided sign-flip "
            "test over sessions of accuracy against the champion, on sessions neither model saw. Each decision "
            "says which attempt since the last champion the version was and the level alpha_k its tests ran at "
            "(the levels of all attempts add up to 0.04).</p>"
            '<table class="overview"><thead><tr><th>version</th><th>model · setting</th>'
            "<th>balanced accuracy [95%]</th><th>accuracy [95%]</th><th>sessions / clusters / posts</th>"
            "<th>vs champion (accuracy, paired)</th><th>promotion decision</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def render_models_page(settings: Settings) -> str:
    from mlflow.exceptions import MlflowException

    from finsent.web.page import page_html

    try:
        dataset, champion, rows = version_rows(registry_client(settings))
        body = models_html(dataset, champion, rows)
    except (FinsentError, MlflowException) as exc:  # a page that says why, never a 500
        body = f"<p>the MLflow registry did not answer: {escape(mask_urls(str(exc)))}</p>"
    return page_html(body, [], ["<span></span>"], title="Models")
