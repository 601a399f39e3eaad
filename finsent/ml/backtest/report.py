"""What a walk-forward backtest says, clustered by session: accuracy, IC, long-short; plots; MLflow.

- out-of-sample accuracy and balanced accuracy of every scored up/down post, with 95% intervals
  that resample session dates, and the one-sided clustered test of skill (balanced accuracy > 0.5);
- the information coefficient of the daily index with the session's return (per date across
  stocks with a Newey-West t; with fewer than 3 stocks the pooled IC with errors HAC over dates);
- a long-short: each session, long the top third and short the bottom third of stocks by the
  index (at least one each), equal weights, held from the open to the close of that session (the
  index only uses posts written before the open, so the trade is one that could have been made),
  before and after ``cost_bps`` per unit of notional traded; its mean, Newey-West t and annualised
  Sharpe ratio.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from sqlalchemy.engine import Engine

from finsent.ml.backtest.walk import BacktestRun
from finsent.ml.metrics import classification_metrics
from finsent.ml.stats import (
    MIN_STOCKS_PER_DATE,
    Clusters,
    balanced_accuracy_test,
    information_coefficient,
    newey_west_variance,
    per_date_ic,
    sentiment_index,
    session_bootstrap,
)

TRADING_DAYS = 252


def _scores(engine: Engine, name: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT ticker, post_id, p_up::float8, trained_through FROM backtest_scores WHERE backtest = %(n)s",
            {"n": name}).all()
    return pd.DataFrame(rows, columns=["ticker", "post_id", "p_up", "trained_through"])


def _intraday_returns(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT ticker, trade_date, (close / NULLIF(open, 0) - 1)::float8 FROM prices "
                                    "WHERE volume > 0").all()
    return pd.DataFrame(rows, columns=["ticker", "session_date", "ret_open_close"])


def long_short(daily: pd.DataFrame, cost_bps: float) -> pd.DataFrame:
    """Per session: gross return, turnover and net return of the top-third minus bottom-third book.

    ``daily``: ticker, session_date, mean_p_up, ret_open_close."""
    rows, previous = [], pd.Series(dtype=float)
    for day, part in daily.dropna(subset=["ret_open_close"]).sort_values("session_date").groupby("session_date"):
        if len(part) < 2:
            continue
        ranked = part.sort_values(["mean_p_up", "ticker"], ascending=[False, True])
        k = max(1, len(ranked) // 3)
        weights = pd.Series(0.0, index=ranked["ticker"])
        weights.iloc[:k] = 1.0 / k
        weights.iloc[-k:] = -1.0 / k
        gross = float((weights.to_numpy() * ranked["ret_open_close"].to_numpy()).sum())
        turnover = float(weights.sub(previous, fill_value=0.0).abs().sum())
        rows.append((day, gross, turnover, gross - turnover * cost_bps / 10_000))
        previous = weights
    return pd.DataFrame(rows, columns=["session_date", "gross", "turnover", "net"])


def _sharpe(returns: pd.Series) -> float:
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * math.sqrt(TRADING_DAYS)) if len(returns) > 1 and sd > 0 else float("nan")


def _ic_series(frame: pd.DataFrame) -> pd.DataFrame:
    """The IC series for the plot: per date across stocks, or a 20-session rolling pooled IC."""
    index = sentiment_index(frame)
    if index["ticker"].nunique() >= MIN_STOCKS_PER_DATE:
        return per_date_ic(index)
    dates = sorted(index["session_date"].unique())
    values = []
    for i in range(19, len(dates)):
        window = index[index["session_date"].between(dates[i - 19], dates[i])]
        values.append((dates[i], scipy_stats.spearmanr(window["mean_p_up"], window["ret"]).statistic))
    return pd.DataFrame(values, columns=["session_date", "ic"]).dropna()


@dataclass
class BacktestReport:
    name: str
    spec: dict
    counts: dict[str, float]
    metrics: dict[str, float]
    book: pd.DataFrame = field(repr=False)
    ic_series: pd.DataFrame = field(repr=False)

    @property
    def shows_skill(self) -> bool:
        return self.metrics.get("oos_balanced_accuracy_ci_low", 0.0) > 0.5

    def to_markdown(self) -> str:
        m, c, s = self.metrics, self.counts, self.spec
        verdict = ("evidence of skill: the clustered 95% interval of out-of-sample balanced accuracy lies above 0.5"
                   if self.shows_skill else
                   "no evidence of skill: the clustered 95% interval of out-of-sample balanced accuracy includes 0.5")

        def ci(name: str) -> str:
            return f"{m.get(name, float('nan')):.4f} [{m.get(name + '_ci_low', float('nan')):.4f}, " \
                   f"{m.get(name + '_ci_high', float('nan')):.4f}]"

        return "\n".join([
            f"# Walk-forward backtest `{self.name}`", "",
            f"Model `{s['model']}`, labels `{s['definition']}`. Each step trains on {s['train_sessions']} "
            f"sessions, skips {s['embargo']} (the embargo, plus horizon - 1) and scores the "
            f"posts of the next {s['step_sessions']} sessions, so every post is scored by a model that never saw "
            f"its session: {c['n_steps']:.0f} steps, {c['n_posts']:.0f} scored up/down posts in "
            f"{c['n_clusters']:.0f} (stock, session) clusters on {c['n_sessions']:.0f} session dates.", "",
            f"**{verdict}.**", "",
            "| out of sample | value [95% interval, resampling session dates] |", "|---|---|",
            f"| accuracy | {ci('oos_accuracy')} |", f"| balanced accuracy | {ci('oos_balanced_accuracy')} |",
            f"| p (balanced accuracy > 0.5, clustered) | {m.get('oos_p_value_balanced_accuracy', float('nan')):.3g} |",
            "", "| signal | value |", "|---|---:|",
            f"| IC mean ({'per date across stocks' if m.get('ic_per_date') else 'pooled'}) | "
            f"{m.get('ic_mean', float('nan')):.4f} |",
            f"| IC t (Newey-West over {m.get('ic_sessions', 0):.0f} sessions) | {m.get('ic_t', float('nan')):.2f} |",
            f"| long-short mean return per session, before cost | {m.get('long_short_mean_ret', float('nan')):.5f} |",
            f"| long-short t (Newey-West) | {m.get('long_short_t', float('nan')):.2f} |",
            f"| long-short Sharpe (annualised), before cost | {m.get('long_short_sharpe', float('nan')):.2f} |",
            f"| long-short mean return, after {s['cost_bps']:g} bps per unit traded | "
            f"{m.get('long_short_mean_ret_net', float('nan')):.5f} |",
            f"| long-short Sharpe, after cost | {m.get('long_short_sharpe_net', float('nan')):.2f} |",
            f"| mean turnover per session | {m.get('long_short_turnover', float('nan')):.2f} |",
            f"| sessions traded | {m.get('long_short_sessions', 0):.0f} |", "",
            "The long-short is long the top third and short the bottom third of stocks by the index each "
            "session (at least one stock each), equal weights, from the open to the close: the index uses only "
            "posts written before the open. Plots: `ic_over_time.png`, `long_short_cumulative.png`.", ""])


def build_report(engine: Engine, run: BacktestRun) -> BacktestReport:
    scored = run.posts.merge(_scores(engine, run.name), on=["ticker", "post_id"])
    graded = scored[scored["label"].isin(["up", "down"])]
    y = (graded["label"] == "up").to_numpy().astype(np.int64)
    p = graded["p_up"].to_numpy()
    clusters = Clusters.of(graded["ticker"], graded["session_date"])
    metrics: dict[str, float] = {}
    plain = classification_metrics(y, p)
    intervals = session_bootstrap(y, p, clusters)
    for name in ("accuracy", "balanced_accuracy"):
        low, high = intervals.get(name, (float("nan"), float("nan")))
        metrics.update({f"oos_{name}": plain[name], f"oos_{name}_ci_low": low, f"oos_{name}_ci_high": high})
    metrics["oos_p_value_balanced_accuracy"] = balanced_accuracy_test(y, p, clusters)[1]
    ic = information_coefficient(scored[["ticker", "session_date", "p_up", "ret"]])
    metrics.update({"ic_mean": ic.get("ic", float("nan")), "ic_t": ic.get("ic_t", float("nan")),
                    "ic_sessions": ic.get("ic_sessions", 0.0), "ic_per_date": ic.get("ic_per_date", 0.0)})
    daily = sentiment_index(scored).merge(_intraday_returns(engine), on=["ticker", "session_date"], how="left")
    book = long_short(daily, run.spec.cost_bps)
    if len(book) > 1:
        variance = newey_west_variance(book["gross"].to_numpy())
        metrics.update({
            "long_short_mean_ret": float(book["gross"].mean()), "long_short_sharpe": _sharpe(book["gross"]),
            "long_short_mean_ret_net": float(book["net"].mean()), "long_short_sharpe_net": _sharpe(book["net"]),
            "long_short_t": float(book["gross"].mean() / math.sqrt(variance)) if variance > 0 else float("nan"),
            "long_short_turnover": float(book["turnover"].mean()), "long_short_sessions": float(len(book))})
    counts = {**clusters.counts(), "n_steps": float(len(run.steps))}
    return BacktestReport(run.name, run.spec.to_json(), counts, metrics, book, _ic_series(scored))


def _plots(report: BacktestReport, directory: Path) -> list[Path]:
    from finsent.ml.plots import _pyplot

    plt = _pyplot()
    paths = []
    fig, ax = plt.subplots(figsize=(8, 3))
    series = report.ic_series
    if len(series):
        ax.bar(pd.to_datetime(series["session_date"]), series["ic"], color="tab:blue", alpha=0.4, width=1.5,
               label="IC")
        ax.plot(pd.to_datetime(series["session_date"]), series["ic"].rolling(20, min_periods=1).mean(),
                color="tab:blue", label="20-session mean")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title(f"information coefficient over time (mean {report.metrics.get('ic_mean', float('nan')):.3f}, "
                 f"t {report.metrics.get('ic_t', float('nan')):.2f})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    paths.append(directory / "ic_over_time.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3))
    if len(report.book):
        when = pd.to_datetime(report.book["session_date"])
        ax.plot(when, (1 + report.book["gross"]).cumprod(), label="before cost")
        ax.plot(when, (1 + report.book["net"]).cumprod(), label=f"after {report.spec['cost_bps']:g} bps")
    ax.axhline(1, color="grey", linewidth=0.8)
    ax.set_title("long top third / short bottom third by the index, open to close")
    ax.legend(loc="upper left")
    fig.tight_layout()
    paths.append(directory / "long_short_cumulative.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def _report_run(client, engine: Engine, name: str) -> str:
    """The MLflow run the report goes to: the one an interrupted logging left (its id is on the
    backtest's row), or a new one whose id is committed there before anything is logged to it."""
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT mlflow_run_id FROM backtests WHERE name = %(n)s", {"n": name}).scalar()
    if stored:
        from mlflow.exceptions import MlflowException

        try:
            if client.get_run(stored).info.lifecycle_stage == "active":
                return stored
        except MlflowException:
            pass  # deleted for good by hand: a new run
    from finsent.ml.registry import EXPERIMENT

    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    run_id = client.create_run(experiment, run_name=f"backtest-{name}",
                               tags={"finsent.step": "backtest", "backtest": name}).info.run_id
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE backtests SET mlflow_run_id = %(r)s WHERE name = %(n)s", {"r": run_id, "n": name})
    return run_id


def log_report(settings, engine: Engine, report: BacktestReport) -> str:
    """One MLflow run tagged ``backtest=NAME``: params, metrics, plots, the report; returns its id.
    A second call (after a kill during the logging) logs into the same run again."""
    import mlflow

    from finsent.ml.registry import configure

    client = configure(settings)
    run_id = _report_run(client, engine, report.name)
    with tempfile.TemporaryDirectory(prefix="finsent-backtest-") as scratch, mlflow.start_run(run_id=run_id):
        mlflow.log_params({k: str(v)[:500] for k, v in report.spec.items()})
        mlflow.log_metrics({**report.counts, **{k: v for k, v in report.metrics.items() if v == v}})
        for path in _plots(report, Path(scratch)):
            mlflow.log_artifact(str(path), "plots")
        mlflow.log_text(report.to_markdown(), "backtest/report.md")
        mlflow.log_text(report.book.to_csv(index=False), "backtest/long_short.csv")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE backtests SET status = 'done', finished_at = now() WHERE name = %(n)s",
                             {"n": report.name})
    return run_id
