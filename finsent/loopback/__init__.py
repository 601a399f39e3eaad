"""A loopback fake of Naver Finance that speaks the real formats (see shared/naver/SOURCES.md).

The tests crawl it, and ``finsent stack demo`` serves it (``python -m finsent.loopback``).
``server`` runs it, ``generate`` makes its data, ``pages`` renders the endpoints, ``content``
holds the formats' constants and the records it stores.
"""

from finsent.loopback.content import (
    CLEANBOT_HIDDEN_TEXT,
    DEFAULT_TICKERS,
    DELETED_PARENT_PREFIX,
    KRX_HOLIDAYS,
    SPLIT_RATIO,
    Post,
    PriceRow,
)
from finsent.loopback.server import FakeNaver, main

__all__ = ["CLEANBOT_HIDDEN_TEXT", "DEFAULT_TICKERS", "DELETED_PARENT_PREFIX", "KRX_HOLIDAYS", "SPLIT_RATIO",
           "FakeNaver", "Post", "PriceRow", "main"]
