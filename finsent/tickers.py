"""The ``tickers`` table: which stocks finsent knows, and when each was in the universe.

Membership (``ticker_memberships``) is a set of inclusive date ranges per ticker; a ticker with no
range at all (the seeded defaults, ``finsent tickers add``) counts as always a member.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from finsent.config import DEFAULT_TICKERS, Settings
from finsent.errors import ConfigError

# fullmatch, never match with "$": "$" also matches before a trailing newline
CODE_PATTERN = re.compile(r"[0-9A-Z]{6}")


def seed_default_tickers(engine: Engine, tickers: Mapping[str, str] = DEFAULT_TICKERS) -> int:
    """Insert the default universe (idempotent); return how many were new."""
    return add_tickers(engine, tickers)


def add_tickers(engine: Engine, tickers: Mapping[str, str], market: str = "KOSPI") -> int:
    for code, name in tickers.items():
        if not isinstance(code, str) or CODE_PATTERN.fullmatch(code) is None:
            raise ConfigError(f"ticker code {code!r} is not six digits/capitals (e.g. 005930)")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"ticker {code}: the name is empty; give the stock's name (e.g. 삼성전자)")
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


def member_on_sql(ticker: str, day: str) -> str:
    """A SQL condition: the ticker (a column or expression) was in the universe on ``day`` (a date
    expression). Tickers without any membership range are always members."""
    covering = (f"m.ticker = {ticker} AND (m.member_from IS NULL OR m.member_from <= {day}) "
                f"AND (m.member_to IS NULL OR {day} <= m.member_to)")
    return (f"(EXISTS (SELECT 1 FROM ticker_memberships m WHERE {covering}) OR NOT EXISTS "
            f"(SELECT 1 FROM ticker_memberships m WHERE m.ticker = {ticker}))")


def today_kst() -> date:
    return datetime.now(ZoneInfo("Asia/Seoul")).date()


def active_tickers(engine: Engine, on: date | None = None) -> list[str]:
    """Known tickers that are members on ``on`` (default: today in KST), in code order."""
    query = f"SELECT t.code FROM tickers t WHERE {member_on_sql('t.code', ':day')} ORDER BY t.code"
    with engine.connect() as conn:
        return list(conn.execute(sa.text(query), {"day": on or today_kst()}).scalars())


def universe_imported(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM ticker_memberships)")).scalar())


def selected_tickers(settings: Settings, engine: Engine) -> list[str]:
    """The tickers to crawl and price: FINSENT_TICKERS as given; ``all`` (or unset once a universe
    is imported) is every ticker that is a member today; unset without one, the 20 defaults."""
    if settings.tickers_source == "all" or (settings.tickers_source == "default" and universe_imported(engine)):
        codes = active_tickers(engine)
        if not codes:
            raise ConfigError("FINSENT_TICKERS=all: no ticker is a member today; import a universe with "
                              "`finsent tickers import FILE.csv`")
        return codes
    return list(settings.tickers)
