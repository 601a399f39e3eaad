"""What a training run is (``TrainSpec``: the model kind and, for a transformers kind, its spec) and what a scoring run
is (``ScoreSpec``); declared once (``finsent.specs``) for `finsent train` and the finsent_train DAG,
`finsent score` and the finsent_score DAG. Light: DAG files import it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from finsent.data.sources import EVERY_SOURCE, SOURCE_NAMES
from finsent.errors import ConfigError
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.kinds import DEFAULT_KIND, KINDS_HELP, MODEL_KINDS
from finsent.ml.models.morphemes import TOKENIZERS
from finsent.specs import check_fields, nested, option

# an MLflow alias (letters, digits, _ and -) or a version number
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class TrainSpec:
    model: str = option(DEFAULT_KIND, KINDS_HELP, choices=MODEL_KINDS)
    tokenizer: str = option("char", "what the TF-IDF baseline counts: char (character 1-3-grams) or kiwi (Korean "
                            "morphemes and their pairs, kiwipiepy)", choices=TOKENIZERS)
    transformer: TransformerSpec = nested(TransformerSpec)  # used by every kind but the baseline

    def validate(self) -> None:
        check_fields(self)


SCORE_SOURCES = (*SOURCE_NAMES, EVERY_SOURCE)  # one source, or every source that has a champion


@dataclass(frozen=True)
class ScoreSpec:
    alias: str = option("champion", "the finsent-updown version to score board posts with: an alias (default "
                        "champion) or a version number")
    batch_size: int = option(256, "posts per forward pass of the model (lower it when the GPU runs out of memory)",
                             minimum=1)
    news_alias: str = option("champion", "the finsent-news-updown version to score news articles with: an alias "
                             "(default champion) or a version number")
    comments_alias: str = option("champion", "the finsent-comments-updown version to score comments with: an "
                                 "alias (default champion) or a version number")
    source: str = option(EVERY_SOURCE, "what to score: board posts, news articles, comments or both (every source; "
                         "a source whose alias is champion and that has none yet is skipped)", choices=SCORE_SOURCES)

    def validate(self) -> None:
        check_fields(self)
        for flag, value in (("--alias", self.alias), ("--news-alias", self.news_alias),
                            ("--comments-alias", self.comments_alias)):
            if _ALIAS.fullmatch(value) is None:
                raise ConfigError(f"{flag} must be an alias (letters, digits, _ and -) or a version number, "
                                  f"got {value!r}")
