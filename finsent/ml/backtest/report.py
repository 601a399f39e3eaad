"""What a walk-forward backtest says, clustered by session: accuracy, IC, long-short; plots; MLflow.

- out-of-sample accuracy and balanced accuracy of every scored up/down post, with 95% intervals
  (jackknife over session dates) and the one-sided sign-flip test of skill over dates (balanced
  accuracy > 0.5); the verdict follows the evaluation's rule (at least ``MIN_SESSIONS_FOR_VERDICT``
  dates, p < 0.05), below the minimum no p or interval is reported;
- the information coefficient of the daily index with the label's return (per date across stocks,
  its mean with a 95% interval, a Newey-West t and a sign-flip p; with fewer than 3 stocks the
  pooled *timing correlation*); labels over h sessions make all of the above run over blocks of h
  dates (``finsent.ml.overlap``; a verdict needs 10 blocks), the book below over its sessions;
- a long-short: each session, long the top third and short the bottom third of stocks by the
  index (at least one each), equal weights, held from the open to the close of that session (the
  index only uses posts written before the open, so the trade is one that could have been made)
  and flat overnight, so every session trades 4 units (buy and sell the long unit, sell and buy
  back the short unit): ``cost_bps`` on each, plus ``sell_tax_bps`` on the 2 sales. While short
  selling was banned (``SHORT_SALE_BAN``) the book is long-only against the equal-weight average
  of the universe that session: 2 units traded, 1 sale. Its mean with a 95% interval, a sign-flip p
  and a Newey-West t over sessions, and the annualised Sharpe ratio, before and after costs.
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

from finsent.data.labels import TRADABLE_LABEL_RULES, load_definition
from finsent.data.sources import DEFAULT_SOURCE, text_source
from finsent.db import raw_connection
from finsent.ml.backtest.compare import SourceComparison, compare_sources
from finsent.ml.backtest.texts import per_story
from finsent.ml.backtest.walk import BacktestRun
from finsent.ml.costs import SHORT_SALE_BAN, short_sale_banned
from finsent.ml.evaluate import SKILL_P_VALUE
from finsent.ml.metrics import classification_metrics
from finsent.ml.overlap import mean_interval, newey_west_t, sign_flip_p
from finsent.ml.stats import (
    MIN_SESSIONS_FOR_VERDICT,
    MIN_STOCKS_PER_DATE,
    Clusters,
    balanced_accuracy_test,
    information_coefficient,
    min_sessions_for_verdict,
    per_date_ic,
    sentiment_index,
    session_intervals,
)
from finsent.specs import DEFAULT_COST_BPS, DEFAULT_DEFINITION, DEFAULT_SELL_TAX_BPS

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


def long_short(daily: pd.DataFrame, cost_bps: float, sell_tax_bps: float = 0.0) -> pd.DataFrame:
    """Per session: gross return, units traded, net return and whether the book was long-only.

    ``daily``: ticker, session_date, mean_p_up, ret_open_close. The book opens at the open and
    closes at the close, so nothing carries over: long-short trades 4 units (2 of them sales),
    long-only (the short-sale ban: top third minus the universe's equal-weight mean, which is a
    benchmark, not a position) 2 units (1 sale)."""
    frame = daily.dropna(subset=["ret_open_close"]).sort_values(["session_date", "mean_p_up", "ticker"],
                                                                 ascending=[True, False, True])
    by_date = frame.groupby("session_date")
    size, rank = by_date["ret_open_close"].transform("size"), by_date.cumcount()
    frame, size, rank = frame[size >= 2], size[size >= 2], rank[size >= 2]
    k = np.maximum(1, size // 3)
    ret = frame.set_index("session_date")["ret_open_close"]
    top = ret[(rank < k).to_numpy()].groupby(level=0).mean()
    bottom = ret[(rank >= size - k).to_numpy()].groupby(level=0).mean()
    everyone = ret.groupby(level=0).mean()
    days = list(everyone.index)
    long_only = np.array([short_sale_banned(day) for day in days], dtype=bool)
    gross = top.to_numpy() - np.where(long_only, everyone.to_numpy(), bottom.to_numpy())
    units, sales = np.where(long_only, 2.0, 4.0), np.where(long_only, 1.0, 2.0)
    net = gross - (units * cost_bps + sales * sell_tax_bps) / 10_000
    return pd.DataFrame({"session_date": days, "gross": gross, "turnover": units, "net": net,
                         "long_only": long_only}, columns=["session_date", "gross", "turnover", "net", "long_only"])


def _sharpe(returns: pd.Series) -> float:
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * math.sqrt(TRADING_DAYS)) if len(returns) > 1 and sd > 0 else float("nan")


def _ic_series(frame: pd.DataFrame) -> pd.DataFrame:
    """The IC series for the plot: per date across stocks, or a 20-session rolling pooled IC."""
    index = sentiment_index(frame)
    if index["ticker"].nunique() >= MIN_STOCKS_PER_DATE:
        return per_date_ic(index)
    # fewer than 3 stocks: a rolling pooled timing correlation (the column keeps the plot's name)
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
    # the rule of spec["definition"] (the default definition's has its name): only a tradable one earns a verdict
    label_rule: str = DEFAULT_DEFINITION
    source: str = DEFAULT_SOURCE  # whose texts were walked (finsent.data.sources): board posts, news headlines
    # per (stock, session): the out-of-sample index (mean_p_up; news: a story counted once) and the return
    index: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    plot_prefix: str = ""  # the names of its plots in a report of both sources ("news_")
    horizon: int = 1  # of the labels: blocks of this many consecutive dates are the units of every verdict

    @property
    def noun(self) -> str:
        return text_source(self.source).noun + "s"

    @property
    def tradable(self) -> bool:
        return self.label_rule in TRADABLE_LABEL_RULES

    @property
    def has_verdict(self) -> bool:
        return self.counts.get("n_sessions", 0) >= min_sessions_for_verdict(self.horizon)

    @property
    def units(self) -> str:
        n = self.counts.get("n_sessions", 0)
        if self.horizon <= 1:
            return f"{n:.0f} session dates"
        blocks = self.counts.get("n_blocks", 0)
        return f"{blocks:.0f} blocks of {self.horizon} consecutive session dates ({n:.0f} dates)"

    @property
    def shows_skill(self) -> bool:
        """The evaluation's rule: enough session dates and the sign-flip p of balanced accuracy < 0.05."""
        skilled = self.metrics.get("oos_p_value_balanced_accuracy", 1.0) < SKILL_P_VALUE
        return self.tradable and self.has_verdict and skilled

    def verdict(self) -> str:
        n = self.counts.get("n_sessions", 0)
        if not self.tradable:
            return (f"no verdict: labels `{self.spec['definition']}` ({self.label_rule}) are not tradable (part of a "
                    "close-to-close move is public after the close), so accuracy and IC here include the overnight "
                    "gap; walk `next_open_close` for a verdict (the long-short below is open to close either way)")
        if not self.has_verdict:
            per = f": 10 blocks of {self.horizon}, its labels span {self.horizon} sessions" if self.horizon > 1 else ""
            return (f"too few sessions for a verdict (n = {n:.0f}; a verdict needs at least "
                    f"{min_sessions_for_verdict(self.horizon)}{per})")
        p = self.metrics.get("oos_p_value_balanced_accuracy", 1.0)
        return (f"{'evidence of skill' if self.shows_skill else 'no evidence of skill'}: out-of-sample balanced "
                f"accuracy {self.metrics.get('oos_balanced_accuracy', float('nan')):.3f}, p = {p:.3g} (sign-flip "
                f"test over {self.units}; skill needs p < {SKILL_P_VALUE})")

    def _signal_rows(self) -> list[str]:
        m, nan = self.metrics, float("nan")
        units = (f"{m.get('ic_sessions', 0):.0f} sessions" if self.horizon <= 1 else
                 f"{m.get('ic_blocks', 0):.0f} blocks of {self.horizon} sessions ({m.get('ic_sessions', 0):.0f} "
                 "sessions)")
        if m.get("ic_per_date"):
            return [f"| IC mean (per date across stocks) [95% interval over {units}] | {m.get('ic_mean', nan):.4f} "
                    f"[{m.get('ic_ci_low', nan):.4f}, {m.get('ic_ci_high', nan):.4f}] |",
                    f"| IC t (Newey-West) / p (sign-flip, IC > 0) over {units} | "
                    f"{m.get('ic_t', nan):.2f} / {m.get('ic_p', nan):.3g} |"]
        return [f"| timing correlation (fewer than 3 stocks: pooled over time, not an IC) [95% interval] | "
                f"{m.get('timing_corr', nan):.4f} [{m.get('timing_corr_ci_low', nan):.4f}, "
                f"{m.get('timing_corr_ci_high', nan):.4f}] |",
                f"| timing correlation t / p over {units} | "
                f"{m.get('timing_corr_t', nan):.2f} / {m.get('timing_corr_p', nan):.3g} |"]

    def _jackknife_units(self) -> str:
        return "session dates" if self.horizon <= 1 else f"blocks of {self.horizon} session dates"

    def _title(self) -> str:
        return f"# Walk-forward backtest `{self.name}`" + _subtitle(self.source)

    def _scope(self) -> str:
        c, s, noun = self.counts, self.spec, self.noun
        stories = f" ({c['n_stories']:.0f} stories: the index counts a story once)" if "n_stories" in c else ""
        return (f"Model `{s['model']}`, labels `{s['definition']}`. Each step trains on {s['train_sessions']} "
                f"sessions, skips {s['embargo']} (the embargo, plus horizon - 1) and scores the "
                f"{noun} of the next {s['step_sessions']} sessions, so every {noun[:-1]} is scored by a model that "
                f"never saw its session: {c['n_steps']:.0f} steps, {c['n_posts']:.0f} scored up/down {noun}{stories} "
                f"in {c['n_clusters']:.0f} (stock, session) clusters on {c['n_sessions']:.0f} session dates.")

    def to_markdown(self) -> str:
        m, s = self.metrics, self.spec
        verdict = self.verdict()

        def ci(name: str, digits: int = 4) -> str:
            return f"{m.get(name, float('nan')):.{digits}f} [{m.get(name + '_ci_low', float('nan')):.{digits}f}, " \
                   f"{m.get(name + '_ci_high', float('nan')):.{digits}f}]"

        return "\n".join([
            self._title(), "", self._scope(), "",
            f"**{verdict}.**", "",
            f"| out of sample | value [95% interval: jackknife over {self._jackknife_units()}] |", "|---|---|",
            f"| accuracy | {ci('oos_accuracy')} |", f"| balanced accuracy | {ci('oos_balanced_accuracy')} |",
            f"| p (balanced accuracy > 0.5, sign-flip over {self.units}) | "
            f"{m.get('oos_p_value_balanced_accuracy', float('nan')):.3g} |",
            "", "| signal | value |", "|---|---:|", *self._signal_rows(),
            f"| long-short mean return per session, before cost [95% interval] | "
            f"{ci('long_short_mean_ret', 5)} |",
            f"| long-short t (Newey-West) / p (sign-flip, mean > 0) over {m.get('long_short_sessions', 0):.0f} "
            f"sessions | {m.get('long_short_t', float('nan')):.2f} / {m.get('long_short_p', float('nan')):.3g} |",
            f"| long-short Sharpe (annualised), before cost | {m.get('long_short_sharpe', float('nan')):.2f} |",
            f"| long-short mean return, after {s.get('cost_bps', DEFAULT_COST_BPS):g} bps a side per unit traded "
            f"and {s.get('sell_tax_bps', DEFAULT_SELL_TAX_BPS):g} bps tax per unit sold | "
            f"{m.get('long_short_mean_ret_net', float('nan')):.5f} |",
            f"| long-short Sharpe, after cost | {m.get('long_short_sharpe_net', float('nan')):.2f} |",
            f"| mean units traded per session | {m.get('long_short_turnover', float('nan')):.2f} |",
            f"| sessions traded (of them long-only: short-sale ban {SHORT_SALE_BAN[0]} .. {SHORT_SALE_BAN[1]}) | "
            f"{m.get('long_short_sessions', 0):.0f} ({m.get('long_short_long_only_sessions', 0):.0f}) |", "",
            "The long-short is long the top third and short the bottom third of stocks by the index each "
            "session (at least one stock each), equal weights, from the open to the close and flat overnight: the "
            f"index uses only {self.noun} written before the open. Each session trades 4 units (2 sales); during the "
            "short-sale ban it is long the top third against the equal-weight average of the universe (2 units, "
            f"1 sale). Plots: `{self.plot_prefix}ic_over_time.png`, `{self.plot_prefix}long_short_cumulative.png`.",
            ""])

    def mlflow_metrics(self) -> dict[str, float]:
        return {**self.counts, **{k: v for k, v in self.metrics.items() if v == v}}

    def plots(self, directory: Path) -> list[Path]:
        from finsent.ml.plots import backtest_plots

        return backtest_plots(self, directory)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {f"{self.plot_prefix}long_short.csv": self.book}


