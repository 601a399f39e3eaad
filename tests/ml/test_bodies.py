"""Models read the whole post: a board whose view sits in the body under a neutral title is chance
to a title-only model and not to a title+body one, and the served pyfunc reads the body."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from finsent.config import load_settings
from finsent.data.build import build_dataset
from finsent.data.snapshots import load_snapshot
from finsent.ml.evaluate import evaluate_predictions
from finsent.ml.models.base import encode_labels
from finsent.ml.models.baseline import BaselineClassifier
from finsent.ml.models.texts import texts_of
from finsent.ml.registry import load_pyfunc, predict
from finsent.ml.score import score_posts
from finsent.ml.train import train_model
from tests.data.board import query
from tests.ml.board import VERDICT_SPEC, make_board


def fitted_report(engine, name: str):
    snapshot = load_snapshot(engine, name)
    train, test = snapshot.part("train"), snapshot.part("test")
    model = BaselineClassifier()
    model.fit(texts_of(train, snapshot.text), encode_labels(train["label"]))
    p = model.predict_proba(texts_of(test, snapshot.text))
    return test, evaluate_predictions(name, test, p, float((train["label"] == "up").mean()), {})


def test_a_view_in_the_body_is_chance_to_titles_and_skill_to_title_and_body(engine):
    make_board(engine, planted=True, view_in="body")
    data_dir = load_settings().data_dir
    build_dataset(engine, "titles", replace(VERDICT_SPEC, text="title"), data_dir)
    build_dataset(engine, "whole", VERDICT_SPEC, data_dir)  # title+body: the default
    titles_test, titles = fitted_report(engine, "titles")
    whole_test, whole = fitted_report(engine, "whole")
    # one frozen test: the same rows, read two ways
    assert titles_test[["ticker", "post_id"]].equals(whole_test[["ticker", "post_id"]])
    assert titles.has_verdict and not titles.shows_skill, titles.verdict()
    low, high = titles.intervals["balanced_accuracy"]
    assert low < 0.5 < high
    assert whole.shows_skill and whole.metrics["balanced_accuracy"] > 0.7, whole.verdict()
    # the snapshot froze the cleaned body: no markup, image placeholder or link, runs cut to three
    body = whole_test["body"].iloc[0]
    assert body.startswith("저는 ") and "<" not in body and "[이미지]" not in body and "http" not in body
    assert body.endswith("ㅋㅋㅋ") and "ㅋㅋㅋㅋ" not in body
    assert titles_test["body"].isna().all()


def test_the_served_pyfunc_and_the_scores_read_the_body(engine):
    make_board(engine, planted=True, view_in="body")
    build_dataset(engine, "whole", VERDICT_SPEC, load_settings().data_dir)
    outcome = train_model(load_settings(), engine, "whole", "baseline")
    assert outcome.report.shows_skill and outcome.decision.promoted
    served = load_pyfunc(outcome.version)
    test = load_snapshot(engine, "whole").part("test")
    p_whole = predict(served, test)
    # its title alone says nothing: without the body every post of a session reads alike
    p_titles = predict(served, test[["title"]])
    assert np.abs(p_whole - p_titles).max() > 0.2
    # raw bodies (markup, links) are cleaned by the model as the snapshot was: the same P(up)
    raw = query(engine, "SELECT post_id, body FROM posts WHERE post_id = ANY(:ids)", ids=test["post_id"].tolist())
    frame = test[["post_id", "title"]].merge(pd.DataFrame(raw, columns=["post_id", "body"]), on="post_id")
    np.testing.assert_allclose(predict(served, frame), p_whole, atol=1e-9)
    # finsent score reads the stored body too
    score_posts(load_settings(), engine)
    stored = dict(query(engine, "SELECT post_id, p_up FROM post_scores WHERE post_id = ANY(:ids)",
                        ids=test["post_id"].tolist()))
    np.testing.assert_allclose([stored[i] for i in test["post_id"]], p_whole, atol=1e-5)
