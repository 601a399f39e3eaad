"""`finsent study`: rerun and --replace rules, --json, the tables and the MLflow run."""

from __future__ import annotations

import json

from mlflow import MlflowClient

from finsent.cli import main
from finsent.config import load_settings
from finsent.ml.backtest import run_backtest
from finsent.ml.backtest.spec import BacktestSpec
from finsent.ml.registry import tracking_uri
from tests.data.board import query
from tests.ml.board import make_board

SPEC = BacktestSpec(train_sessions=20, step_sessions=4)
GRID_KEYS = {"signal", "target", "horizon", "ic", "ic_low", "ic_high", "sessions", "p", "p_adjusted", "verdict"}
BOOK_KEYS = {"signal", "hold", "kind", "net_sharpe", "turnover", "break_even_bps", "sessions"}


def test_a_study_is_saved_reprinted_and_replaced_only_when_asked(engine, capsys):
    make_board(engine, planted=False, sessions=45, tickers=("005930", "000660", "035420"), per_session=6)
    run_backtest(load_settings(), engine, "b", SPEC)
    assert main(["study", "s", "--backtest", "b", "--horizons", "1,5", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert {"grid", "books"} <= set(first) and all(set(c) >= GRID_KEYS for c in first["grid"])
    assert all(set(b) >= BOOK_KEYS for b in first["books"])
    assert {(c["signal"], c["horizon"]) for c in first["grid"]} == {
        (s, h) for s in ("text", "attention", "disagreement") for h in (1, 5)}
    assert {b["kind"] for b in first["books"]} == {"long_short", "long_only"}
    assert all(c["verdict"] in ("signal", "no signal", "too few sessions") for c in first["grid"])
    assert query(engine, "SELECT count(*) FROM study_cells WHERE study = 's'")[0][0] == len(first["grid"])
    assert query(engine, "SELECT count(*) FROM study_books WHERE study = 's'")[0][0] == len(first["books"])
    # the same spec again: the saved study, not a new computation (nor a second MLflow run)
    assert main(["study", "s", "--backtest", "b", "--horizons", "1,5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert main(["study", "s", "--backtest", "b", "--horizons", "1,5"]) == 0
    assert "the saved study" in capsys.readouterr().out
    client = MlflowClient(tracking_uri(load_settings()))
    experiment = client.get_experiment_by_name("finsent").experiment_id
    (logged,) = client.search_runs([experiment], "tags.study = 's'")
    assert {a.path for a in client.list_artifacts(logged.info.run_id, "plots")} >= {
        "plots/ic_heat_map.png", "plots/quantile_returns.png", "plots/books_cumulative.png", "plots/turnover.png"}
    assert "text.return.h1.ic" in logged.data.metrics
    # another spec under the same name: exit 2, nothing changed; with --replace it is computed again
    assert main(["study", "s", "--backtest", "b", "--horizons", "1"]) == 2
    assert query(engine, "SELECT count(*) FROM study_cells WHERE study = 's'")[0][0] == len(first["grid"])
    assert main(["study", "s", "--backtest", "b", "--horizons", "1", "--replace", "--json"]) == 0
    replaced = json.loads(capsys.readouterr().out)
    assert {c["horizon"] for c in replaced["grid"]} == {1}
    assert query(engine, "SELECT DISTINCT horizon FROM study_cells WHERE study = 's'") == [(1,)]
    # the backtest walked again under its name: its studies go with the old walk (their scores are gone)
    run_backtest(load_settings(), engine, "b", SPEC, replace=True)
    assert query(engine, "SELECT count(*) FROM studies") == [(0,)]


def test_bad_study_input_is_exit_2(engine, capsys):
    assert main(["study", "s", "--backtest", "nothing"]) == 2
    assert main(["study", "s", "--backtest", "nothing", "--horizons", "0"]) == 2
    assert main(["study", "s", "--backtest", "nothing", "--signals", "engagement"]) == 2
    assert main(["study", "../s", "--backtest", "nothing"]) == 2


def test_the_sentiment_page_shows_the_newest_study(engine):
    from finsent.web.page import View, render_sentiment_page

    assert "no study yet" in render_sentiment_page(engine, load_settings())
    make_board(engine, planted=False, sessions=40, tickers=("005930", "000660", "035420"), per_session=4)
    run_backtest(load_settings(), engine, "b", SPEC)
    assert main(["study", "weekly-view", "--backtest", "b", "--horizons", "1"]) == 0
    page = render_sentiment_page(engine, load_settings())  # the overview: its few lines and a link
    assert "study <b>weekly-view</b>" in page and 'href="sentiment?view=study"' in page
    assert " no signal, " in page and " too few sessions" in page
    whole = render_sentiment_page(engine, load_settings(), view=View(study=True))
    assert "study <b>weekly-view</b>" in whole and "break-even" in whole
    assert "no signal" in whole or "too few sessions" in whole
