"""polyglot-ko (or any GPT-NeoX/Llama-style causal LM) with a LoRA adapter, as a classifier.

``spec`` says what a model is, ``classifier`` holds it and scores titles (prefix-cached),
``training`` is the loop, ``persistence`` saves and loads it.
"""

from finsent.ml.models.lora.classifier import LoraClassifier
from finsent.ml.models.lora.spec import DEFAULT_BASE_MODEL, LoraSpec, distributed_rank, distributed_world_size

__all__ = ["DEFAULT_BASE_MODEL", "LoraClassifier", "LoraSpec", "distributed_rank", "distributed_world_size"]
