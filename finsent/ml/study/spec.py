"""What a factor study is (``StudySpec``): its options, declared once (``finsent.specs``) for
`finsent study` and the finsent_backtest DAG's standing study. Light on purpose: DAG files import it.

Signals are per text source: the board's carry the kind's bare name (``text``, ``attention``,
``disagreement``), another source's are prefixed with it (``news_text``, ``news_attention``, ...),
so a source's names follow from its record (``finsent.data.sources``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from finsent.data.sources import DEFAULT_SOURCE
from finsent.data.sources import TEXT_SOURCES as SOURCE_RECORDS
from finsent.errors import ConfigError
from finsent.specs import check_fields, option

# text source -> the prefix of its signals' names (the board's are unprefixed, as the issue names them):
# each source's record says it
TEXT_SOURCES = {source.name: source.prefix for source in SOURCE_RECORDS.values()}
# text: the backtest's out-of-sample index; attention: texts in the 24 h before the open against the
# trailing 20 sessions (log ratio); disagreement: the spread of the out-of-sample scores of the index
SIGNAL_KINDS = ("text", "attention", "disagreement")
# engagement: the board's comments written in the 24 h before the open against the trailing 20 sessions
# (log ratio; comments carry their own time, likes and dislikes only the count read at the crawl)
# (the board's only: the count of the comments under its posts; the comments' own attention counts them too)
KINDS_OF = {name: (*SIGNAL_KINDS, "engagement") if name == DEFAULT_SOURCE else SIGNAL_KINDS for name in TEXT_SOURCES}
# kinds counted from the stored texts, not read from the backtest's walk
COUNT_KINDS = ("attention", "engagement")
SIGNALS = tuple(prefix + kind for source, prefix in TEXT_SOURCES.items() for kind in KINDS_OF[source])
# return: open of the first session after the decision to the close h sessions later; abs_return: its
# size; volume: mean volume over those h sessions against the trailing 20 (log ratio)
TARGETS = ("return", "abs_return", "volume")
MAX_HORIZON = 250


def signal_source(signal: str) -> tuple[str, str]:
    """(text source, kind) of a signal name."""
    for source, prefix in sorted(TEXT_SOURCES.items(), key=lambda item: -len(item[1])):
        if signal.startswith(prefix) and signal[len(prefix):] in KINDS_OF[source]:
            return source, signal[len(prefix):]
    raise ConfigError(f"unknown signal {signal!r}; known: {', '.join(SIGNALS)}")


def _names(known: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ConfigError(f"--{what} must be a comma-separated list of {', '.join(known)}, got {text!r}")
        return names
    return parse


def _sessions(what: str):
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(sorted({int(n) for n in text.split(",") if n.strip()}))
        except ValueError:
            raise ConfigError(f"--{what} must be comma-separated session counts such as 1,5,20, got {text!r}") from None
        if not values or values[0] < 1 or values[-1] > MAX_HORIZON:
            raise ConfigError(f"--{what} must be session counts from 1 to {MAX_HORIZON}, got {text!r}")
        return values
    return parse


@dataclass(frozen=True)
class StudySpec:
    # empty: every signal the backtest can give (its sources' text and disagreement, their attention)
    signals: tuple[str, ...] = option(tuple, "signals, comma-separated (default: all the backtest's sources give): "
                                      + ", ".join(SIGNALS), factory=True, text=_names(SIGNALS, "signals"))
    targets: tuple[str, ...] = option(lambda: TARGETS, "targets, comma-separated: " + ", ".join(TARGETS),
                                      factory=True, text=_names(TARGETS, "targets"), text_default=",".join(TARGETS))
    horizons: tuple[int, ...] = option(lambda: (1, 5, 20), "horizons in sessions, comma-separated", factory=True,
                                       text=_sessions("horizons"), text_default="1,5,20")
    # empty: the horizons
    holds: tuple[int, ...] = option(tuple, "books' holding periods in sessions (rebalance every k, hold k; "
                                    "default the horizons)", factory=True, text=_sessions("holds"))
    quantiles: int = option(5, "signal quantiles per date (quantile returns; books long the top, short the bottom)",
                            minimum=2, maximum=10)
    band: float = option(0.0, "no-trade band: a held name stays in its leg while its rank is within this share of "
                         "the cross-section beyond its quantile (0: none)", minimum=0, maximum=0.5)
    cost_bps: float = option(20.0, "cost per unit of notional traded, each side, in basis points (plus the sell tax "
                             "by trade date)", minimum=0, maximum=10_000, exclusive_maximum=True)

    def validate(self) -> None:
        check_fields(self)
        for name in self.signals:
            signal_source(name)

    @property
    def book_holds(self) -> tuple[int, ...]:
        return self.holds or self.horizons

    def to_json(self) -> dict[str, Any]:
        """As stored with the study and compared on a rerun."""
        values = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
