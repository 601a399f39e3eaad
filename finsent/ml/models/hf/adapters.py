"""What training updates: a LoRA adapter on the base (targets from its architecture: ``targets``), or
every weight (an encoder's full fine-tuning), and that state taken out and put back (for
checkpoints and for keeping the best epoch)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from finsent.errors import ConfigError
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.hf.targets import ChosenTargets, check_targets, choose_targets, linear_layer_names

log = logging.getLogger(__name__)


def _unwrapped(model: Any) -> Any:
    return getattr(model, "module", model)  # DDP wraps the model in .module


def trainable_state(model: Any) -> dict[str, Any]:
    """Copies (on the CPU) of the weights the optimizer updates, by parameter name."""
    return {name: p.detach().to("cpu", copy=True).contiguous()
            for name, p in _unwrapped(model).named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    """Put ``state`` (from ``trainable_state``) back: every trainable weight, nothing else."""
    module = _unwrapped(model)
    wanted = {name for name, p in module.named_parameters() if p.requires_grad}
    if set(state) != wanted:
        raise ConfigError(f"the saved training state holds other weights than this model trains "
                          f"({len(set(state) ^ wanted)} differ): it belongs to another job")
    module.load_state_dict(state, strict=False)


def add_lora(model: Any, spec: TransformerSpec, *, task: str, base: str,
             new_modules: Sequence[str] = ()) -> tuple[Any, ChosenTargets]:
    """The base wrapped in a fresh LoRA adapter (after 4-bit or gradient-checkpointing preparation),
    on the targets its architecture calls for; ``new_modules`` (a classifier's head) train whole."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    chosen = choose_targets(getattr(model.config, "model_type", "?"), spec.lora_targets, spec.all_linear)
    check_targets(chosen, linear_layer_names(model), base)
    if spec.quantize == "4bit":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.gradient_checkpointing)
    elif spec.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    modules = chosen.modules if isinstance(chosen.modules, str) else list(chosen.modules)
    config = LoraConfig(r=spec.lora_r, lora_alpha=spec.lora_alpha, lora_dropout=spec.lora_dropout,
                        target_modules=modules, task_type=task, modules_to_save=list(new_modules) or None)
    try:
        adapted = get_peft_model(model, config)
    except ValueError as exc:  # peft's own refusal of targets (a layer type it cannot adapt)
        raise ConfigError(f"LoRA targets {chosen.text} cannot be adapted on {base}: {exc}") from None
    for parameter in adapted.parameters():  # a head trained whole (modules_to_save) keeps the base's dtype
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
    log.info("LoRA r=%d on %s (%s): %d trainable weights", spec.lora_r, chosen.text, chosen.source,
             sum(p.numel() for p in adapted.parameters() if p.requires_grad))
    return adapted, chosen


def fully_trainable(model: Any, spec: TransformerSpec) -> Any:
    """Every weight of the model trains (an encoder's full fine-tuning)."""
    if spec.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    log.info("full fine-tuning: %d trainable weights", sum(p.numel() for p in model.parameters()))
    return model
