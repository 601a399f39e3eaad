"""``finsent backtest``: a walk-forward over the session dates, resumable per step.

At each step the model trains on the labelled (up/down) posts of ``train_sessions`` sessions,
skips ``embargo`` sessions (plus h - 1 for a horizon-h label: ``finsent.data.embargo``, the same
meaning as a snapshot's), then scores every post whose label session is one of the next
``step_sessions`` sessions. So a post is only ever scored by a model whose last training label
(``trained_through``) was known before the post's own session opened. Each step commits its
scores, its daily index rows, its ``backtest_steps`` row and the baseline's warm-start state
together; a killed or chunked run resumes at the next step from that state, so it scores every
post exactly as one uninterrupted run (LoRA steps train with the seed ``seed + step``).
Every setting and every window is checked before anything is written. ``--source news`` walks
news headlines the same way (``texts``); ``--source both`` walks each source with its own model
and its own steps over its own sessions under one name (steps, scores and the daily index carry
their source), the board's steps first.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from finsent.config import Settings
from finsent.data.embargo import sessions_skipped
from finsent.data.sources import DEFAULT_SOURCE
from finsent.db import advisory_lock, raw_connection, raw_transaction
from finsent.errors import ConfigError, FinsentError
from finsent.logs.progress import Progress
from finsent.ml.backtest.spec import PLAN_VERSION, BacktestSpec
from finsent.ml.backtest.texts import input_hash, load_labelled_posts, load_texts, per_story
from finsent.ml.models.texts import texts_of

__all__ = ["BacktestRun", "BacktestSpec", "SourceWalk", "Step", "load_labelled_posts", "plan_steps", "walk_forward"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class Step:
    number: int
    train_from: date
    train_through: date
    score_from: date
    score_to: date
    source: str = DEFAULT_SOURCE  # whose texts the step's model trains on and scores (a `both` walk has both)


def plan_steps(sessions: list[date], spec: BacktestSpec, horizon: int, source: str = DEFAULT_SOURCE) -> list[Step]:
    """Steps over the sorted session dates; the first one has a full training window behind it.
    Between a step's last training session and its first scored one lie exactly
    ``sessions_skipped(embargo, horizon)`` sessions."""
    gap = sessions_skipped(spec.embargo, horizon)
    first = spec.train_sessions + gap  # the index of the first scored session
    steps = []
    for number, start in enumerate(range(first, len(sessions), spec.step_sessions)):
        end = min(start + spec.step_sessions, len(sessions)) - 1
        steps.append(Step(number, sessions[start - gap - spec.train_sessions], sessions[start - gap - 1],
                          sessions[start], sessions[end], source))
    return steps


@dataclass
class SourceWalk:
    """One source's part of a walk: its labelled texts and its own steps over its own sessions."""

    source: str
    texts: pd.DataFrame
    steps: list[Step]


@dataclass
class BacktestRun:
    name: str
    spec: BacktestSpec
    walks: list[SourceWalk]  # one per source, in the spec's order
    done: int  # steps committed so far, of all sources

    @property
    def steps(self) -> list[Step]:
        return [step for walk in self.walks for step in walk.steps]

    @property
    def posts(self) -> pd.DataFrame:
        """The texts walked (of one source; of both with a ``source`` column)."""
        if len(self.walks) == 1:
            return self.walks[0].texts
        return pd.concat([w.texts.assign(source=w.source) for w in self.walks], ignore_index=True)

    def texts(self, source: str) -> pd.DataFrame:
        return next(w.texts for w in self.walks if w.source == source)

    @property
    def finished(self) -> bool:
        return self.done == len(self.steps)


def _open(engine: Engine, name: str, spec: BacktestSpec, digest: str, steps: int,
          replace: bool) -> set[tuple[str, int]]:
    """The backtest's row (created, or checked for a resume); the (source, number) of the steps already done."""
    stored_spec = {**spec.to_json(), "input_hash": digest, "plan": PLAN_VERSION}
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        if replace:
            cur.execute("DELETE FROM backtests WHERE name = %s", (name,))
        cur.execute("SELECT spec FROM backtests WHERE name = %s", (name,))
        found = cur.fetchone()
        if found is None:
            cur.execute("INSERT INTO backtests (name, spec, steps_total) VALUES (%s, %s, %s)",
                        (name, json.dumps(stored_spec), steps))
            return set()
        if found[0] != stored_spec:
            changed = sorted(k for k in stored_spec.keys() | found[0].keys() if found[0].get(k) != stored_spec.get(k))
            raise ConfigError(f"backtest {name!r} exists with other settings or inputs ({', '.join(changed)}); "
                              "resume it with the same options, or pass --replace to start it again")
        cur.execute("SELECT source, step FROM backtest_steps WHERE backtest = %s", (name,))
        return {(row[0], row[1]) for row in cur.fetchall()}


