"""Attention capture: the weights of every attention module, by plain math, for the batch the model
just ran; the same weights the cached decoder records per step; snapshots in run folders."""

import shutil

import pytest
import torch

from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.decoding import GenerationConfig, generate
from workbench.core.inspect import (attention_axes, attention_group, attention_steps, capture_attention, checkpoint_model,
                          probe_inputs, read_attention_snapshot, text_arguments, write_attention_snapshot)
from workbench.core.project import Project, load_project
from workbench.core.training.runs import RunFolderError
from workbench.core.training.trainer import start_run
from tests.conftest import REPO
from tests.core.decoding.helpers import SOURCE, sharp_model


def test_capture_gives_causal_rows_that_sum_to_one():
    compiled = sharp_model("mistral-window")  # window 4
    tokens = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(0))
    maps = capture_attention(compiled, tokens)
    assert [(m.path, m.repeat, m.kind) for m in maps] == [("layers/attn", 0, "self"), ("layers/attn", 1, "self")]
    for m in maps:
        assert m.weights.shape == (2, 4, 10, 10)
        torch.testing.assert_close(m.weights.sum(-1), torch.ones(2, 4, 10))
        i, j = torch.arange(10)[:, None], torch.arange(10)[None]
        assert (m.weights[..., (j > i) | (i - j >= 4)] == 0).all()  # the future and outside the window


def test_capture_reads_padding_relative_bias_and_cross_attention():
    compiled = sharp_model("t5")
    source = torch.tensor([SOURCE + [0, 0]])
    mask = torch.tensor([[1] * len(SOURCE) + [0, 0]])
    target = torch.tensor([[0, 11, 12]])
    maps = capture_attention(compiled, source, target, mask)
    kinds = [(m.path, m.kind, tuple(m.weights.shape)) for m in maps]
    assert kinds == [("encoder/attn", "self", (1, 4, 7, 7))] * 2 + [
        ("decoder/attn", "self", (1, 4, 3, 3)), ("decoder/cross_attn", "cross", (1, 4, 3, 7))] * 2
    for m in maps[:2] + maps[3::2]:  # encoder self-attention and cross-attention skip the padded source
        assert (m.weights[..., -2:] == 0).all()
        torch.testing.assert_close(m.weights.sum(-1), torch.ones(m.weights.shape[:-1]))


def test_step_records_hold_the_weights_a_capture_of_the_whole_sequence_gives():
    compiled = sharp_model("llama-gqa")
    result = generate(compiled, [3, 4, 5], GenerationConfig(max_new_tokens=4, record_attention=True))
    sequence = torch.tensor([[3, 4, 5, *result.tokens[:-1]]])  # what the last step read
    full = capture_attention(compiled, sequence)
    last = result.steps[-1].attention
    assert [(m.path, m.repeat) for m in last] == [(m.path, m.repeat) for m in full]
    for step_map, full_map in zip(last, full):
        assert step_map.weights.shape == (1, 4, 1, 6)
        torch.testing.assert_close(step_map.weights, full_map.weights[:, :, -1:], atol=1e-5, rtol=0)


def test_snapshots_round_trip_through_the_run_folder(tmp_path):
    compiled = sharp_model("gpt2")
    probe = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    for step in (20, 10):
        write_attention_snapshot(tmp_path, compiled, probe, step)
    assert attention_steps(tmp_path) == [10, 20]
    tokens, maps = read_attention_snapshot(tmp_path, 20)
    assert tokens == probe[0].tolist()
    captured = capture_attention(compiled, probe[:1])
    assert [m.key for m in maps] == ["layers/attn#0", "layers/attn#1"]
    for read, fresh in zip(maps, captured):
        torch.testing.assert_close(read.weights, fresh.weights, atol=1e-3, rtol=0)  # stored as float16


