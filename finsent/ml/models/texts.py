"""What a model reads of a post or an article: one function for every kind and every path (training,
evaluation, scoring, backtests, the pyfunc), so that a change of what models read is made here.

``texts_of(rows, text)``: the title, and for a model that reads bodies (``TextSpec``, recorded with
the snapshot and the model) the head of the cleaned body after it (and for one that reads comments,
theirs after the body), within the spec's token budget.
Each kind may cut what it is given further to its own token budget from the end (a title comes first).
"""

from __future__ import annotations

import pandas as pd

from finsent.data.text import TextSpec

TEXT_COLUMNS = ("title", "body", "comments")  # what texts_of reads (the pyfunc's input; body, comments optional)
TITLES = TextSpec("title")  # what a model recorded before bodies reads


def texts_of(rows: pd.DataFrame, text: TextSpec | None = None) -> list[str]:
    """The model's input text of each row: its title, then (``text`` reading bodies) its body's head."""
    return (text or TITLES).texts(rows)
