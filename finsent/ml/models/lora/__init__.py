"""polyglot-ko (or any GPT-NeoX/Llama-style causal LM) with a LoRA adapter, as a classifier.

``spec`` says what a model is (and its device and dtype), ``encoding`` turns titles into the ids of
whole prompts, ``classifier`` holds the model and scores titles (prefix-cached), ``training`` is
the loop, ``checkpoint`` its resumable state, ``persistence`` saves and loads a model, and
``base_model`` says where its base comes from (bundled, or hub id + revision in a hub cache).
"""

from finsent.ml.models.lora.classifier import LoraClassifier
from finsent.ml.models.lora.spec import DEFAULT_BASE_MODEL, LoraSpec, distributed_rank, distributed_world_size

__all__ = ["DEFAULT_BASE_MODEL", "LoraClassifier", "LoraSpec", "distributed_rank", "distributed_world_size"]
