"""The champion beside a challenger: its P(up) on the challenger's test rows, read as it was made to
read them (the board posts' stored bodies and comments, whatever the challenger's snapshot froze:
:mod:`finsent.data.stored_texts`), and the paired test of the two on the sessions neither saw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.data.stored_texts import with_stored_texts
from finsent.ml.lineage import in_sample_sessions, record_from_rows
from finsent.ml.registry import MODEL_NAME, champion_inputs
from finsent.ml.stats import Clusters, paired_test


def champion_with_record(engine: Engine, client, rows: pd.DataFrame, registered: str = MODEL_NAME):
    """The champion's version, what it learnt from and its P(up) on ``rows`` (None: no champion): it
    reads what it was made to read, the board posts' stored bodies and comments whatever the snapshot
    froze (``finsent.data.stored_texts``). What it learnt from is read from ``dataset_rows`` while its
    snapshot is unchanged, else its tags."""
    champion = champion_inputs(client, with_stored_texts(engine, rows), registered)
    if champion is None or champion[1] is None:
        return champion
    version, tagged, p_old = champion
    return version, record_from_rows(engine, tagged.dataset, tagged.dataset_hash) or tagged, p_old


def vs_champion(engine: Engine, client, version: int, test: pd.DataFrame, p_test: np.ndarray,
                 registered: str = MODEL_NAME, horizon: int = 1) -> dict[str, float]:
    """Accuracy against the champion (of the same registered model) on the test sessions neither saw:
    the paired test clustered by session (``test_vs_champion_*``); only the session count below the
    minimum for a verdict."""
    champion = champion_with_record(engine, client, test, registered)
    if champion is None or champion[0] == version:
        return {}
    _, record, p_old = champion
    seen = in_sample_sessions(record, test["session_date"])
    if seen is None:
        return {}
    keep = ~test["session_date"].isin(seen).to_numpy()
    part = test[keep]
    clusters = Clusters.of(part["ticker"], part["session_date"], horizon)
    if not clusters.has_verdict:
        return {"test_vs_champion_n_sessions": float(clusters.n_sessions)}
    y = (part["label"].to_numpy() == "up").astype(np.int64)
    gain, p_value = paired_test((p_test[keep] > 0.5) == y, (p_old[keep] > 0.5) == y, clusters)
    return {"test_vs_champion_accuracy_gain": gain, "test_vs_champion_p_value": p_value,
            "test_vs_champion_n_sessions": float(clusters.n_sessions)}