def test_training_writes_attention_snapshots_on_the_sample_schedule(tiny_project, tmp_path):
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])  # 6 steps, samples every 3
    assert trainer.train() == "finished"
    assert attention_steps(trainer.run.path) == [3, 6]
    tokens, maps = read_attention_snapshot(trainer.run.path, 6)
    assert len(tokens) == 32 and [m.key for m in maps] == ["layers/attn#0", "layers/attn#1"]
    assert maps[0].weights.shape == (1, 2, 32, 32)


def test_an_encoder_decoder_snapshot_keeps_both_token_inputs_and_labels_each_group(tmp_path):
    compiled = sharp_model("t5")  # forward(tokens, dec_tokens, mask, dec_mask)
    graph = build_graph(FAMILIES["t5"].replace(vocab_size=50, context_length=16, width=32, layers=2))
    source, target = torch.tensor([SOURCE]), torch.tensor([[0, 11, 12]])
    write_attention_snapshot(tmp_path, compiled, [source, target, torch.ones_like(source)], 10)
    inputs = probe_inputs(tmp_path, graph)
    assert inputs == {"tokens": SOURCE, "decoder_tokens": [0, 11, 12], "padding_mask": [1] * 5}
    _, maps = read_attention_snapshot(tmp_path, 10)
    groups = [attention_group(graph, m) for m in maps]
    assert groups == ["encoder", "encoder", "decoder", "cross", "decoder", "cross"]
    assert attention_axes(inputs, "cross") == ([0, 11, 12], SOURCE)  # decoder queries read source keys
    assert attention_axes(inputs, "decoder") == ([0, 11, 12], [0, 11, 12])
    assert attention_axes(inputs, "encoder") == (SOURCE, SOURCE)
    gpt = load_project().graph
    assert attention_group(gpt, maps[0]) == "self"


def test_typed_text_is_framed_as_training_framed_it():
    t5 = Project.load(REPO / "assets/presets/t5-tiny.json")
    compiled = t5.compile()
    inputs, arguments = text_arguments(t5, compiled, "abc", "cb")
    special = t5.tokenizer.special_ids()
    assert inputs["tokens"] == t5.tokenizer.encode("abc") + [special["[EOS]"]]
    assert inputs["decoder_tokens"] == [special["[BOS]"]] + t5.tokenizer.encode("cb")
    assert [a.tolist()[0] for a in arguments] == [inputs["tokens"], inputs["decoder_tokens"], [1] * 4, [1] * 3]
    assert [m.weights.shape[-2:] for m in capture_attention(compiled, *arguments)][-1] == (3, 4)  # cross

    gpt = load_project()
    compiled = gpt.compile()
    inputs, arguments = text_arguments(gpt, compiled, "x" * 500)
    assert inputs == {"tokens": gpt.tokenizer.encode("x" * compiled.ctx.context_length)}  # cut to the context
    with pytest.raises(ValueError, match="type some text"):
        text_arguments(gpt, compiled, "")


def test_checkpoint_model_loads_a_step_and_names_what_is_wrong(trained_run, tmp_path):
    compiled, project = checkpoint_model(trained_run, 8)
    tokens, maps = read_attention_snapshot(trained_run, 8)
    fresh = capture_attention(compiled, torch.tensor([tokens]))
    for read, captured in zip(maps, fresh):  # the snapshot the trainer wrote at step 8, from the same weights
        torch.testing.assert_close(read.weights, captured.weights, atol=1e-3, rtol=0)
    with pytest.raises(RunFolderError, match="no checkpoint at step 5"):
        checkpoint_model(trained_run, 5)
    damaged = tmp_path / "run"
    shutil.copytree(trained_run, damaged)
    (damaged / "checkpoints/step_000004/model.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunFolderError, match="step_000004.*does not fit"):
        checkpoint_model(damaged, 4)
    (damaged / "attention/step_000004.safetensors").write_bytes(b"garbage")
    with pytest.raises(RunFolderError, match="step_000004.safetensors: unreadable attention snapshot"):
        read_attention_snapshot(damaged, 4)
    (damaged / "attention/index.json").write_text("{")
    with pytest.raises(RunFolderError, match="index.json: unreadable"):
        attention_steps(damaged)
