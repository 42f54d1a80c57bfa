"""ONNX export of every preset: onnxruntime matches PyTorch at three sequence lengths and two batch
sizes, the decoders' step models reproduce the app's cached greedy generation, and what cannot be
exported or does not match is an error that says where."""

import onnx
import pytest
import torch
from torch import nn

from workbench.core.decoding import GenerationConfig, generate
from workbench.core.export.onnx_export import (TOLERANCE, check_onnx, describe_failure, export_onnx, open_session,
                                     portable_attention)
from workbench.core.export.onnx_step import StepModel, check_step, export_step, onnx_greedy, step_layers
from workbench.core.export.report import ExportError, ParityError
from workbench.core.nn.attention import SelfAttention

from .tiny import DECODERS, PRESETS, tiny_project


def axes(path) -> dict[str, list]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in [*graph.input, *graph.output]}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """preset -> (compiled model, its ONNX file), each exported once for the tests that read it. One
    layer per stack: a repeat adds nothing an export could get wrong, and every layer costs seconds."""
    files = {}

    def get(name: str):
        if name not in files:
            compiled = tiny_project(name, layers=1).compile()
            files[name] = compiled, export_onnx(compiled, tmp_path_factory.mktemp(name) / "model.onnx")
        return files[name]

    return get


@pytest.mark.parametrize("name", PRESETS)
def test_onnxruntime_matches_pytorch(name, exported):
    compiled, path = exported(name)
    diffs = check_onnx(compiled, path)  # lengths 1, 7 and 16, batches 1 and 3 (traced at 2 × 7)
    assert sorted(diffs) == [1, 7, 16] and max(diffs.values()) <= TOLERANCE, diffs
    shapes = axes(path)
    assert list(shapes)[:-1] == compiled.input_names  # the forward's arguments, masks required
    assert shapes["tokens"] == ["batch", "tokens_length"]
    if "dec_tokens" in shapes:  # an encoder-decoder's source and target lengths vary independently
        assert shapes["dec_tokens"] == ["batch", "dec_tokens_length"] and shapes["dec_mask"] == shapes["dec_tokens"]
        assert shapes["logits"] == ["batch", "dec_tokens_length", compiled.ctx.vocab_size]
    if "mask" in shapes:
        assert shapes["mask"] == shapes["tokens"]


@pytest.mark.parametrize("name", DECODERS)
def test_step_model_reproduces_cached_greedy_generation(name, tmp_path):
    compiled = tiny_project(name).compile()
    path = export_step(compiled, tmp_path / "step.onnx")
    attention = compiled.submodule("layers/attn")
    shapes = axes(path)
    assert shapes["past_key_0"] == ["batch", attention.kv_heads, "past_length", attention.head_width]
    assert shapes["present_value_1"] == ["batch", attention.kv_heads, "past_length + new_tokens", attention.head_width]
    assert shapes["logits"] == ["batch", "new_tokens", compiled.ctx.vocab_size]

    prompt = [5, 9, 2]
    ids, _ = onnx_greedy(open_session(path), StepModel(compiled), torch.tensor([prompt]), 10)
    cached = generate(compiled, prompt, GenerationConfig(strategy="greedy", max_new_tokens=10, use_cache=True))
    assert ids[0, len(prompt):].tolist() == cached.tokens

    # Prompts of 1, 5 and 10 tokens, 6 steps each, batch 2: the tiny Mistral's window of 4 is passed.
    diffs = check_step(compiled, path)
    assert max(diffs.values()) <= TOLERANCE, diffs


@pytest.mark.parametrize("name", sorted(set(PRESETS) - set(DECODERS)))
def test_step_models_are_for_decoder_only_models(name):
    with pytest.raises(ExportError, match="decoder-only|causal"):
        step_layers(tiny_project(name).compile())


def test_a_file_that_does_not_match_is_an_error(exported):
    compiled, path = exported("gpt")
    with torch.no_grad():
        compiled.submodule("ln_f").weight.mul_(1.5)  # the app's model changes after the export
    try:
        with pytest.raises(ParityError, match=r"node 'ln_f' is the first to differ: onnxruntime's logits differ "
                                              r"from PyTorch's by up to .* above the tolerance 1e-04") as caught:
            check_onnx(compiled, path)
        assert sorted(caught.value.diffs) == [1, 7, 16] and max(caught.value.diffs.values()) > TOLERANCE
    finally:
        with torch.no_grad():
            compiled.submodule("ln_f").weight.div_(1.5)


class _Branchy(nn.Module):
    """Takes a branch by the values it sees, not their shapes: no trace can hold both ways."""

    def forward(self, x):
        if x.mean() > 0:
            return x
        return -x


def test_a_node_that_cannot_be_exported_is_named():
    compiled = tiny_project("gpt").compile()
    compiled.root.ln_f = compiled.module.ln_f = _Branchy()  # the fx module calls its own reference
    # export_onnx hands what torch.onnx.export raises to describe_failure; torch.export alone fails
    # the same way in a third of the time.
    with pytest.raises(Exception) as caught:
        torch.export.export(compiled.module, (torch.zeros(2, 5, dtype=torch.long),), strict=False)
    message = describe_failure(compiled, caught.value)
    assert message.startswith("node 'ln_f' cannot be exported to ONNX: Could not guard on data-dependent"), message


def test_export_runs_attention_on_sdpa_and_leaves_the_training_setup_alone():
    compiled = tiny_project("llama").compile()
    attention = [m for m in compiled.root.modules() if isinstance(m, SelfAttention)]
    for m in attention:
        m.backend = "flex"
    compiled.root.train()
    with portable_attention(compiled.root, compiled.module):
        assert {m.backend for m in attention} == {"sdpa"} and not any(m.training for m in compiled.root.modules())
    assert {m.backend for m in attention} == {"flex"} and all(m.training for m in compiled.root.modules())
