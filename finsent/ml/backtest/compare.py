"""Board and news on the same sessions: which index predicts better, and is news just the board again?

A `--source both` backtest (``finsent.ml.backtest.spec.COMPARED``: every source walked, then compared)
walks each source with its own model; this compares their out-of-sample daily indexes where both
exist (``common_index``), on the same footing:

- the IC (per session date, the Spearman correlation across stocks between an index and the
  session's return, as the backtest's own IC) of the board's index, of the news index and of their
  **combination**, fixed in advance and fitted on nothing: the mean of the two indexes, each
  standardized across stocks on that date (z-scores). All three over the same (stock, session)
  pairs (those both indexes cover) and the same dates (those with an IC of all three), so the
  numbers differ only by the index;
- the paired test: per date, the IC difference (news - board, combined - board); its mean with a
  **paired t over sessions** (t(n - 1), two-sided p) and its 95% interval (the mean +- t(n - 1) x
  its standard error: the t test's own interval; the same for each index's mean IC);
- the Spearman correlation of the two indexes pooled over the common (stock, session) pairs, with
  an interval from a bootstrap over session dates (dates resampled with replacement, the pairs of
  a date kept together): near 1, news only repeats what the board says.

With labels over h sessions (the definition's horizon) neighbouring dates share sessions: the mean
ICs, their t and intervals then run over blocks of h consecutive dates with the covariance of
neighbouring blocks added back (``finsent.ml.overlap.mean_interval``, ``t_test``: t(B - 1)), and
the bootstrap resamples blocks of h dates. The bootstrap interval is the estimate +- t(n - 1) x
its standard error over ``BOOTSTRAP_DRAWS`` seeded resamples (studentized: the plain percentile
interval under-covered at few sessions). Below ``min_sessions_for_verdict`` common dates there is
no interval, no p and no verdict: the report says "too few sessions (n)".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from finsent.ml.evaluate import SKILL_P_VALUE
from finsent.ml.overlap import block_bootstrap_indices, bootstrap_interval, mean_interval, n_blocks, t_test
from finsent.ml.stats import MIN_STOCKS_PER_DATE, min_sessions_for_verdict, per_date_ic

BOOTSTRAP_DRAWS = 1999
BOOTSTRAP_SEED = 20
INDEXES = ("board", "news", "combined")
DIFFERENCES = {"news_minus_board": ("news", "board"), "combined_minus_board": ("combined", "board")}
NAN = float("nan")


@dataclass
class SourceComparison:
    n_pairs: int  # (stock, session) pairs both indexes cover
    n_stocks: int
    ic_dates: pd.DataFrame = field(repr=False)  # session_date and the IC of each of INDEXES, common dates only
    metrics: dict[str, float] = field(default_factory=dict)
    horizon: int = 1  # of the labels: blocks of this many dates are the units

    @property
    def n_sessions(self) -> int:
        return len(self.ic_dates)

    @property
    def has_verdict(self) -> bool:
        return self.n_sessions >= min_sessions_for_verdict(self.horizon)

    @property
    def units(self) -> str:
        if self.horizon <= 1:
            return f"{self.n_sessions} sessions"
        return f"{n_blocks(self.n_sessions, self.horizon)} blocks of {self.horizon} sessions"

    def verdict(self) -> str:
        if not self.has_verdict:
            return (f"no verdict: too few sessions ({self.n_sessions}) in common; a verdict needs at least "
                    f"{min_sessions_for_verdict(self.horizon)}")
        m = self.metrics
        p, diff = m["diff_news_minus_board_p"], m["diff_news_minus_board"]
        if not p < SKILL_P_VALUE:
            return (f"no evidence that the news IC differs from the board's: news - board {diff:+.4f}, p = {p:.3g} "
                    f"(paired t over {self.units})")
        better = "higher" if diff > 0 else "lower"
        return (f"the news IC is {better} than the board's: news - board {diff:+.4f}, p = {p:.3g} (paired t over "
                f"{self.units})")

    def to_markdown(self) -> str:
        return comparison_markdown(self)


def _standardized(index: pd.DataFrame, column: str) -> pd.Series:
    """The index as z-scores across the stocks of each date (NaN where a date has no spread)."""
    by_date = index.groupby("session_date")[column]
    sd = by_date.transform("std", ddof=0)
    return (index[column] - by_date.transform("mean")) / sd.where(sd > 0)


def common_index(board: pd.DataFrame, news: pd.DataFrame) -> pd.DataFrame:
    """The (ticker, session) pairs both daily indexes (ticker, session_date, mean_p_up, ret) cover:
    board, news and combined (the mean of the two standardized per date), with the session's return."""
    common = board[["ticker", "session_date", "mean_p_up", "ret"]].merge(
        news[["ticker", "session_date", "mean_p_up"]], on=["ticker", "session_date"], suffixes=("_board", "_news"))
    common = common.rename(columns={"mean_p_up_board": "board", "mean_p_up_news": "news"})
    common["combined"] = (_standardized(common, "board") + _standardized(common, "news")) / 2
    return common.sort_values(["session_date", "ticker"], ignore_index=True)


def _ic_dates(common: pd.DataFrame) -> pd.DataFrame:
    """Per date with an IC of every index (at least 3 stocks and some spread in each): the three ICs."""
    frames = [per_date_ic(common.rename(columns={name: "mean_p_up"})[["session_date", "mean_p_up", "ret"]].dropna())
              .set_index("session_date")["ic"].rename(name) for name in INDEXES]
    return pd.concat(frames, axis=1, join="inner").dropna().reset_index()


