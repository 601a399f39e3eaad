"""Where LoRA goes, from the architecture: a table by ``config.model_type``.

Each family names its attention projections (the default: LoRA on attention is the usual
trade of quality against adapter size) and its MLP layers (added by ``--all-linear``). peft matches
a name as a suffix of a module's path, so one table row serves every size of a family; a row may
hold the names of two codings of one family (EXAONE with and without remote code), and peft only
needs one of them to match. An architecture the table does not know gets LoRA on all its linear
layers (peft's ``all-linear``) with a log line saying so. Names the user gives (``--lora-targets``)
are checked against the model's linear layers before peft sees them: a name that matches none is
a ConfigError listing the layers there are (never peft's own traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from finsent.errors import ConfigError

log = logging.getLogger(__name__)

ALL_LINEAR = "all-linear"
_LLAMA = (("q_proj", "k_proj", "v_proj", "o_proj"), ("gate_proj", "up_proj", "down_proj"))
_BERT = (("query", "key", "value", "attention.output.dense"), ("intermediate.dense", "output.dense"))

# model_type -> (attention projections, MLP layers)
LORA_TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gpt_neox": (("query_key_value",), ("dense", "dense_h_to_4h", "dense_4h_to_h")),
    **dict.fromkeys(("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "gemma3_text", "exaone4",
                     "olmo2", "granite", "cohere", "stablelm", "smollm3"), _LLAMA),
    # EXAONE 3.x: transformers' own coding is Llama's; its remote code names them out_proj, c_fc_0/1, c_proj
    "exaone": (("q_proj", "k_proj", "v_proj", "o_proj", "out_proj"),
               ("gate_proj", "up_proj", "down_proj", "c_fc_0", "c_fc_1", "c_proj")),
    "phi3": (("qkv_proj", "o_proj"), ("gate_up_proj", "down_proj")),
    "gpt2": (("c_attn",), ("c_proj", "c_fc")),
    **dict.fromkeys(("bert", "roberta", "electra", "xlm-roberta", "camembert"), _BERT),
    "deberta-v2": (("query_proj", "key_proj", "value_proj", "attention.output.dense"),
                   ("intermediate.dense", "output.dense")),
    "modernbert": (("Wqkv", "attn.Wo"), ("mlp.Wi", "mlp.Wo")),
}


def default_targets(model_type: str, all_linear: bool = False) -> tuple[str, ...] | None:
    """The table's targets for ``model_type`` (None: not in the table)."""
    row = LORA_TARGETS.get(model_type)
    if row is None:
        return None
    return row[0] + row[1] if all_linear else row[0]


@dataclass(frozen=True)
class ChosenTargets:
    modules: tuple[str, ...] | str  # for peft's LoraConfig: names, or "all-linear"
    source: str  # how they were chosen, for the log and the MLflow run

    @property
    def text(self) -> str:
        return self.modules if isinstance(self.modules, str) else ",".join(self.modules)


def choose_targets(model_type: str, given: Sequence[str] = (), all_linear: bool = False) -> ChosenTargets:
    """The user's names, else the table's row for the architecture, else all linear layers."""
    if given:
        return ChosenTargets(tuple(given), "--lora-targets")
    row = default_targets(model_type, all_linear)
    if row is not None:
        return ChosenTargets(row, f"{'attention + MLP' if all_linear else 'attention'} of {model_type}")
    log.info("LoRA targets: %r is not in finsent's architecture table; LoRA goes on all its linear layers",
             model_type)
    return ChosenTargets(ALL_LINEAR, f"all linear layers ({model_type} is not in the architecture table)")


def linear_layer_names(model: Any) -> list[str]:
    """The module paths of the model's linear layers (nn.Linear, and GPT-2's Conv1D)."""
    import torch

    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"]


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def check_targets(chosen: ChosenTargets, layers: Iterable[str], base: str) -> None:
    """A ConfigError naming every given name that matches no linear layer (and the layers there are)."""
    if chosen.modules == ALL_LINEAR:
        return
    layers = list(layers)
    missing = [t for t in chosen.modules if not any(_matches(layer, t) for layer in layers)]
    if chosen.source != "--lora-targets":  # a table row holds names of several codings: one match is enough
        missing = missing if len(missing) == len(chosen.modules) else []
    if missing:
        kinds = sorted({layer.rsplit(".", 1)[-1] for layer in layers if not layer.rsplit(".", 1)[-1].isdigit()})
        raise ConfigError(f"LoRA targets {', '.join(missing)} ({chosen.source}) match no linear layer of "
                          f"{base}; its linear layers are named {', '.join(kinds) or 'nothing'}: pass "
                          "--lora-targets with some of them, or --all-linear")
