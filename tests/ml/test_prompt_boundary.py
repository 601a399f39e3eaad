"""The ids the model sees for a post are those of the whole prompt tokenised at once, for a byte-level
BPE (GPT-NeoX style) and a SentencePiece-style (Llama style: "▁" words, BOS) tokenizer, both built
locally; the prefix cache changes no probability."""

from __future__ import annotations

import random

import numpy as np
import pytest

from finsent.ml.models.hf.base_model import load_base
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.lora import LoraClassifier
from finsent.ml.models.lora.network import PromptNetwork
from finsent.ml.models.prompts import ANSWERS, prefix, suffix
from finsent.ml.models.tiny import make_tiny_llama_model, make_tiny_model
from tests.ml.board import BEAR, BULL, NEUTRAL

TITLES = ["삼성 가즈아 떡상", "  손절   했다  ", "ㅋㅋ", "외인 매도 폭락 ... 내일은?", "HBM 실적 좋네요 😀",
          "하락" * 80]  # the last is cut to max_title_tokens


@pytest.fixture(scope="module", params=["gpt-neox-bpe", "llama-sentencepiece"])
def family(request, tmp_path_factory):
    corpus = [" ".join(random.Random(i).sample(BULL + BEAR + NEUTRAL, 4)) for i in range(300)]
    if request.param == "gpt-neox-bpe":
        return make_tiny_model(tmp_path_factory.mktemp("neox") / "m", corpus), ["query_key_value"]
    return make_tiny_llama_model(tmp_path_factory.mktemp("llama") / "m", corpus), ["q_proj", "v_proj"]


def classifier(base, targets, prompt: str) -> LoraClassifier:
    import torch
    from peft import LoraConfig, get_peft_model

    spec = TransformerSpec(base_model=str(base), prompt=prompt, device="cpu", max_title_tokens=40)
    tokenizer, base_model = load_base(str(base), device="cpu", dtype="float32", quantize=None)
    torch.manual_seed(0)
    adapted = get_peft_model(base_model, LoraConfig(r=4, target_modules=targets, init_lora_weights=False)).eval()
    model = LoraClassifier(spec)
    model.network = PromptNetwork.build(tokenizer, adapted, model.spec, "cpu", "float32")
    return model


@pytest.mark.parametrize("prompt", ["study-2shot", "zero-shot"])
def test_a_post_is_the_whole_prompt_tokenised_at_once(family, prompt):
    base, targets = family
    model = classifier(base, targets, prompt)
    tok = model.tokenizer
    rows = model.encoder.encode(TITLES)
    for title, row in zip(TITLES[:-1], rows):
        # the tokenizer on the whole text, its own special tokens included (BOS for Llama, none for NeoX)
        for answer in ANSWERS:
            whole = tok(prefix(prompt) + suffix(title) + answer, add_special_tokens=True)["input_ids"]
            assert whole[:len(row)] == row
        answered = {tok(prefix(prompt) + suffix(title) + a, add_special_tokens=True)["input_ids"][len(row)]
                    for a in ANSWERS}
        assert answered == {model.encoder.up_id, model.encoder.down_id}  # the ids scored are the answers' own
    long_title = rows[-1]
    assert len(long_title) <= len(model.encoder.prefix_ids) + 40 + len(model.encoder.answer_shared)
    assert tok(tok.decode(long_title, skip_special_tokens=True), add_special_tokens=True)["input_ids"][:5] == \
        long_title[:5]
    if tok.bos_token_id is not None and tok("a")["input_ids"][0] == tok.bos_token_id:
        assert all(row[0] == tok.bos_token_id for row in rows)
    prefix_ids, tails = model.encoder.split(rows)
    assert all(prefix_ids + tail == row for tail, row in zip(tails, rows))
    assert len(prefix_ids) >= len(model.encoder.prefix_ids) - 2  # nearly all of the prefix is cached


def test_cached_and_uncached_probabilities_agree(family):
    base, targets = family
    model = classifier(base, targets, "study-2shot")
    titles = TITLES * 5
    cached = model.predict_proba(titles, batch_size=4, use_prefix_cache=True)
    whole = model.predict_proba(titles, batch_size=4, use_prefix_cache=False)
    assert np.abs(cached - whole).max() < 1e-5
    assert cached.std() > 0  # a random adapter: the probabilities differ between titles
    one_by_one = np.array([model.predict_proba([t], batch_size=1, use_prefix_cache=False)[0] for t in TITLES])
    assert np.abs(one_by_one - whole[:len(TITLES)]).max() < 1e-5  # padding changes nothing either
