"""A year of 20 stocks as the Sentiment page reads it, written straight into the tables (and a
champion into a real MLflow store): the size the page must load in under a second. Not a model's
output: the browser test measures the page, the other tests check the numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from finsent.ingest.records import KST
from tests.data.board import add_posts, add_prices, post

STOCKS = 20
SESSIONS = 250
WALKED = 190  # the backtest's sessions; the champion's index follows
POSTS_PER_SESSION = 6
FIRST = date(2025, 12, 1)


def sessions() -> list[date]:
    days, day = [], FIRST
    while len(days) < SESSIONS + 1:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days  # the last one is not priced yet: the forecast


def _copy(engine: sa.Engine, table: str, columns: str, rows: list[tuple]) -> None:
    import io

    text = "".join("\t".join(str(v) for v in row) + "\n" for row in rows)
    raw = engine.raw_connection()
    with raw.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text))
    raw.commit()
    raw.close()


def seed(engine: sa.Engine) -> dict:
    rng = np.random.default_rng(21)
    days = sessions()
    codes = [f"9{i:05d}" for i in range(STOCKS)]
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tickers (code, name) VALUES (:c, :n)"),
                     [{"c": c, "n": f"테스트종목{i} 🚀"} for i, c in enumerate(codes)])
        conn.execute(sa.text("INSERT INTO backtests (name, spec, steps_total, status, finished_at) VALUES "
                             "('year', :s, 1, 'done', now())"),
                     {"s": '{"definition": "next_open_close", "cost_bps": 20, "sell_tax_bps": 20}'})
    daily, labels, scores, live = [], [], [], []
    for code in codes:
        closes = 50_000 * np.cumprod(1 + rng.normal(0, 0.015, SESSIONS))
        add_prices(engine, code, dict(zip(days[:-1], closes.round())),
                   opens={d: float(round(c * (1 + rng.normal(0, 0.005)))) for d, c in zip(days[:-1], closes)})
        index = np.clip(0.5 + np.cumsum(rng.normal(0, 0.01, len(days))) * 0.3, 0.2, 0.8)
        for i, day in enumerate(days[:WALKED]):
            ret = float(rng.normal(0, 0.015))
            daily.append(("year", code, day, POSTS_PER_SESSION, index[i], ret))
            for k in range(POSTS_PER_SESSION):
                post_id = (int(code) * 1000 + i) * 10 + k
                up = rng.random() < 0.5
                labels.append(("next_open_close", code, post_id, day, day, day, ret, "up" if up else "down"))
                scores.append(("year", code, post_id, float(np.clip(rng.normal(0.58 if up else 0.45, 0.15), 0, 1)),
                               days[0] - timedelta(days=1), day))
        live += [(1, code, day, POSTS_PER_SESSION, index[i], 0.5) for i, day in enumerate(days) if i >= WALKED]
    _copy(engine, "backtest_daily", "backtest, ticker, session_date, n_posts, mean_p_up, ret", daily)
    _copy(engine, "labels", "definition, ticker, post_id, session_date, base_date, target_date, ret, label", labels)
    _copy(engine, "backtest_scores", "backtest, ticker, post_id, p_up, trained_through, session_date", scores)
    _copy(engine, "daily_sentiment", "model_version, ticker, session_date, n_posts, mean_p_up, bull_share", live)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO daily_sentiment_state (model_version, built_at) VALUES (1, :b)"),
                     {"b": datetime.combine(days[-2], datetime.min.time()).replace(hour=20, tzinfo=KST)})
    evening = datetime.combine(days[-2], datetime.min.time()).replace(hour=18)
    titles = ["가즈아 🚀🔥 내일 상한가", "실적 좋다 매수 👍", "그냥 보유", "물타기 해야하나 😭", "손절합니다 📉",
              "하락 전환"]
    rows = [post(code, evening + timedelta(minutes=k), title, post_id=9_000_000 + i * 10 + k)
            for i, code in enumerate(codes) for k, title in enumerate(titles)]
    add_posts(engine, rows)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO post_scores (model_version, ticker, post_id, p_up) VALUES (1, :t, :i, :p)"),
                     [{"t": r.ticker, "i": r.post_id, "p": 0.9 - 0.15 * (r.post_id % 10)} for r in rows])
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))  # as autovacuum would have: a bulk load has no statistics yet
    return {"codes": codes, "days": days, "seen_through": days[WALKED - 1]}


def register_champion(settings, seen_through: date) -> None:
    """finsent-updown v1 as the champion in the test's own MLflow store, with a training run's metrics."""
    from mlflow import MlflowClient

    from finsent.ml.registry import EXPERIMENT, MODEL_NAME, tracking_uri

    uri = tracking_uri(settings)
    (settings.data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    client = MlflowClient(uri, uri)
    experiment = client.create_experiment(EXPERIMENT, artifact_location=(settings.data_dir / "art").resolve().as_uri())
    run = client.create_run(experiment)
    for key, value in {"test_balanced_accuracy": 0.57, "test_balanced_accuracy_ci_low": 0.53,
                       "test_balanced_accuracy_ci_high": 0.61, "test_accuracy": 0.56, "test_accuracy_ci_low": 0.52,
                       "test_accuracy_ci_high": 0.6, "test_n_sessions": 40,
                       "test_n_clusters": 800, "test_n_posts": 4800, "test_ic": 0.04, "test_ic_t": 1.9,
                       "test_ic_sessions": 38, "test_p_value_balanced_accuracy": 0.004}.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(MODEL_NAME)
    tags = {"seen_through": seen_through.isoformat(), "label_definition": "next_open_close", "dataset": "year",
            "model": "baseline", "split": "time", "finsent.verdict": "promoted",
            "champion_decision": "first champion: evidence of skill"}
    version = client.create_model_version(MODEL_NAME, f"{run.info.artifact_uri}/model", run.info.run_id, tags=tags)
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    # v2, a LoRA challenger trained on an older snapshot, evaluated on the champion's (`finsent evaluate`)
    evaluated = client.create_run(experiment, tags={"finsent.step": "evaluate", "dataset": "year",
                                                    "model_version": "2", "in_sample": "false"})
    for key, value in {"test_balanced_accuracy": 0.55, "test_balanced_accuracy_ci_low": 0.51,
                       "test_balanced_accuracy_ci_high": 0.59, "test_accuracy": 0.54, "test_accuracy_ci_low": 0.5,
                       "test_accuracy_ci_high": 0.58, "test_n_sessions": 40, "test_n_clusters": 800,
                       "test_n_posts": 4800, "test_vs_champion_accuracy_gain": -0.02, "test_vs_champion_p_value": 0.81,
                       "test_vs_champion_n_sessions": 40}.items():
        client.log_metric(evaluated.info.run_id, key, value)
    client.set_terminated(evaluated.info.run_id)
    older = {**tags, "dataset": "year-early", "model": "lora", "seen_through": "2026-05-29",
             "finsent.verdict": "not promoted",
             "champion_decision": "test part starts 2026-06-08, not after 2026-08-21"}
    challenger = client.create_model_version(MODEL_NAME, f"{run.info.artifact_uri}/model2", None, tags=older)
    client.set_registered_model_alias(MODEL_NAME, "challenger", challenger.version)
