"""``finsent model make-tiny DIR``: a tiny random GPT-NeoX with a locally trained tokenizer.

Same architecture family and the same loading code (``from_pretrained`` on a directory) as
EleutherAI/polyglot-ko, small enough that the whole LoRA path runs offline on a CPU in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from finsent.ml.models.prompts import PROMPT_STYLES, VERBALIZERS

log = logging.getLogger(__name__)

# Text the tokenizer learns from besides the caller's corpus: the prompts and market words, so
# the verbalizers and the prompt are a few tokens each.
_SEED_TEXT = [*PROMPT_STYLES.values(), *VERBALIZERS, "[정답]: [상승]", "[정답]: [하락]",
              "상승 하락 매수 매도 주가 종목 실적 반등 손절 익절 떡상 떡락 가즈아 폭등 폭락 외인 기관 개미"]


def make_tiny_model(directory: Path, corpus: Iterable[str] = (), *, vocab_size: int = 2000, hidden: int = 64,
                    layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = list(_SEED_TEXT) * 20 + list(corpus)
    tokenizer.train_from_iterator(text, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", pad_token="<|pad|>")
    fast.save_pretrained(directory)
    torch.manual_seed(seed)
    config = GPTNeoXConfig(vocab_size=len(fast), hidden_size=hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=4 * hidden, rotary_pct=0.5,
                           max_position_embeddings=1024, bos_token_id=fast.bos_token_id,
                           eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
                           tie_word_embeddings=False)
    GPTNeoXForCausalLM(config).save_pretrained(directory)
    log.info("tiny GPT-NeoX (%d layers, hidden %d, vocab %d) saved to %s", layers, hidden, len(fast), directory)
    return directory


def make_tiny_llama_model(directory: Path, corpus: Iterable[str] = (), *, vocab_size: int = 2000, hidden: int = 64,
                          layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """A tiny random Llama with a SentencePiece-style tokenizer (BPE over "▁"-marked words, a "▁"
    prepended to the text, BOS added): the other tokenizer family finsent must read correctly."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"])
    tokenizer.train_from_iterator(list(_SEED_TEXT) * 20 + list(corpus), trainer=trainer)
    bos = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                             special_tokens=[("<s>", bos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(directory)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, intermediate_size=4 * hidden,
                         max_position_embeddings=1024, bos_token_id=bos, eos_token_id=fast.eos_token_id,
                         tie_word_embeddings=False)
    LlamaForCausalLM(config).save_pretrained(directory)
    log.info("tiny Llama (%d layers, hidden %d, vocab %d) saved to %s", layers, hidden, len(fast), directory)
    return directory
