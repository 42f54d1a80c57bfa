"""Every zoo preset opens, compiles, runs and reports sizes that add up; the files are exactly what
assets/presets/make_presets.py writes; every preset takes a training step with its own objective."""

import importlib.util
import json
import math

import pytest
import torch
from torch import nn

from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.project import ASSETS, Project
from workbench.core.summary import summarize
from workbench.core.training.objectives import input_kinds, make_objective, model_arguments

from .helpers import example_inputs, run

ZOO = ("qwen2", "qwen3", "gemma2", "phi3", "neox", "opt", "falcon", "mixtral")  # issue #25's families
PRESETS = ("gpt2", "bert", "bert-genre", "bart", "t5", "llama", "mistral", *ZOO)
CAUSAL_LM = ("gpt2", "llama", "mistral", *ZOO)
DENSE = tuple(p for p in PRESETS if p != "mixtral")  # every weight in every token's matmuls


def _make_presets():
    spec = importlib.util.spec_from_file_location("make_presets", ASSETS / "presets" / "make_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_what_the_script_writes(name):
    on_disk = json.loads((ASSETS / "presets" / f"{name}-tiny.json").read_text(encoding="utf-8"))
    assert on_disk == _make_presets().preset(name)


def test_the_script_leaves_the_default_preset_alone():
    assert "gpt" not in _make_presets().FAMILIES


@pytest.mark.parametrize("name", PRESETS)
def test_preset_opens_compiles_and_runs(name):
    project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
    project.check()
    torch.manual_seed(0)
    compiled = project.compile()
    logits = run(compiled, example_inputs(project.graph, compiled, batch=2, length=12))
    expected = (2, 3) if name == "bert-genre" else (2, 12, project.tokenizer.vocab_size)
    assert logits.shape == expected and torch.isfinite(logits).all()
    assert compiled.training_module is not None


@pytest.mark.parametrize("name", DENSE)
def test_info_totals_match_the_module(name):
    project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
    compiled = project.compile()
    summary = summarize(project.graph, compiled)
    assert summary.total_params == sum(p.numel() for p in compiled.root.parameters())  # tied tensors once
    # Forward FLOPs are 2 per weight of every matmul (a tied head counts again: it is a second matmul)
    # plus the attention scores; training is 3 × forward, so 6N with N the matmul weights.
    linears = [m for m in compiled.root.modules() if isinstance(m, nn.Linear)]
    matmul_weights = sum(m.in_features * m.out_features for m in linears)
    context = summary.context_length
    scores = sum(4 * min(context, m.window or context) * m.heads * m.head_width
                 for m in compiled.root.modules() if isinstance(m, SelfAttention))
    scores += sum(4 * context * m.heads * m.head_width
                  for m in compiled.root.modules() if isinstance(m, CrossAttention))
    assert summary.flops_per_token == 2 * matmul_weights + scores
    assert summary.training_flops_per_token - 3 * scores == 6 * matmul_weights


def test_kv_cache_bytes_per_token():
    expected = {  # 2 (k and v) × causal self-attention layers × kv heads × head width × 4 bytes (fp32)
        "gpt2": 2 * 4 * 4 * 32 * 4, "llama": 2 * 4 * 2 * 32 * 4, "mistral": 2 * 4 * 2 * 32 * 4,
        "bert": 0, "bart": 2 * 2 * 4 * 32 * 4, "t5": 2 * 2 * 4 * 32 * 4,
    }
    for name, bytes_per_token in expected.items():
        project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
        assert summarize(project.graph).kv_cache_bytes_per_token == bytes_per_token, name


def test_inputs_are_named_in_a_documented_order():
    def names(name):
        project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
        compiled = project.compile()
        return compiled.input_names, compiled.training_input_names

    assert names("gpt2") == (["tokens", "mask"], ["tokens", "targets", "mask"])
    assert names("bert") == (["tokens", "mask", "token_types"], ["tokens", "targets", "mask", "token_types"])
    assert names("t5") == (["tokens", "dec_tokens", "mask", "dec_mask"],
                           ["tokens", "dec_tokens", "targets", "mask", "dec_mask"])


@pytest.mark.parametrize("name", CAUSAL_LM)
def test_causal_presets_take_a_training_step(name):
    project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
    torch.manual_seed(0)
    compiled = project.compile()
    tokens = torch.randint(0, project.tokenizer.vocab_size, (2, 17))
    _, loss = compiled.training_module(tokens[:, :-1], tokens[:, 1:])  # as the trainer calls it
    loss.backward()
    assert torch.isfinite(loss) and abs(loss.item() - torch.log(torch.tensor(63.0)).item()) < 0.5
    assert all(p.grad is not None for p in compiled.root.parameters())


@pytest.mark.parametrize("name", ["bert", "bert-genre", "bart", "t5"])
def test_other_presets_take_a_step_with_their_objective(name):
    project = Project.load(ASSETS / "presets" / f"{name}-tiny.json")
    torch.manual_seed(0)
    compiled = project.compile()
    config = project.train.replace(batch_size=2)
    batch = make_objective(project, config, compiled).batch(0, "train")
    kinds = input_kinds(project.graph, compiled.training_input_names)
    _, loss = compiled.training_module(*model_arguments(batch, kinds))
    loss.backward()
    chance = math.log(3 if name == "bert-genre" else project.tokenizer.vocab_size)
    # T5's initialisation (unit-variance embeddings) starts encoder-decoders a little above chance.
    margin = 2.0 if name in ("bart", "t5") else 0.5
    assert torch.isfinite(loss) and abs(loss.item() - chance) < margin
