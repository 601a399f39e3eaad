"""The bases finsent knows (``finsent model list``), each kind's default, and the defaults a spec
takes from its base (``resolve``).

Facts come from the model cards as far as they are known here (no hub is reachable from this
code's machines): a fact not checked is said to be so (``unverified``), never guessed. Parameters
are computed from the architecture's config numbers (``Architecture.parameters``: the weight
matrices and embeddings; biases and norms, under 0.5%, are left out); where the config is not known
here the model card's rounded count is shown instead. Memory figures are estimates from those
parameters (``memory_gib``: the formulas are in its docstring). Standard library only.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError
from finsent.ml.models.hf.targets import ALL_LINEAR, default_targets
from finsent.ml.models.kinds import KINDS, model_kind

log = logging.getLogger(__name__)

GIB = 1024 ** 3
CARD_GIB = 24  # the card the default batch sizes fit (RTX 4090, L4, A10: 24 GB), with 20% headroom
TRAIN_TOKENS = {True: 256, False: 128}  # tokens per post in training: causal (the study's prompt + title), encoder
LORA_R = 8


@dataclass(frozen=True)
class Architecture:
    """The config.json numbers the parameter count needs."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool  # input and output embeddings shared
    gated_mlp: bool  # SwiGLU (three matrices) or two
    positions: int = 0  # learned position embeddings (BERT-style encoders)

    @property
    def body(self) -> int:
        """The layers' weight matrices: attention q, k, v, o and the MLP."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        attention = self.hidden * (q + 2 * kv) + q * self.hidden
        mlp = (3 if self.gated_mlp else 2) * self.hidden * self.intermediate
        return self.layers * (attention + mlp)

    @property
    def embeddings(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2) + self.positions * self.hidden

    @property
    def parameters(self) -> int:
        return self.body + self.embeddings


@dataclass(frozen=True)
class Base:
    name: str  # what --base-model accepts besides hub ids and directories
    hub_id: str
    kinds: tuple[str, ...]  # the kinds it suits (a causal LM: lora, prompt; an encoder: encoder)
    model_type: str  # config.json's
    licence: str
    commercial: str  # "yes", "no", or "see model card" where the terms are not known here
    architecture: Architecture | None  # None: its config is not known here (card_parameters instead)
    card_parameters: float | None = None  # billions, as its card says (when the config is not known here)
    note: str = ""

    @property
    def causal(self) -> bool:
        return "encoder" not in self.kinds

    @property
    def parameters(self) -> float | None:
        return self.architecture.parameters if self.architecture else (
            self.card_parameters * 1e9 if self.card_parameters else None)


def _llama(hidden: int, layers: int, heads: int, kv_heads: int, head_dim: int, intermediate: int, vocab: int,
           tied: bool) -> Architecture:
    return Architecture(hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, tied, gated_mlp=True)


def _bert(hidden: int, layers: int, heads: int, intermediate: int, vocab: int, positions: int) -> Architecture:
    return Architecture(hidden, layers, heads, heads, hidden // heads, intermediate, vocab, tied=True,
                        gated_mlp=False, positions=positions)


# the kinds each base serves (finsent.ml.models.kinds): a causal LM, or an encoder
CAUSAL = tuple(name for name, kind in KINDS.items() if kind.causal)
ENCODER = tuple(name for name, kind in KINDS.items() if kind.transformer and not kind.causal)
BASES: dict[str, Base] = {b.name: b for b in (
    Base("kanana-1.5-2.1b", "kakaocorp/kanana-1.5-2.1b-instruct-2505", CAUSAL, "llama", "Apache-2.0", "yes", None,
         2.1, "Kakao; Korean-first (KMMLU 45.1 on its card); config not checked here: parameters are the card's"),
    Base("qwen3-1.7b", "Qwen/Qwen3-1.7B", CAUSAL, "qwen3", "Apache-2.0", "yes",
         _llama(2048, 28, 16, 8, 128, 6144, 151936, tied=True)),
    Base("qwen3-4b", "Qwen/Qwen3-4B", CAUSAL, "qwen3", "Apache-2.0", "yes",
         _llama(2560, 36, 32, 8, 128, 9728, 151936, tied=True)),
    Base("exaone-4.0-1.2b", "LGAI-EXAONE/EXAONE-4.0-1.2B", CAUSAL, "exaone4", "EXAONE AI Model License (NC)", "no",
         _llama(2048, 30, 32, 8, 64, 4096, 102400, tied=True), note="LG AI Research; research use only"),
    Base("hyperclovax-seed-1.5b", "naver-hyperclovax/HyperCLOVAX-SEED-Text-Instruct-1.5B", CAUSAL, "llama",
         "HyperCLOVA X SEED Model License", "see model card", None, 1.5,
         "NAVER; its own licence (terms not checked here); architecture and parameters unverified here"),
    Base("polyglot-ko-1.3b", "EleutherAI/polyglot-ko-1.3b", CAUSAL, "gpt_neox", "Apache-2.0", "yes",
         Architecture(2048, 24, 16, 16, 128, 8192, 30080, tied=False, gated_mlp=False),
         note="the 2023 study's model (preset)"),
    Base("kf-deberta-base", "kakaobank/kf-deberta-base", ENCODER, "deberta-v2", "MIT", "yes", None, None,
         "kakaobank; financial Korean (93.5 on KorFPB per the issue); vocabulary size unverified here: body "
         "85M (12 x 768) + embeddings"),
    Base("klue-roberta-base", "klue/roberta-base", ENCODER, "roberta", "CC-BY-SA-4.0", "yes (share-alike)",
         _bert(768, 12, 12, 3072, 32000, 514)),
    Base("klue-roberta-large", "klue/roberta-large", ENCODER, "roberta", "CC-BY-SA-4.0", "yes (share-alike)",
         _bert(1024, 24, 16, 4096, 32000, 514)),
    Base("koelectra-base-v3", "monologg/koelectra-base-v3-discriminator", ENCODER, "electra", "Apache-2.0", "yes",
         _bert(768, 12, 12, 3072, 35000, 512)),
)}
# Each kind's default base (why: docs/methodology/models.md); polyglot-ko-1.3b stays as the study's preset.
DEFAULT_BASES = {"lora": "kanana-1.5-2.1b", "prompt": "kanana-1.5-2.1b", "encoder": "kf-deberta-base"}
FALLBACK_BATCH_SIZE = 16  # a base not in the catalogue
DEFAULT_LR = {"lora": 2e-4, "full": 3e-5}


def find_base(reference: str) -> Base | None:
    """The catalogue's entry for a name or hub id (None for anything else: a directory, another id)."""
    return BASES.get(reference) or next((b for b in BASES.values() if b.hub_id == reference), None)