def _oos_metrics(graded: pd.DataFrame, horizon: int = 1) -> tuple[Clusters, dict[str, float]]:
    """Out-of-sample accuracy and balanced accuracy; their intervals and p only with a verdict."""
    y = (graded["label"] == "up").to_numpy().astype(np.int64)
    p = graded["p_up"].to_numpy()
    clusters = Clusters.of(graded["ticker"], graded["session_date"], horizon)
    plain = classification_metrics(y, p)
    metrics = {f"oos_{name}": plain[name] for name in ("accuracy", "balanced_accuracy")}
    if clusters.has_verdict:
        intervals = session_intervals(y, p, clusters)
        for name in ("accuracy", "balanced_accuracy"):
            low, high = intervals.get(name, (float("nan"), float("nan")))
            metrics.update({f"oos_{name}_ci_low": low, f"oos_{name}_ci_high": high})
        metrics["oos_p_value_balanced_accuracy"] = balanced_accuracy_test(y, p, clusters)[1]
    return clusters, metrics


def _book_metrics(book: pd.DataFrame) -> dict[str, float]:
    if len(book) < 2:
        return {}
    metrics = {"long_short_mean_ret": float(book["gross"].mean()), "long_short_sharpe": _sharpe(book["gross"]),
               "long_short_mean_ret_net": float(book["net"].mean()), "long_short_sharpe_net": _sharpe(book["net"]),
               "long_short_turnover": float(book["turnover"].mean()), "long_short_sessions": float(len(book)),
               "long_short_long_only_sessions": float(book["long_only"].sum())}
    if len(book) >= MIN_SESSIONS_FOR_VERDICT:  # the book holds one session: its dates are the units
        gross = book["gross"].to_numpy()
        low, high = mean_interval(gross)
        metrics.update({"long_short_t": newey_west_t(gross), "long_short_p": sign_flip_p(gross),
                        "long_short_mean_ret_ci_low": low, "long_short_mean_ret_ci_high": high})
    return metrics