def _save_step(engine: Engine, name: str, step: Step, scored: pd.DataFrame, n_train: int,
               warm_state: bytes | None) -> None:
    """Scores, daily index rows, the step row and the warm-start state after the step: all committed
    together, or none. Only the newest step of each source keeps its state (a resume needs no other).
    The daily index of news counts a story once (``per_story``)."""
    lines = "".join(f"{name}\t{t}\t{pid}\t{p:.6f}\t{step.train_through}\t{d}\t{step.source}\n"
                    for t, pid, p, d in scored[["ticker", "post_id", "p_up", "session_date"]].itertuples(index=False))
    daily = (per_story(scored).groupby(["ticker", "session_date"])
             .agg(n_posts=("p_up", "size"), mean_p_up=("p_up", "mean"), ret=("ret", "first")).reset_index())
    with raw_transaction(engine) as raw, raw.cursor() as cur:
        cur.copy_expert("COPY backtest_scores (backtest, ticker, post_id, p_up, trained_through, session_date, "
                        "source) FROM STDIN", io.StringIO(lines))
        cur.executemany("INSERT INTO backtest_daily (backtest, source, ticker, session_date, n_posts, mean_p_up, ret) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [(name, step.source, r.ticker, r.session_date, int(r.n_posts), float(r.mean_p_up),
                          float(r.ret)) for r in daily.itertuples(index=False)])
        cur.execute("UPDATE backtest_steps SET warm_state = NULL WHERE backtest = %s AND source = %s "
                    "AND warm_state IS NOT NULL", (name, step.source))
        cur.execute("INSERT INTO backtest_steps (backtest, source, step, trained_from, trained_through, scored_from, "
                    "scored_to, n_train, n_scored, warm_state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (name, step.source, step.number, step.train_from, step.train_through, step.score_from,
                     step.score_to, n_train, len(scored), warm_state))


class _Refit:
    """Fits one step's model on its window and scores the next sessions (one source's texts)."""

    def __init__(self, spec: BacktestSpec, posts: pd.DataFrame) -> None:
        self.spec, self.posts = spec, posts
        self.texts = np.array(texts_of(posts, spec.text_spec), dtype=object)  # what every step's model reads
        if spec.model == "baseline":
            from finsent.ml.backtest.windowed import WindowedBaseline

            self.windowed = WindowedBaseline(self.texts.tolist(), tokenizer=spec.tokenizer)
        else:  # bad options fail before the first step
            spec.transformer.validate()
            spec.transformer.resolved(spec.model)

    def fit_predict(self, step: Step, train: np.ndarray, labels: np.ndarray, score: np.ndarray) -> np.ndarray:
        if self.spec.model == "baseline":
            return self.windowed.fit_predict(train, labels, score)
        from dataclasses import replace

        from finsent.ml.models import new_classifier

        # a seed of the step's own: a resumed step trains exactly as it would have in one run
        options = replace(self.spec.transformer, seed=self.spec.transformer.seed + step.number)
        model = new_classifier(self.spec.model, options)
        model.fit(self.texts[train].tolist(), labels)
        return model.predict_proba(self.texts[score].tolist())

    def warm_state(self) -> bytes | None:
        """What the next step starts from (the baseline's coefficients; a LoRA step starts afresh)."""
        return self.windowed.warm_state() if self.spec.model == "baseline" else None

    def restore(self, engine: Engine, name: str, source: str, first: int) -> None:
        """Before resuming the source's walk at step ``first``: the state the step before it committed."""
        if first == 0 or self.spec.model != "baseline":
            return
        with raw_connection(engine) as raw, raw.cursor() as cur:
            cur.execute("SELECT warm_state FROM backtest_steps WHERE backtest = %s AND source = %s AND step = %s",
                        (name, source, first - 1))
            found = cur.fetchone()
        if found and found[0] is not None:
            self.windowed.restore(bytes(found[0]))
            return
        raise FinsentError(f"backtest {name!r}: step {first - 1} stored no warm-start state (an older walk); "
                           "pass --replace to walk it again")


def _who(source: str) -> str:
    """How an error names the source: the board as always, news by name."""
    return "" if source == DEFAULT_SOURCE else f"{source}: "


