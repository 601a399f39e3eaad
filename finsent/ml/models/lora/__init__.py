"""polyglot-ko (or any GPT-NeoX/Llama-style causal LM) with a LoRA adapter, as a classifier.

``spec`` says what a model is (and its device and dtype), ``base_model`` where its base comes from
(bundled, or hub id + revision in a hub cache) and how it loads, ``encoding`` turns titles into the
ids of whole prompts, ``network`` holds the model and scores titles (prefix-cached), ``training``
is the loop, ``checkpoint`` its resumable state, ``persistence`` saves and loads a model, and
``classifier`` is finsent's model interface over them. Each uses the others' public names only,
and the imports run one way: classifier imports training and persistence, they import network,
base_model and checkpoint, network imports encoding; nothing imports classifier but this package.
"""

from finsent.ml.models.lora.classifier import LoraClassifier
from finsent.ml.models.lora.spec import DEFAULT_BASE_MODEL, LoraSpec, distributed_rank, distributed_world_size

__all__ = ["DEFAULT_BASE_MODEL", "LoraClassifier", "LoraSpec", "distributed_rank", "distributed_world_size"]