def _source_report(engine: Engine, run: BacktestRun, source: str, scores: pd.DataFrame,
                   returns: pd.DataFrame, rule: str, horizon: int = 1) -> BacktestReport:
    """One source's report: accuracy over its scored texts, the IC and the book over its index (news:
    a story counted once)."""
    scored = run.texts(source).merge(scores, on=["ticker", "post_id"])
    clusters, metrics = _oos_metrics(scored[scored["label"].isin(["up", "down"])], horizon)
    stories = per_story(scored)
    ic = information_coefficient(stories[["ticker", "session_date", "p_up", "ret"]], horizon)
    renamed = {"ic": "ic_mean"}  # the backtest's historical name for the mean per-date IC
    metrics.update({renamed.get(k, k): v for k, v in ic.items() if k != "ic_pairs"})
    index = sentiment_index(stories)
    daily = index.merge(returns, on=["ticker", "session_date"], how="left")
    book = long_short(daily, run.spec.cost_bps, run.spec.sell_tax_bps)
    metrics.update(_book_metrics(book))
    counts = {**clusters.counts(), "n_steps": float(sum(step.source == source for step in run.steps))}
    text = text_source(source)
    if text.story_key:  # its index counts a story once
        counts["n_stories"] = float(len(stories))
    return BacktestReport(run.name, run.spec.to_json(), counts, metrics, book, _ic_series(stories), rule, source,
                          index, text.prefix if len(run.walks) > 1 else "", clusters.horizon)