def _draws(n: int, horizon: int) -> np.ndarray:
    """Seeded resamples of n dates in blocks of ``horizon`` (rows of indices), the same for every
    statistic: a paired bootstrap."""
    return block_bootstrap_indices(n, horizon, BOOTSTRAP_DRAWS, [BOOTSTRAP_SEED, n])


def _spearman(board: np.ndarray, news: np.ndarray) -> float:
    if len(board) < 3 or np.ptp(board) == 0 or np.ptp(news) == 0:
        return NAN
    return float(np.corrcoef(scipy_stats.rankdata(board), scipy_stats.rankdata(news))[0, 1])


def _correlation(common: pd.DataFrame, with_interval: bool, horizon: int) -> dict[str, float]:
    """The pooled Spearman correlation of the two indexes, its date-bootstrap interval when asked."""
    board, news = common["board"].to_numpy(dtype=np.float64), common["news"].to_numpy(dtype=np.float64)
    out = {"index_corr": _spearman(board, news), "index_corr_pairs": float(len(common)),
           "index_corr_sessions": float(common["session_date"].nunique())}
    if with_interval:
        rows = list(common.groupby("session_date").indices.values())  # the rows of each date
        values = []
        for draw in _draws(len(rows), horizon):
            picked = np.concatenate([rows[i] for i in draw])
            values.append(_spearman(board[picked], news[picked]))
        out["index_corr_ci_low"], out["index_corr_ci_high"] = bootstrap_interval(
            out["index_corr"], np.array(values), n_blocks(len(rows), horizon), (-1.0, 1.0))
    return out


def compare_sources(board: pd.DataFrame, news: pd.DataFrame, *, correlation_interval: bool = True,
                    horizon: int = 1) -> SourceComparison:
    """The comparison of two daily indexes (ticker, session_date, mean_p_up, ret) on their common pairs,
    ``ret`` the return of labels over ``horizon`` sessions (``correlation_interval=False``: without the
    correlation's bootstrap, the slow part, for simulations)."""
    common = common_index(board, news)
    ics = _ic_dates(common) if common["ticker"].nunique() >= MIN_STOCKS_PER_DATE else pd.DataFrame(
        columns=["session_date", *INDEXES])
    result = SourceComparison(len(common), int(common["ticker"].nunique()), ics, horizon=max(1, int(horizon)))
    n, verdict = len(ics), result.has_verdict
    metrics: dict[str, float] = {"n_pairs": float(len(common)), "n_sessions": float(n),
                                 "n_blocks": float(n_blocks(n, result.horizon))}
    columns = {name: ics[name].to_numpy(dtype=np.float64) for name in INDEXES}
    columns.update({key: columns[a] - columns[b] for key, (a, b) in DIFFERENCES.items()})
    for name, values in columns.items():
        key = f"ic_{name}" if name in INDEXES else f"diff_{name}"
        metrics[key] = float(values.mean()) if n else NAN
        if verdict:
            metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = mean_interval(values, result.horizon)
            if name in DIFFERENCES:
                metrics[f"{key}_t"], metrics[f"{key}_p"] = t_test(values, result.horizon)
    if len(common):
        enough = common["session_date"].nunique() >= min_sessions_for_verdict(result.horizon)
        metrics.update(_correlation(common, correlation_interval and enough, result.horizon))
    result.metrics = metrics
    return result


def comparison_markdown(c: SourceComparison) -> str:
    m, n = c.metrics, c.n_sessions

    def value(key: str) -> str:
        low, high = m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
        interval = f" [{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""
        return f"{m.get(key, NAN):.4f}{interval}"

    def test(key: str) -> str:
        return f"{m.get(key + '_t', NAN):.2f} / {m.get(key + '_p', NAN):.3g}" if c.has_verdict else "-"

    units = "sessions" if c.horizon <= 1 else f"blocks of {c.horizon} sessions"
    return "\n".join([
        "## Board and news on the same sessions", "",
        f"The IC of each index (per session, Spearman across stocks with the label's return) over the same "
        f"{n} session dates and the same {c.n_pairs} (stock, session) pairs that both indexes cover ({c.n_stocks} "
        "stocks); the news index counts a story once. *Combined*: the mean of the two indexes, each standardized "
        "across stocks per session (equal weights, fixed in advance: nothing is fitted).", "",
        f"**{c.verdict()}.**", "",
        f"| index | mean IC [95% interval over {units}] | sessions |", "|---|---|---:|",
        *[f"| {name} | {value('ic_' + name)} | {n} |" for name in INDEXES], "",
        f"| paired, per session | mean IC difference [95% interval] | paired t over {units} / p "
        "(two-sided) | sessions |", "|---|---|---|---:|",
        *[f"| {a} - {b} | {value('diff_' + key)} | {test('diff_' + key)} | {n} |"
          for key, (a, b) in DIFFERENCES.items()], "",
        f"| is news what the board repeats? | value [95% interval: bootstrap over {units}] | pairs / sessions |",
        "|---|---|---:|",
        f"| Spearman correlation of the two indexes, pooled over (stock, session) | {value('index_corr')} | "
        f"{m.get('index_corr_pairs', 0):.0f} / {m.get('index_corr_sessions', 0):.0f} |", "",
        f"Intervals: the mean IC +- t(n - 1) x its standard error over {units} (the paired t's own interval); the "
        f"correlation +- t(n - 1) x its standard error over {BOOTSTRAP_DRAWS} resamples of the {units} (paired: "
        f"one resample for both indexes); none below {min_sessions_for_verdict(c.horizon)} sessions. Plot: "
        "`ic_by_source.png`.", ""])