def _windows(posts: pd.DataFrame, steps: list[Step]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per step: the training rows, their labels (1 = up) and the rows to score. A window with one
    class only is an error here, before anything is written."""
    session_of = pd.to_datetime(posts["session_date"]).to_numpy()
    trainable = posts["label"].isin(["up", "down"]).to_numpy()
    up = (posts["label"] == "up").to_numpy()
    windows = []
    for step in steps:
        train = np.flatnonzero(trainable & (session_of >= np.datetime64(step.train_from))
                               & (session_of <= np.datetime64(step.train_through)))
        score = np.flatnonzero((session_of >= np.datetime64(step.score_from))
                               & (session_of <= np.datetime64(step.score_to)))
        if len(np.unique(up[train])) < 2:
            raise ConfigError(f"{_who(step.source)}step {step.number}: the window {step.train_from}.."
                              f"{step.train_through} has one class only; widen --train-sessions (nothing was written)")
        windows.append((train, up[train].astype(np.int64), score))
    return windows


def _plan(engine: Engine, spec: BacktestSpec, source: str) -> SourceWalk | None:
    """The source's labelled texts and its steps; every way the walk cannot run is a ConfigError here.
    None: a walk of every source meets one with no labelled texts at all (comments not crawled yet)."""
    from finsent.data.labels import load_definition

    with raw_connection(engine) as raw, raw.cursor() as cur:
        horizon = load_definition(cur, spec.definition).horizon
    texts = load_texts(engine, spec, source)
    if texts.empty and len(spec.sources) > 1:
        log.info("backtest: no labelled %s under %r: not walked", source, spec.definition)
        return None
    sessions = sorted(texts["session_date"].unique())
    steps = plan_steps(sessions, spec, horizon, source)
    if not steps:
        raise ConfigError(
            f"{_who(source)}{len(sessions)} labelled sessions under {spec.definition!r}: a walk needs more than "
            f"--train-sessions ({spec.train_sessions}) + {sessions_skipped(spec.embargo, horizon)} skipped "
            f"session(s) (embargo {spec.embargo}, horizon {horizon}); nothing was written")
    return SourceWalk(source, texts, steps)


def walk_forward(settings: Settings, engine: Engine, name: str, spec: BacktestSpec, *, replace: bool = False,
                 steps_per_run: int | None = None) -> BacktestRun:
    """Run (or resume) the walk; ``steps_per_run`` stops early, and the next call goes on from there.
    With ``--source both`` each source walks its own steps with its own model, the board's first."""
    if not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"backtest name {name!r}: use 1-100 letters, digits, '_', '-' or '.'")
    spec.validate()
    with advisory_lock(engine, f"backtest:{name}"):
        walks = [walk for walk in (_plan(engine, spec, source) for source in spec.sources) if walk is not None]
        if len(spec.sources) > 1 and len(walks) < 2:  # a comparison needs two sources with texts
            empty = [source for source in spec.sources if source not in {w.source for w in walks}]
            raise ConfigError(f"no labelled texts of {', '.join(empty)} under {spec.definition!r}: --source "
                              f"{spec.source} compares at least two sources; nothing was written")
        windows = {w.source: _windows(w.texts, w.steps) for w in walks}
        refits = {w.source: _Refit(spec, w.texts) for w in walks}
        total = sum(len(w.steps) for w in walks)
        done = _open(engine, name, spec, input_hash([w.texts for w in walks]), total, replace)
        if done:
            log.info("backtest %s: resuming after %d of %d steps", name, len(done), total)
        progress = Progress(log, f"backtest {name}", total)
        progress.done = len(done)
        pending = [step for w in walks for step in w.steps if (step.source, step.number) not in done]
        for source, refit in refits.items():
            first = next((step.number for step in pending if step.source == source), None)
            if first is not None:
                refit.restore(engine, name, source, first)
        for step in pending[:steps_per_run]:
            train, labels, score = windows[step.source][step.number]
            refit, texts = refits[step.source], next(w.texts for w in walks if w.source == step.source)
            scored = texts.iloc[score].assign(p_up=refit.fit_predict(step, train, labels, score))
            _save_step(engine, name, step, scored, len(train), refit.warm_state())
            done.add((step.source, step.number))
            progress.advance(note=f"{_who(step.source)}scored {step.score_from}..{step.score_to} "
                                  f"(trained through {step.train_through})")
        return BacktestRun(name, spec, walks, len(done))