def build_report(engine: Engine, run: BacktestRun) -> BacktestReport | SourcesReport:
    """The report of each source walked; with both, side by side and compared on their common sessions."""
    scores, returns = _scores(engine, run.name), _intraday_returns(engine)
    with raw_connection(engine) as raw, raw.cursor() as cur:
        definition = load_definition(cur, run.spec.definition)
    rule, horizon = definition.rule, definition.horizon
    reports = {w.source: _source_report(engine, run, w.source, scores, returns, rule, horizon) for w in run.walks}
    if len(reports) == 1:
        return reports[run.walks[0].source]
    first, second = list(reports)[:2]  # the board and the news where both were walked (walk order)
    return SourcesReport(run.name, run.spec.to_json(), reports,
                         compare_sources(reports[first].index, reports[second].index, horizon=horizon))


def _subtitle(source: str) -> str:
    """After a walk's title: nothing for the board (as before sources), else its texts ("news headlines")."""
    return "" if source == DEFAULT_SOURCE else f": {text_source(source).heading.lower()}"


@dataclass
class SourcesReport:
    """A `--source both` backtest: the board's report, the news report, and their comparison. Its
    metrics are the board's under their usual names, the news ones as ``news_*``, the comparison's
    as ``compare_*``."""

    name: str
    spec: dict
    reports: dict[str, BacktestReport]
    comparison: SourceComparison

    @property
    def metrics(self) -> dict[str, float]:
        # the board's under their usual names (its prefix is empty), each other source's under its prefix
        return {**{text_source(s).prefix + k: v for s, one in self.reports.items() for k, v in one.metrics.items()},
                **{f"compare_{k}": v for k, v in self.comparison.metrics.items()}}

    @property
    def counts(self) -> dict[str, float]:
        return {text_source(s).prefix + k: v for s, report in self.reports.items() for k, v in report.counts.items()}

    def to_markdown(self) -> str:
        parts = [f"# Walk-forward backtest `{self.name}`: board posts and news headlines", "",
                 "Each source is walked by a model of its own (trained on its texts only), with the same options.", ""]
        for source, report in self.reports.items():
            body = report.to_markdown().split("\n", 1)[1]  # without its own title
            parts += [f"## {text_source(source).heading}", body.strip(), ""]
        return "\n".join([*parts, self.comparison.to_markdown()])

    def mlflow_metrics(self) -> dict[str, float]:
        return {**self.counts, **{k: v for k, v in self.metrics.items() if v == v}}

    def plots(self, directory: Path) -> list[Path]:
        from finsent.ml.plots import ic_by_source_plot

        paths = [path for report in self.reports.values() for path in report.plots(directory)]
        return [*paths, ic_by_source_plot(self.comparison.ic_dates, directory / "ic_by_source.png")]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: frame for report in self.reports.values() for name, frame in report.tables().items()}


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


def log_report(settings, engine: Engine, report: BacktestReport | SourcesReport) -> str:
    """One MLflow run tagged ``backtest=NAME``: params, metrics, plots, the report; returns its id.
    A second call (after a kill during the logging) logs into the same run again."""
    import mlflow

    from finsent.ml.registry import configure, private_run

    client = configure(settings)
    run_id = _report_run(client, engine, report.name)
    with tempfile.TemporaryDirectory(prefix="finsent-backtest-") as scratch, private_run(settings, run_id=run_id):
        mlflow.log_params({k: str(v)[:500] for k, v in report.spec.items()})
        mlflow.log_metrics(report.mlflow_metrics())
        for path in report.plots(Path(scratch)):
            mlflow.log_artifact(str(path), "plots")
        mlflow.log_text(report.to_markdown(), "backtest/report.md")
        for name, frame in report.tables().items():
            mlflow.log_text(frame.to_csv(index=False), f"backtest/{name}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE backtests SET status = 'done', finished_at = now() WHERE name = %(n)s",
                             {"n": report.name})
    return run_id