def base_name(reference: str) -> str:
    """How a page names a base: its catalogue name, else its hub id, else its directory's name."""
    found = find_base(reference)
    if found is not None:
        return found.name
    path = Path(reference)
    return path.name if path.is_absolute() or reference.startswith((".", "~")) else reference


def lora_parameters(base: Base, r: int = LORA_R) -> int:
    """LoRA on the attention projections: r x (in + out) per projection, four per layer."""
    a = base.architecture
    if a is None:
        return 0
    q, kv = a.heads * a.head_dim, a.kv_heads * a.head_dim
    return a.layers * r * (2 * (a.hidden + q) + 2 * (a.hidden + kv))


def _activations(base: Base, batch: int) -> float | None:
    """Stored activations of one training step in 16-bit: 34 x tokens x hidden x layers bytes
    (Korthikanti et al. 2022, attention by SDPA/flash so no tokens^2 term)."""
    a = base.architecture
    if a is None:
        return None
    return 34.0 * batch * TRAIN_TOKENS[base.causal] * a.hidden * a.layers


def memory_gib(base: Base, batch: int) -> dict[str, float | None]:
    """GiB estimates. serve: bf16 weights (2 bytes a parameter) + 10%. lora_bf16: bf16 frozen weights
    + 16 bytes per LoRA parameter (fp32 weight, gradient, two Adam moments) + activations. qlora:
    the layers' matrices in NF4 with double quantization (0.53 bytes a parameter), embeddings in bf16,
    + the same LoRA and activations. full (encoders): 16 bytes a parameter (fp32 weight, gradient,
    Adam) + activations. Without a known config: weights only (activations unknown: None)."""
    p = base.parameters
    if p is None:
        return {"serve": None, "lora_bf16": None, "qlora": None, "full": None}
    acts, extra = _activations(base, batch), 16.0 * lora_parameters(base)
    a = base.architecture
    lora = None if acts is None else (2 * p + extra + acts) / GIB
    qlora = None if acts is None or a is None else (0.53 * a.body + 2 * a.embeddings + extra + acts) / GIB
    return {"serve": 2.2 * p / GIB, "lora_bf16": lora, "qlora": qlora if base.causal else None,
            "full": None if base.causal or acts is None else (16 * p + acts) / GIB}


def train_batch_size(base: Base) -> int:
    """The largest power of two up to 32 whose training estimate (bf16 LoRA; full fine-tuning for an
    encoder) fits 80% of a 24 GB card; 16 where the estimate cannot be made."""
    for batch in (32, 16, 8, 4, 2, 1):
        need = memory_gib(base, batch)["lora_bf16" if base.causal else "full"]
        if need is None:
            return FALLBACK_BATCH_SIZE
        if need <= 0.8 * CARD_GIB:
            return batch
    return 1


