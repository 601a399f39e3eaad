"""The model kinds finsent trains, declared once: `finsent train --model`, `finsent backtest --model`,
the DAGs' ``model`` param, a saved model's manifest (``finsent_model.json``: ``kind``), the class
that loads it, and the queue that scores it all come from ``KINDS``.

Standard library only: the DAG files import the specs, and the specs import this.
"""

from __future__ import annotations

from dataclasses import dataclass

from finsent.errors import ConfigError


@dataclass(frozen=True)
class ModelKind:
    name: str
    summary: str  # one line for --help and the docs
    classifier: str  # "module:Class" of the class that fits, saves and loads it
    transformer: bool  # a Hugging Face checkpoint: takes --base-model and the other TransformerSpec options
    causal: bool = False  # a causal LM read through the verbalizers of a prompt (else an encoder, or no network)
    trains: bool = True  # fits weights (the prompt kind only chooses its k-shot examples from train)

    @property
    def queue(self) -> str:
        """Where its scoring runs: a transformers model on the ``gpu`` queue (its base and a GPU live
        there), the baseline on ``default``."""
        return "gpu" if self.transformer else "default"


KINDS: dict[str, ModelKind] = {kind.name: kind for kind in (
    ModelKind("baseline", "TF-IDF over character 1-3-grams + logistic regression (CPU, minutes)",
              "finsent.ml.models.baseline:BaselineClassifier", transformer=False),
    ModelKind("lora", "a causal LM with a LoRA adapter, read through the prompt's verbalizers [상승]/[하락]",
              "finsent.ml.models.lora:LoraClassifier", transformer=True, causal=True),
    ModelKind("encoder", "an encoder (BERT, RoBERTa, DeBERTa-v2, ELECTRA, ModernBERT) fine-tuned as a two-way "
              "sequence classifier, fully or with LoRA", "finsent.ml.models.encoder:EncoderClassifier",
              transformer=True),
    ModelKind("prompt", "a causal LM with no training: P(up) from the verbalizers of a k-shot prompt "
              "(the study's setting)", "finsent.ml.models.lora:PromptClassifier", transformer=True,
              causal=True, trains=False),
)}
MODEL_KINDS: tuple[str, ...] = tuple(KINDS)
DEFAULT_KIND = "baseline"  # what `finsent train` and `finsent backtest` fit unless told
TRANSFORMER_KINDS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v.transformer)
KINDS_HELP = "the model: " + "; ".join(f"{k.name}: {k.summary}" for k in KINDS.values())


def model_kind(name: str | None) -> ModelKind:
    """The kind called ``name``; a ConfigError naming the known ones otherwise."""
    try:
        return KINDS[str(name)]
    except KeyError:
        raise ConfigError(f"--model must be one of {', '.join(MODEL_KINDS)}, got {name!r}") from None
