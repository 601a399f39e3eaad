"""The ml room's commands (finsent.ml.cli): scoring and the backtest offer every text source, and the
defaults they show are the ones declared once (finsent.specs, finsent.ml.models.kinds)."""

from __future__ import annotations

import pytest

from finsent.cli import build_parser
from finsent.data.sources import EVERY_SOURCE, SOURCE_NAMES
from finsent.ml.cli import cmd_backtest, cmd_score, cmd_train
from finsent.ml.models.kinds import DEFAULT_KIND
from finsent.specs import DEFAULT_COST_BPS, DEFAULT_DEFINITION, DEFAULT_SELL_TAX_BPS


def test_score_and_backtest_defaults(capsys):
    parser = build_parser()
    score = parser.parse_args(["score"])
    assert score.func is cmd_score and score.source == EVERY_SOURCE and score.news_alias == "champion"
    walk = parser.parse_args(["backtest", "weekly"])
    assert walk.func is cmd_backtest and walk.source == SOURCE_NAMES[0] and walk.model == DEFAULT_KIND
    assert (walk.definition, walk.cost_bps, walk.sell_tax_bps) == (DEFAULT_DEFINITION, DEFAULT_COST_BPS,
                                                                   DEFAULT_SELL_TAX_BPS) == ("next_open_close", 20, 20)
    assert parser.parse_args(["train", "--dataset", "d"]).func is cmd_train
    comments = parser.parse_args(["score", "--source", "comments", "--comments-alias", "3"])
    assert (comments.source, comments.comments_alias) == ("comments", "3")
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["score", "--source", "replies"])
    assert refused.value.code == 2 and "invalid choice: 'replies'" in capsys.readouterr().err