def score_batch_size(base: Base) -> int:
    """The largest power of two up to 512 whose scoring estimate (serve + 4 bytes x tokens x hidden x
    layers of key/value cache and hidden states) fits 80% of a 24 GB card; 256 (`finsent score`'s
    default) where it cannot be made."""
    a, serve = base.architecture, memory_gib(base, 1)["serve"]
    if a is None or serve is None:
        return 256
    for batch in (512, 256, 128, 64, 32, 16, 8):
        if serve + 4.0 * batch * TRAIN_TOKENS[base.causal] * a.hidden * a.layers / GIB <= 0.8 * CARD_GIB:
            return batch
    return 4


def base_targets(base: Base, all_linear: bool = False) -> str:
    targets = default_targets(base.model_type, all_linear)
    return ",".join(targets) if targets else ALL_LINEAR


def resolve(spec: Any, kind: str) -> Any:
    """``spec`` (a TransformerSpec: hf.spec imports this module, so it is not named here) with the
    kind's defaults: the base (a catalogue name becomes its hub id), the batch size (the base's, else
    16) and the learning rate (by LoRA or full)."""
    found = model_kind(kind)
    if not found.transformer:
        raise ConfigError(f"--model {kind} takes no transformers options")
    reference = spec.base_model or BASES[DEFAULT_BASES[kind]].hub_id
    base = find_base(reference)
    if base is not None and kind not in base.kinds:
        raise ConfigError(f"--base-model {reference} is {'a causal LM' if base.causal else 'an encoder'}: "
                          f"it suits --model {' or '.join(base.kinds)}, not {kind}")
    if base is not None and base.commercial == "no":
        log.warning("%s is licensed %s: no commercial use", base.hub_id, base.licence)
    full = kind == "encoder" and spec.finetune == "full"
    batch = spec.batch_size or (train_batch_size(base) if base else FALLBACK_BATCH_SIZE)
    return dataclasses.replace(spec, base_model=base.hub_id if base else reference, batch_size=batch,
                               lr=spec.lr or DEFAULT_LR["full" if full else "lora"])


def _gib(value: float | str | None) -> str:
    return "-" if value is None else value if isinstance(value, str) else f"{value:.1f}"


def _memory_cells(base: Base, batch: int) -> dict[str, str]:
    memory: dict[str, float | str | None] = dict(memory_gib(base, batch))
    p = base.parameters
    if base.architecture is None and p:  # weights known, activations not: a lower bound
        memory.update({"lora_bf16": f">= {2 * p / GIB:.1f}",
                       "qlora": f">= {0.53 * p / GIB:.1f}" if base.causal else None})
    return {"train GiB: bf16 LoRA": _gib(memory["lora_bf16"]), "QLoRA": _gib(memory["qlora"]),
            "full": _gib(memory["full"]), "serve GiB (bf16)": _gib(memory["serve"])}


def _parameters_text(base: Base) -> str:
    if base.architecture is not None:
        return f"{base.architecture.parameters / 1e9:.2f}B"
    return f"~{base.card_parameters}B (card)" if base.card_parameters else "see note"


def catalogue_rows() -> list[dict[str, str]]:
    """One row per known base for `finsent model list` (the table in docs/methodology/models.md is its output)."""
    rows = []
    for base in BASES.values():
        batch = train_batch_size(base)
        defaults = [k for k, v in DEFAULT_BASES.items() if v == base.name]
        attention, everything = base_targets(base), base_targets(base, True)
        rows.append({"name": base.name + (f" (default: {', '.join(defaults)})" if defaults else ""),
                     "hub id": base.hub_id, "kinds": ", ".join(base.kinds), "architecture": base.model_type,
                     "parameters": _parameters_text(base), "licence": base.licence, "commercial use": base.commercial,
                     **_memory_cells(base, batch),
                     "LoRA targets (--all-linear adds)": f"{attention} (+ {everything.removeprefix(attention + ',')})",
                     "batch: train / score": f"{batch} / {score_batch_size(base)}", "note": base.note})
    return rows


HOW = ("Parameters: the weight matrices of the config (attention q, k, v, o; the MLP: 3 matrices for "
       "SwiGLU, else 2; embeddings, untied ones twice; learned positions), biases and norms (< 0.5%) left out; "
       "'card': the model card's rounded count where the config is not checked here. Memory (GiB, estimates at "
       "the train batch shown): serve = bf16 weights + 10%; bf16 LoRA = bf16 weights + 16 bytes per LoRA weight "
       "(r=8 on the attention) + activations (34 bytes x tokens x hidden x layers, Korthikanti et al. 2022; "
       "256 tokens a post for causal LMs, 128 for encoders); QLoRA = the layers in NF4 (0.53 bytes a weight), "
       "embeddings in bf16, the same LoRA and activations; full = 16 bytes a weight (fp32 weight, gradient, "
       "Adam) + activations. Batch: the largest power of two (train up to 32, score up to 512) whose estimate "
       "fits 80% of a 24 GB card. '>=': weights only (no config here for the activations); '-': not applicable or "
       "not computable without the config.")
