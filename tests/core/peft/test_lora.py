"""LoRA and prefix tuning on compiled presets: the identity before training, merging after it, and the
prefix seen through padding masks and the causal mask."""

import copy

import pytest
import torch

from workbench.core.nn.peft import LoRALinear, PrefixSelfAttention
from workbench.core.tuning import Tuning, freeze_all_but_head, merge_lora, parameter_counts, wrap_lora
from tests.core.export.tiny import tiny_project


def _inputs(compiled, batch=2, length=12):
    torch.manual_seed(1)
    args = []
    for name in compiled.input_names:
        if name == "mask":
            mask = torch.ones(batch, length, dtype=torch.long)
            mask[0, -3:] = 0  # padding on the first row
            args.append(mask)
        elif name == "token_types":
            args.append(torch.zeros(batch, length, dtype=torch.long))
        else:
            args.append(torch.randint(0, compiled.ctx.vocab_size, (batch, length)))
    return args


def _with_lora(project, targets=("q", "v")):
    for path, node in project.graph.walk():
        if node.type_id in ("attention.self", "attention.cross"):
            project.graph.scope_of(path).set_tuning(node.id, Tuning(lora_rank=4, lora_targets=targets))
        if node.type_id == "ffn.mlp":
            project.graph.scope_of(path).set_tuning(node.id, Tuning(lora_rank=2, lora_targets=("fc", "proj")))


@pytest.mark.parametrize("name", ["gpt", "bert", "llama", "t5"])
def test_a_lora_model_before_training_computes_exactly_what_the_base_computes(name):
    project = tiny_project(name)
    torch.manual_seed(0)
    base = project.compile()
    _with_lora(project, ("q", "k", "v", "proj"))
    torch.manual_seed(0)
    tuned = project.compile()
    assert any(isinstance(m, LoRALinear) for m in tuned.root.modules())
    # The base weights keep their names and values, so a base checkpoint loads into the LoRA model.
    tuned_state = tuned.root.state_dict()
    for key, value in base.root.state_dict().items():
        assert torch.equal(tuned_state[key], value), key
    inputs = _inputs(base)
    with torch.no_grad():
        assert torch.equal(tuned.module(*inputs), base.module(*inputs))


def test_lora_trains_few_parameters_and_merges_into_plain_weights_that_compute_the_same():
    project = tiny_project("gpt")
    _with_lora(project)
    freeze_all_but_head(project.graph)  # the LM head is tied to the frozen embedding: it has no weight of its own
    compiled = project.compile()
    trainable = [name for name, p in compiled.root.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in name for name in trainable)
    tokens = _inputs(compiled)[0]
    optimizer = torch.optim.AdamW([p for p in compiled.root.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        _, loss = compiled.training_module(tokens, tokens.roll(-1, dims=1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    merged = copy.deepcopy(compiled)
    assert merge_lora(merged.root) == 6  # attn.qkv, mlp.fc, mlp.proj in each of 2 layers
    assert not any(isinstance(m, LoRALinear) for m in merged.root.modules())
    assert not [n for n in merged.root.state_dict() if "lora" in n]
    with torch.no_grad():
        before, after = compiled.module(tokens), merged.module(tokens)
    assert not torch.equal(before, project.compile().module(tokens))  # it did learn something
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)


def test_lora_on_a_fused_projection_touches_only_its_rows():
    linear = torch.nn.Linear(8, 24)
    wrapped = LoRALinear(linear, {"q": slice(0, 8), "v": slice(16, 24)}, rank=2, alpha=4.0, dropout=0.0)
    with torch.no_grad():
        wrapped.lora_q_B.normal_()
        wrapped.lora_v_B.normal_()
    x = torch.randn(3, 8)
    delta = wrapped(x) - linear(x)
    assert torch.all(delta[:, 8:16] == 0) and delta[:, :8].abs().sum() > 0 and delta[:, 16:].abs().sum() > 0
    torch.testing.assert_close(wrapped.merged()(x), wrapped(x))


def test_an_unknown_lora_target_is_an_error_naming_what_exists():
    project = tiny_project("gpt")
    project.graph.nodes["layers"].graph.set_tuning("mlp", Tuning(lora_rank=2, lora_targets=("q",)))
    with pytest.raises(ValueError, match=r"layers/mlp.*no projection 'q'.*fc, proj"):
        project.compile()
    module = torch.nn.Sequential(torch.nn.Linear(4, 4))
    wrap_lora(module, Tuning(lora_rank=2, lora_targets=("0",)))
    assert isinstance(module[0], LoRALinear)


def test_a_prefix_is_seen_by_every_query_and_padding_still_hides_padded_keys():
    project = tiny_project("bert")
    attn = project.graph.nodes["layers"].graph
    attn.set_tuning("attn", Tuning(prefix_length=3, frozen=True))
    compiled = project.compile()
    assert isinstance(compiled.submodule("layers/attn"), PrefixSelfAttention)
    trainable, total = parameter_counts(compiled.submodule("layers/attn"))
    assert trainable == 2 * 2 * 3 * 8 and total > trainable  # keys and values: G=2 heads × P=3 × K=8
    tokens, types = _inputs(compiled, batch=1, length=10)[0], torch.zeros(1, 10, dtype=torch.long)
    names = compiled.input_names
    short = {"tokens": tokens[:, :7], "mask": torch.ones(1, 7, dtype=torch.long), "token_types": types[:, :7]}
    padded = {"tokens": tokens, "mask": torch.tensor([[1] * 7 + [0] * 3]), "token_types": types}
    with torch.no_grad():
        a = compiled.module(*[short.get(n) for n in names])
        b = compiled.module(*[padded.get(n) for n in names])
    torch.testing.assert_close(b[:, :7], a, rtol=1e-5, atol=1e-5)


def test_under_a_causal_mask_the_first_token_sees_the_prefix():
    project = tiny_project("gpt")
    project.graph.nodes["layers"].graph.set_tuning("attn", Tuning(prefix_length=2))
    compiled = project.compile()
    tokens = _inputs(compiled)[0]
    with torch.no_grad():
        before = compiled.module(tokens)
        compiled.submodule("layers/attn").prefix_values.add_(1.0)
        after = compiled.module(tokens)
    assert (after[:, 0] - before[:, 0]).abs().max() > 1e-4
