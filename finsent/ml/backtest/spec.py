"""What a walk-forward backtest is (``BacktestSpec``): its options, declared once (``finsent.specs``)
for `finsent backtest` and the finsent_backtest DAG. Light on purpose: DAG files import it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from finsent.data.embargo import EMBARGO_HELP
from finsent.data.post_comments import check_comments_read
from finsent.data.sources import DEFAULT_SOURCE, EVERY_SOURCE, SOURCE_NAMES, selected
from finsent.data.spec import all_quality_rules, check_quality_rules, parse_quality_rules
from finsent.data.text import DEFAULT_TEXT, DEFAULT_TEXT_TOKENS, TEXT_MODES, TextSpec
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.kinds import DEFAULT_KIND, KINDS, MODEL_KINDS
from finsent.ml.models.morphemes import TOKENIZERS
from finsent.specs import (
    DEFAULT_COST_BPS,
    DEFAULT_DEFINITION,
    DEFAULT_SELL_TAX_BPS,
    check_fields,
    nested,
    option,
)

# Labels are shared by a stock's posts of one session: a window of fewer sessions holds only a
# handful of independent outcomes per stock, which a model learns by heart, not from the text.
MIN_TRAIN_SESSIONS = 10
# 2: the embargo counts the sessions skipped (before, embargo 1 skipped none); a walk planned
# otherwise is not resumed
PLAN_VERSION = 2
# one adapter per step: a checkpoint would be the wrong step's
LORA_OPTIONS_NOT_OFFERED = ("checkpoint_dir", "save_every")
# --source both: every source walked by its own model, then compared on their common sessions
# (finsent.ml.backtest.compare); spelled as the dataset's selection of every source
COMPARED = EVERY_SOURCE


@dataclass(frozen=True)
class BacktestSpec:
    model: str = option(DEFAULT_KIND, "the model retrained at each step (kinds as for `finsent train`)",
                        choices=MODEL_KINDS)
    source: str = option(DEFAULT_SOURCE, "which texts: board posts (default), news headlines, or both (each walked "
                         "by its own model; the report compares them on their common sessions); news leaves out "
                         "articles flagged by the news rules unless --rules none", choices=(*SOURCE_NAMES, COMPARED))
    definition: str = option(DEFAULT_DEFINITION, "label definition (default next_open_close, the "
                             "tradable open-to-close return)")
    rules: tuple[str, ...] = option(all_quality_rules, "quality rules whose flagged posts are left out: all, none or a "
                                    "comma-separated list", factory=True, text=parse_quality_rules,
                                    text_default="all")
    train_sessions: int = option(120, f"sessions per training window (at least {MIN_TRAIN_SESSIONS})",
                                 minimum=MIN_TRAIN_SESSIONS)
    step_sessions: int = option(5, "sessions scored per step", minimum=1)
    embargo: int = option(1, EMBARGO_HELP, minimum=1)
    # per unit of notional traded, each side (fees + spread + impact)
    cost_bps: float = option(DEFAULT_COST_BPS, "cost per unit of notional traded, each side, in basis points",
                             minimum=0, maximum=10_000, exclusive_maximum=True)
    # KRX sell-side tax per unit sold: securities transaction tax 0.05% + special tax for rural
    # development 0.15% on KOSPI from 2026-01-01 (0.18% in 2024, 0.15% in 2025); see docs/methodology/backtest.md
    sell_tax_bps: float = option(DEFAULT_SELL_TAX_BPS, "transaction tax per unit sold, in basis points (20: KOSPI "
                                 "from 2026)", minimum=0, maximum=10_000, exclusive_maximum=True)
    text: str = option(DEFAULT_TEXT, "what each step's model reads: the title, or the title then the head of the "
                       "cleaned body (news: the summary), or that and then the comments written under a board post "
                       "before its session opened", choices=TEXT_MODES)
    text_tokens: int = option(DEFAULT_TEXT_TOKENS, "budget of whitespace-separated tokens of title + body",
                              minimum=1)
    tokenizer: str = option("char", "what the baseline counts: char n-grams or kiwi morphemes", choices=TOKENIZERS)
    transformer: TransformerSpec = nested(TransformerSpec, skip=LORA_OPTIONS_NOT_OFFERED)  # every kind but baseline

    def validate(self) -> None:
        check_fields(self)
        check_quality_rules(self.rules)
        check_comments_read(self.text, self.source)

    def to_json(self) -> dict[str, Any]:
        """As stored with a walk and compared on resume: the transformers options only for a walk of a
        transformers kind, under the key ``lora`` (a baseline walk's JSON is what it was before there
        were other kinds), the source only when it is not the board."""
        options = {k: v for k, v in dataclasses.asdict(self.transformer).items() if k not in LORA_OPTIONS_NOT_OFFERED}
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
        spec = {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "transformer"},
                "rules": list(self.rules), "lora": options if KINDS[self.model].transformer else {}}
        if self.source == DEFAULT_SOURCE:  # a board walk is stored (and resumed) as it was before sources existed
            del spec["source"]
        if self.text == "title":  # a title walk, as before bodies
            del spec["text"], spec["text_tokens"]
        if self.tokenizer == "char":  # as before the tokenizer option
            del spec["tokenizer"]
        return spec

    @property
    def text_spec(self) -> TextSpec:
        """What each step's model reads."""
        return TextSpec(self.text, self.text_tokens)

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources walked, in the order they are walked and reported."""
        return tuple(source.name for source in selected(self.source))
