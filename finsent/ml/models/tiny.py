"""``finsent model make-tiny DIR [--family F]``: a tiny random checkpoint of a real architecture with a
tokenizer trained locally, saved with ``save_pretrained``.

Same architecture and the same loading code (``from_pretrained`` on a directory) as the real bases,
small enough that every kind runs offline on a CPU in seconds. The families and their tokenizers:
gpt_neox (polyglot-ko: byte-level BPE), llama (Kanana, HyperCLOVA X SEED: SentencePiece-style "▁"
BPE with BOS), qwen3 (byte-level BPE, no BOS), bert and electra (WordPiece with [CLS]/[SEP]),
deberta-v2 (SentencePiece-style with [CLS]/[SEP]) and modernbert (byte-level BPE with [CLS]/[SEP]).
Encoders are saved without a classification head, like the checkpoints on the hub.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finsent.errors import ConfigError
from finsent.ml.models.prompts import PROMPT_STYLES, VERBALIZERS

log = logging.getLogger(__name__)

# Text the tokenizer learns from besides the caller's corpus: the prompts and market words, so
# the verbalizers and the prompt are a few tokens each.
_SEED_TEXT = [*PROMPT_STYLES.values(), *VERBALIZERS, "[정답]: [상승]", "[정답]: [하락]",
              "상승 하락 매수 매도 주가 종목 실적 반등 손절 익절 떡상 떡락 가즈아 폭등 폭락 외인 기관 개미"]
_ENCODER_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CAUSAL_FAMILIES = ("gpt_neox", "llama", "qwen3")
ENCODER_FAMILIES = ("bert", "electra", "deberta-v2", "modernbert")
TINY_FAMILIES = CAUSAL_FAMILIES + ENCODER_FAMILIES


def _trained(tokenizer: Any, trainer: Any, corpus: Iterable[str]) -> Any:
    tokenizer.train_from_iterator(list(_SEED_TEXT) * 20 + list(corpus), trainer=trainer)
    return tokenizer


def byte_level_bpe(corpus: Iterable[str], vocab_size: int, specials: list[str]) -> Any:
    """GPT-NeoX / Qwen style: bytes, a space glued to the word after it, no BOS."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return _trained(tokenizer, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet()), corpus)


def sentencepiece_style(corpus: Iterable[str], vocab_size: int, specials: list[str], unk: str) -> Any:
    """Llama / DeBERTa-v2 style: BPE over "▁"-marked words, a "▁" prepended to the text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    return _trained(tokenizer, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials), corpus)


def wordpiece(corpus: Iterable[str], vocab_size: int) -> Any:
    """BERT / ELECTRA style: WordPiece over whitespace and punctuation, ## continuations, cased."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    return _trained(tokenizer, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=_ENCODER_SPECIALS),
                    corpus)


def _template(tokenizer: Any, single: str, pair: str, specials: list[str]) -> Any:
    from tokenizers import processors

    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, pair=pair, special_tokens=[(t, tokenizer.token_to_id(t)) for t in specials])
    return tokenizer


def _tokenizer(family: str, corpus: list[str], vocab_size: int) -> Any:
    """The family's tokenizer, trained on the seed text and ``corpus``, as a transformers tokenizer."""
    from transformers import PreTrainedTokenizerFast

    if family == "gpt_neox":
        raw = byte_level_bpe(corpus, vocab_size, ["<|endoftext|>", "<|pad|>"])
        return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                       pad_token="<|pad|>")
    if family == "qwen3":
        raw = byte_level_bpe(corpus, vocab_size, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        return PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    if family == "llama":
        raw = _template(sentencepiece_style(corpus, vocab_size, ["<unk>", "<s>", "</s>"], "<unk>"),
                        "<s> $A", "<s> $A <s> $B", ["<s>"])
        return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    if family == "deberta-v2":
        raw = sentencepiece_style(corpus, vocab_size, _ENCODER_SPECIALS, "[UNK]")
    elif family == "modernbert":
        raw = byte_level_bpe(corpus, vocab_size, _ENCODER_SPECIALS)
    else:
        raw = wordpiece(corpus, vocab_size)
    raw = _template(raw, "[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]", ["[CLS]", "[SEP]"])
    return PreTrainedTokenizerFast(tokenizer_object=raw, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                                   unk_token="[UNK]", mask_token="[MASK]")


def _model(family: str, tokenizer: Any, hidden: int, layers: int, heads: int) -> Any:
    """The family's model with random weights: a causal LM, or an encoder without a head."""
    import transformers as hf

    ids = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id,
           "eos_token_id": tokenizer.eos_token_id}
    shape = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
             "intermediate_size": 4 * hidden, "max_position_embeddings": 1024}
    if family == "gpt_neox":
        return hf.GPTNeoXForCausalLM(hf.GPTNeoXConfig(**ids, **shape, rotary_pct=0.5, tie_word_embeddings=False))
    if family == "llama":
        return hf.LlamaForCausalLM(hf.LlamaConfig(**ids, **shape, num_key_value_heads=heads, tie_word_embeddings=False))
    if family == "qwen3":
        return hf.Qwen3ForCausalLM(hf.Qwen3Config(**ids, **shape, num_key_value_heads=heads // 2,
                                                  head_dim=hidden // heads, tie_word_embeddings=True))
    encoder = {**ids, **shape, "cls_token_id": tokenizer.cls_token_id, "sep_token_id": tokenizer.sep_token_id}
    if family == "bert":
        return hf.BertForMaskedLM(hf.BertConfig(**encoder))
    if family == "electra":
        return hf.ElectraForPreTraining(hf.ElectraConfig(**encoder, embedding_size=hidden))
    if family == "deberta-v2":
        return hf.DebertaV2ForMaskedLM(hf.DebertaV2Config(**encoder, type_vocab_size=0, relative_attention=True,
                                                          position_buckets=32, pos_att_type=["p2c", "c2p"]))
    return hf.ModernBertForMaskedLM(hf.ModernBertConfig(**encoder, global_attn_every_n_layers=2,
                                                        local_attention=16))


def make_tiny_model(directory: Path, corpus: Iterable[str] = (), *, family: str = "gpt_neox", vocab_size: int = 2000,
                    hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """A tiny random checkpoint of ``family`` (one of ``TINY_FAMILIES``) in ``directory``."""
    import torch

    if family not in TINY_FAMILIES:
        raise ConfigError(f"--family must be one of {', '.join(TINY_FAMILIES)}, got {family!r}")
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(family, list(corpus), vocab_size)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    _model(family, tokenizer, hidden, layers, heads).save_pretrained(directory)
    log.info("tiny %s (%d layers, hidden %d, vocab %d) saved to %s", family, layers, hidden, len(tokenizer), directory)
    return directory


def make_tiny_llama_model(directory: Path, corpus: Iterable[str] = (), **options: Any) -> Path:
    """A tiny random Llama with a SentencePiece-style tokenizer (BPE over "▁"-marked words, a "▁"
    prepended to the text, BOS added): the other tokenizer family finsent must read correctly."""
    return make_tiny_model(directory, corpus, family="llama", **options)
