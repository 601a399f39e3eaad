"""What a training run is (``TrainSpec``): the model and, for LoRA, its spec; declared once
(``finsent.specs``) for `finsent train` and the finsent_train DAG. Light: DAG files import it."""

from __future__ import annotations

from dataclasses import dataclass

from finsent.ml.models.lora.spec import LoraSpec
from finsent.specs import check_fields, nested, option

MODELS = ("baseline", "lora")


@dataclass(frozen=True)
class TrainSpec:
    model: str = option("baseline", "the model to fit", choices=MODELS)
    lora: LoraSpec = nested(LoraSpec)  # used by --model lora

    def validate(self) -> None:
        check_fields(self)
