"""Encoder-decoders start from T5's initialisation (unit-scale activations and logits), decoder-only
and encoder-only graphs keep GPT-2's untouched."""

import math

import pytest
import torch

from workbench.core.nn.init import is_encoder_decoder
from workbench.core.project import ASSETS, Project
from workbench.core.training.objectives import input_kinds, make_objective, model_arguments

PRESETS = ASSETS / "presets"


def compiled_preset(name: str, seed: int = 0):
    project = Project.load(PRESETS / f"{name}-tiny.json")
    torch.manual_seed(seed)
    return project, project.compile()


def weights(compiled) -> dict[str, torch.Tensor]:
    return dict(compiled.training_module.named_parameters(remove_duplicate=False))


def close(tensor: torch.Tensor, std: float, tolerance: float = 0.1) -> bool:
    """Drawn from N(0, std²): the spread within `tolerance`, the mean within three standard errors."""
    mean_error = 3 * std / tensor.numel() ** 0.5
    return abs(tensor.std().item() / std - 1) < tolerance and abs(tensor.mean().item()) < mean_error


def test_t5_follows_t5s_scheme():
    _, compiled = compiled_preset("t5")
    w, d = weights(compiled), 128
    assert close(w["tok_emb.weight"], 1.0)  # T5's shared embedding, read by a head that scales by 1/√D
    assert w["lm_head.linear.weight"] is w["tok_emb.weight"]
    qkv = w["encoder.0.attn.qkv.weight"]  # (3·H·K, D); T5 does not divide scores by √K, so queries carry it
    head_width = compiled.root.get_submodule("encoder.0.attn").head_width
    assert close(qkv[:d], (d * head_width) ** -0.5) and close(qkv[d:], d ** -0.5)
    assert close(w["decoder.1.cross_attn.q.weight"], (d * head_width) ** -0.5)
    assert close(w["decoder.1.cross_attn.kv.weight"], d ** -0.5)
    assert close(w["decoder.0.mlp.fc.weight"], d ** -0.5) and close(w["decoder.0.mlp.proj.weight"], (4 * d) ** -0.5)
    assert close(w["enc_positions.weight"], d ** -0.5, tolerance=0.3)  # only 32 × 4 values
    assert torch.equal(w["enc_norm.weight"], torch.ones(d))


def test_bart_embeddings_match_its_unscaled_tied_head():
    _, compiled = compiled_preset("bart")
    w, d = weights(compiled), 128
    assert close(w["tok_emb.weight"], d ** -0.5) and close(w["enc_positions.weight"], d ** -0.5)
    assert close(w["encoder.0.attn.qkv.weight"], d ** -0.5)  # BART divides scores by √K: no extra query scale
    assert torch.count_nonzero(w["lm_head.linear.bias"]) == 0


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_encoder_decoders_start_near_uniform_predictions(name):
    """Logits of about unit scale: the first loss is within ~σ²/2 of ln V, not the tens a head reading
    √D-scale vectors would give."""
    project, compiled = compiled_preset(name)
    config = project.train.replace(objective="seq2seq", task="reverse", batch_size=16)
    batch = make_objective(project, config, compiled).batch(0, "train")
    kinds = input_kinds(project.graph, compiled.training_input_names)
    compiled.training_module.eval()
    with torch.no_grad():
        _, loss = compiled.training_module(*model_arguments(batch, kinds))
    assert abs(loss.item() - math.log(project.tokenizer.vocab_size)) < 2.0


@pytest.mark.parametrize("name", ["gpt2", "bert", "bert-genre", "llama"])
def test_other_graphs_keep_gpt2s_init(name):
    _, compiled = compiled_preset(name)
    assert not is_encoder_decoder(compiled.root)
    w = weights(compiled)
    assert close(w["tok_emb.weight"], 0.02)
    layers = sum(1 for n in w if n.endswith("attn.proj.weight"))
    assert close(w["layers.0.attn.proj.weight"], 0.02 / math.sqrt(2 * layers))  # GPT-2's scaled residual
