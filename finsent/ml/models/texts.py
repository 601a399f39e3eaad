"""What a model reads of a post or an article: one function for every kind and every path (training,
evaluation, scoring, backtests, the pyfunc), so that a change of what models read is made here.
Each kind cuts what it is given to its own token budget from the end (a title comes first)."""

from __future__ import annotations

import pandas as pd

TEXT_COLUMNS = ("title",)  # the columns texts_of reads (the pyfunc's input schema)


def texts_of(rows: pd.DataFrame) -> list[str]:
    """The model's input text of each row: its title."""
    return [str(title) for title in rows["title"].tolist()]
