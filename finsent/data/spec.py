"""What a dataset snapshot is (``DatasetSpec``): its options, declared once (``finsent.specs``) for
`finsent dataset build` and the snapshot the finsent_train DAG freezes. Light: DAG files import it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from finsent.config import parse_ticker_list
from finsent.data.embargo import EMBARGO_HELP
from finsent.data.post_comments import check_comments_read
from finsent.data.sources import DEFAULT_SOURCE, EVERY_SOURCE, SOURCE_NAMES
from finsent.data.text import DEFAULT_TEXT, DEFAULT_TEXT_TOKENS, TEXT_MODES
from finsent.errors import ConfigError
from finsent.specs import DEFAULT_DEFINITION, check_fields, from_values, option

MAX_EMBARGO = 250  # sessions; more would leave no data in any real history
SPLIT_KINDS = ("time", "random")
SOURCES = (*SOURCE_NAMES, EVERY_SOURCE)  # discussion-board posts, news headlines (issue 20), or both


def parse_quality_rules(text: str) -> tuple[str, ...]:
    """``all``, ``none`` or a comma-separated list of quality rules (``finsent.data.quality``)."""
    from finsent.data.quality import parse_rules

    return parse_rules(text)


def all_quality_rules() -> tuple[str, ...]:
    return parse_quality_rules("all")


def check_quality_rules(rules: tuple[str, ...]) -> None:
    """ConfigError naming the rules that are not quality rules."""
    from finsent.data.quality import ALL_RULES

    unknown = [r for r in rules if r not in ALL_RULES]
    if unknown:
        raise ConfigError(f"unknown quality rule(s) {', '.join(unknown)}; known: {', '.join(ALL_RULES)}")


def _tickers(text: str) -> tuple[str, ...]:
    return tuple(parse_ticker_list(text))


@dataclass(frozen=True)
class DatasetSpec:
    definition: str = option(DEFAULT_DEFINITION, "label definition name (default next_open_close, the tradable one)")
    rules: tuple[str, ...] = option(all_quality_rules, "quality rules whose flagged posts are left out: all (default), "
                                    "none, or a list", factory=True, text=parse_quality_rules,
                                    text_default="all")
    start: date | None = option(None, "first session date", flag="--from")  # session dates, inclusive
    end: date | None = option(None, "last session date", flag="--to")
    tickers: tuple[str, ...] = option((), "only these tickers (default: all)", text=_tickers)  # empty: all
    split: str = option("time", "how the parts are cut", choices=SPLIT_KINDS)
    # None: by split (time: 0.1/0.1, random: the study's 0/0.01)
    valid_frac: float | None = option(None, "share for valid (time: 0.1, random: 0)", minimum=0, maximum=1,
                                      exclusive_maximum=True)
    test_frac: float | None = option(None, "share for test (time: 0.1, random: 0.01)", minimum=0, maximum=1,
                                     exclusive_maximum=True)
    embargo: int = option(1, EMBARGO_HELP)  # sessions skipped between parts (time split), plus horizon - 1
    balance: bool = option(False, "as many up as down (the study: 15k/15k)")
    per_class: int | None = option(None, "at most this many rows per class", minimum=1)
    seed: int = option(0, "random seed of the draws")
    source: str = option(DEFAULT_SOURCE, "which texts: board posts (default), news headlines, or both (each row keeps "
                         "its source); news rows leave out articles flagged by the news rules unless --rules none",
                         choices=SOURCES)
    text: str = option(DEFAULT_TEXT, "what models read: the title, or the title then the head of the cleaned body "
                       "(news: the summary), or that and then the comments written under a board post before its "
                       "session opened; the snapshot freezes it", choices=TEXT_MODES)
    text_tokens: int = option(DEFAULT_TEXT_TOKENS, "budget of whitespace-separated tokens of title + body (the "
                              "whole title first, then the body's first tokens)", minimum=1)

    def __post_init__(self) -> None:
        random_split = self.split == "random"
        if self.valid_frac is None:
            object.__setattr__(self, "valid_frac", 0.0 if random_split else 0.1)
        if self.test_frac is None:
            object.__setattr__(self, "test_frac", 0.01 if random_split else 0.1)

    def validate(self) -> None:
        check_fields(self)
        check_quality_rules(self.rules)
        if (self.valid_frac or 0) + (self.test_frac or 0) >= 1:
            raise ConfigError("--valid-frac + --test-frac must leave something to train on")
        if self.embargo < 1 and self.split == "time":
            raise ConfigError("--embargo must be at least 1 session for a time split")
        if self.embargo > MAX_EMBARGO:
            raise ConfigError(f"--embargo {self.embargo} is more than {MAX_EMBARGO} sessions (about a year of trading)")
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"--from {self.start} is after --to {self.end}")
        check_comments_read(self.text, self.source)

    @classmethod
    def from_options(cls, **options: Any) -> DatasetSpec:
        """A spec from option values (``finsent.specs.from_values``; ``rules`` and ``tickers`` as
        text): unset (None) options keep their defaults."""
        spec: DatasetSpec = from_values(cls, {k: v for k, v in options.items() if v is not None})
        return spec

    def to_json(self) -> dict:
        spec = asdict(self)
        spec["rules"] = list(self.rules)
        spec["tickers"] = list(self.tickers)
        spec["start"] = self.start.isoformat() if self.start else None
        spec["end"] = self.end.isoformat() if self.end else None
        if self.source == DEFAULT_SOURCE:  # the spec (and so the hash) of a board snapshot is what it always was
            del spec["source"]
        if self.text == "title":  # a title snapshot's spec (and hash) is what it was before bodies
            del spec["text"], spec["text_tokens"]
        return spec
