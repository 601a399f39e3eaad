"""The ``tickers`` table: which stocks finsent knows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from finsent.config import DEFAULT_TICKERS
from finsent.errors import ConfigError

# fullmatch, never match with "$": "$" also matches before a trailing newline
_CODE = re.compile(r"[0-9A-Z]{6}")


def seed_default_tickers(engine: Engine, tickers: Mapping[str, str] = DEFAULT_TICKERS) -> int:
    """Insert the default universe (idempotent); return how many were new."""
    return add_tickers(engine, tickers)


def add_tickers(engine: Engine, tickers: Mapping[str, str], market: str = "KOSPI") -> int:
    for code in tickers:
        if not isinstance(code, str) or _CODE.fullmatch(code) is None:
            raise ConfigError(f"ticker code {code!r} is not six digits/capitals (e.g. 005930)")
    with engine.begin() as conn:
        result = conn.execute(
            sa.text("INSERT INTO tickers (code, name, market) VALUES (:c, :n, :m) ON CONFLICT (code) DO NOTHING"),
            [{"c": c, "n": n, "m": market} for c, n in tickers.items()],
        )
        return result.rowcount or 0


def known_tickers(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.code: r.name for r in conn.execute(sa.text("SELECT code, name FROM tickers ORDER BY code"))}


def require_known(engine: Engine, codes: Sequence[str]) -> None:
    """Unknown codes are a configuration error (exit 2), reported all at once."""
    if not codes:
        raise ConfigError("no tickers selected")
    known = known_tickers(engine)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ConfigError(
            f"unknown ticker code(s): {', '.join(unknown)}; add them with `finsent tickers add CODE NAME` "
            "or fix FINSENT_TICKERS / --tickers"
        )
