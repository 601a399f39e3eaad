"""The catalogue of bases and the LoRA targets by architecture: parameter counts from the config
formula, targets that match the real module names of each family, clear errors for a wrong list,
all linear layers for an unknown architecture, and the licence warning."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from finsent.cli import main
from finsent.errors import ConfigError
from finsent.ml.models.catalogue import BASES, DEFAULT_BASES, Architecture, catalogue_rows, train_batch_size
from finsent.ml.models.hf.spec import TransformerSpec
from finsent.ml.models.hf.targets import LORA_TARGETS, check_targets, choose_targets, linear_layer_names
from finsent.ml.models.lora import LoraClassifier
from finsent.ml.models.tiny import TINY_FAMILIES, make_tiny_model
from tests.ml.board import BEAR, BULL, NEUTRAL

TITLES = ["삼성 가즈아 떡상", "손절 떡락 하한가", "오늘 점심 뭐 먹지", "외인 매수 반등"] * 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    corpus = [" ".join(random.Random(i).sample(BULL + BEAR + NEUTRAL, 4)) for i in range(200)]
    root = tmp_path_factory.mktemp("catalogue")
    return {family: make_tiny_model(root / family, corpus, family=family) for family in TINY_FAMILIES}


def _architecture(config) -> Architecture:
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    causal = config.model_type in ("llama", "qwen3", "gpt_neox")
    return Architecture(config.hidden_size, config.num_hidden_layers, heads,
                        getattr(config, "num_key_value_heads", None) or heads, head_dim, config.intermediate_size,
                        config.vocab_size, tied=bool(config.tie_word_embeddings) or not causal,
                        gated_mlp=config.model_type in ("llama", "qwen3"),
                        positions=0 if causal else config.max_position_embeddings)


@pytest.mark.parametrize("family", ["gpt_neox", "llama", "qwen3", "bert"])
def test_the_parameter_formula_counts_the_weight_matrices_of_the_real_architecture(tiny, family):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny[family])
    loader = AutoModel if family == "bert" else AutoModelForCausalLM
    model = loader.from_pretrained(tiny[family])
    # the matrices: every 2-D weight but BERT's token-type embeddings and pooler (the formula leaves those out)
    matrices = sum(p.numel() for n, p in model.named_parameters()
                   if p.dim() == 2 and "token_type" not in n and "pooler" not in n)
    assert _architecture(config).parameters == matrices


def test_the_catalogues_own_figures():
    qwen = BASES["qwen3-1.7b"].architecture
    assert round(qwen.parameters / 1e9, 2) == 1.72 and round(qwen.body / 1e9, 2) == 1.41  # the card: 1.7B, 1.4B
    assert round(BASES["qwen3-4b"].architecture.parameters / 1e9, 2) == 4.02
    assert round(BASES["polyglot-ko-1.3b"].architecture.parameters / 1e9, 2) == 1.33
    assert round(BASES["exaone-4.0-1.2b"].architecture.body / 1e9, 2) == 1.07  # the card: 1.07B without embeddings
    assert round(BASES["klue-roberta-large"].architecture.parameters / 1e6) in range(330, 340)
    assert train_batch_size(BASES["qwen3-4b"]) < train_batch_size(BASES["qwen3-1.7b"])
    rows = {row["hub id"]: row for row in catalogue_rows()}
    assert rows["LGAI-EXAONE/EXAONE-4.0-1.2B"]["commercial use"] == "no"
    assert rows["kakaobank/kf-deberta-base"]["licence"] == "MIT"
    assert "default: lora, prompt" in rows[BASES[DEFAULT_BASES["lora"]].hub_id]["name"]
    assert rows["EleutherAI/polyglot-ko-1.3b"]["LoRA targets (--all-linear adds)"].startswith("query_key_value (+")


def test_model_list_and_make_tiny_on_the_command_line(tmp_path, capsys):
    assert main(["model", "list"]) == 0
    shown = capsys.readouterr().out
    assert "kakaocorp/kanana-1.5-2.1b-instruct-2505" in shown and "Apache-2.0" in shown and "QLoRA" in shown
    assert "Parameters: the weight matrices of the config" in shown
    assert main(["model", "make-tiny", str(tmp_path / "electra"), "--family", "electra"]) == 0
    assert (tmp_path / "electra" / "config.json").is_file() and '"electra"' in (tmp_path / "electra" /
                                                                              "config.json").read_text()


@pytest.mark.parametrize("family", TINY_FAMILIES)
def test_every_family_of_the_table_finds_its_layers(tiny, family):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(tiny[family])
    causal = family in ("gpt_neox", "llama", "qwen3")
    model = (AutoModelForCausalLM if causal else AutoModelForSequenceClassification).from_pretrained(tiny[family])
    layers = linear_layer_names(model)
    for all_linear in (False, True):
        chosen = choose_targets(config.model_type, (), all_linear)
        assert chosen.modules == LORA_TARGETS[config.model_type][0] + (LORA_TARGETS[config.model_type][1]
                                                                       if all_linear else ())
        check_targets(chosen, layers, family)
        for target in chosen.modules:  # every name of the row is a layer of the family
            assert any(layer == target or layer.endswith("." + target) for layer in layers), target


def test_a_wrong_target_list_is_a_clear_error_and_an_unknown_architecture_gets_all_linear(tiny, tmp_path, caplog):
    spec = TransformerSpec(base_model=str(tiny["qwen3"]), device="cpu", max_steps=1, batch_size=4,
                           lora_targets=("query_key_value",))
    with pytest.raises(ConfigError, match=r"LoRA targets query_key_value \(--lora-targets\) match no linear "
                                          r"layer of .*named down_proj, gate_proj, .*q_proj"):
        LoraClassifier(spec).fit(TITLES, np.array([1, 0, 0, 1] * 2))
    # an architecture the table does not know (OPT): LoRA on every linear layer, and the log says so
    from transformers import AutoTokenizer, OPTConfig, OPTForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny["gpt_neox"])
    tokenizer.save_pretrained(tmp_path / "opt")
    OPTForCausalLM(OPTConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, ffn_dim=64,
                             num_attention_heads=4, word_embed_proj_dim=32, pad_token_id=tokenizer.pad_token_id,
                             bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
                   ).save_pretrained(tmp_path / "opt")
    with caplog.at_level(logging.INFO):
        model = LoraClassifier(TransformerSpec(base_model=str(tmp_path / "opt"), device="cpu", max_steps=1,
                                               batch_size=4, prompt="zero-shot"))
        model.fit(TITLES, np.array([1, 0, 0, 1] * 2))
    assert "'opt' is not in finsent's architecture table; LoRA goes on all its linear layers" in caplog.text
    assert model.params["lora_targets"] == "all-linear"
    adapted = {n.rsplit(".lora_A", 1)[0].rsplit(".", 1)[-1] for n, _ in model.model.named_parameters() if "lora_A" in n}
    assert {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"} <= adapted


def test_a_bad_target_list_on_the_command_line_exits_2_without_a_traceback(engine, planted, tiny, caplog):
    assert main(["train", "--dataset", planted, "--model", "encoder", "--base-model", str(tiny["bert"]),
                 "--device", "cpu", "--max-steps", "1", "--lora-targets", "q_proj,v_proj"]) == 2
    assert "LoRA targets q_proj, v_proj (--lora-targets) match no linear layer" in caplog.text
    assert "Traceback" not in caplog.text
    assert main(["train", "--dataset", planted, "--model", "lora", "--lora-targets", "q proj"]) == 2
    assert "--lora-targets must be a comma-separated list of layer names" in caplog.text


def test_defaults_licences_and_guards():
    assert TransformerSpec(base_model="qwen3-4b").resolved("lora").base_model == "Qwen/Qwen3-4B"
    assert TransformerSpec().resolved("encoder").lr == 2e-4  # LoRA by default
    assert TransformerSpec(finetune="full").resolved("encoder").lr == 3e-5
    assert TransformerSpec(lr=1e-3, batch_size=3).resolved("lora").batch_size == 3
    with pytest.raises(ConfigError, match="kf-deberta-base is an encoder: it suits --model encoder, not lora"):
        TransformerSpec(base_model="kf-deberta-base").resolved("lora")
    with pytest.raises(ConfigError, match="--lora-targets and --all-linear both name the layers"):
        TransformerSpec(lora_targets=("q_proj",), all_linear=True).validate()
    with pytest.raises(ConfigError, match="--quantize 4bit is for causal LMs"):
        from finsent.ml.models.encoder import EncoderClassifier

        EncoderClassifier(TransformerSpec(quantize="4bit"))


def test_a_non_commercial_base_warns_when_it_trains(caplog):
    with caplog.at_level(logging.WARNING):
        TransformerSpec(base_model="exaone-4.0-1.2b").resolved("lora")
    assert "LGAI-EXAONE/EXAONE-4.0-1.2B is licensed EXAONE AI Model License (NC): no commercial use" in caplog.text


def test_a_manifest_of_an_older_finsent_still_loads_its_spec():
    old = {"base_model": "EleutherAI/polyglot-ko-1.3b", "prompt": "study-2shot", "target_modules": ["query_key_value"],
           "all_linear": False, "batch_size": 16, "lr": 2e-4}
    assert TransformerSpec.from_saved(old).lora_targets == ("query_key_value",)
    assert TransformerSpec.from_saved({**old, "target_modules": ["all-linear"]}).all_linear
