"""What a training run is (``TrainSpec``: the model and, for LoRA, its spec) and what a scoring run
is (``ScoreSpec``); declared once (``finsent.specs``) for `finsent train` and the finsent_train DAG,
`finsent score` and the finsent_score DAG. Light: DAG files import it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from finsent.errors import ConfigError
from finsent.ml.models.lora.spec import LoraSpec
from finsent.specs import check_fields, nested, option

MODELS = ("baseline", "lora")
# an MLflow alias (letters, digits, _ and -) or a version number
_ALIAS = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class TrainSpec:
    model: str = option("baseline", "the model to fit", choices=MODELS)
    lora: LoraSpec = nested(LoraSpec)  # used by --model lora

    def validate(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class ScoreSpec:
    alias: str = option("champion", "the finsent-updown version to score with: an alias (default champion) or a "
                        "version number")
    batch_size: int = option(256, "posts per forward pass of the model (lower it when the GPU runs out of memory)",
                             minimum=1)

    def validate(self) -> None:
        check_fields(self)
        if _ALIAS.fullmatch(self.alias) is None:
            raise ConfigError(f"--alias must be an alias (letters, digits, _ and -) or a version number, "
                              f"got {self.alias!r}")
