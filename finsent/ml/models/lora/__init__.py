"""A causal LM (GPT-NeoX, Llama, Qwen, Gemma, EXAONE, ...) read through two verbalizers of a prompt, as
a classifier: with a LoRA adapter (kind ``lora``) or as it is (kind ``prompt``).

``encoding`` turns titles into the ids of whole prompts, ``network`` holds the model and scores
titles (prefix-cached), ``persistence`` saves and loads a model, and ``classifier`` is finsent's
model interface over them; what every transformers kind shares (the spec, loading a base, the
training loop, checkpoints, LoRA targets) is in ``finsent.ml.models.hf``. The imports run one way:
classifier imports persistence and network, network imports encoding; nothing imports classifier
but this package.
"""

from finsent.ml.models.hf.spec import TransformerSpec, distributed_rank, distributed_world_size
from finsent.ml.models.lora.classifier import LoraClassifier, PromptClassifier

LoraSpec = TransformerSpec  # its name before encoders and prompts shared it: code written against it still runs

__all__ = ["LoraClassifier", "LoraSpec", "PromptClassifier", "TransformerSpec", "distributed_rank",
           "distributed_world_size"]
