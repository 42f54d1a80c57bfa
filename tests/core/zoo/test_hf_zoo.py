"""Issue #25's families imported from tiny random Hugging Face models saved with save_pretrained:
Qwen2, Qwen3, Gemma 2, Phi-3, GPT-NeoX, OPT, Falcon and Mixtral (plus the layout variants each
family's config can switch on), held to transformers' logits within 1e-4 on a padded batch, and to
its greedy and beam search token for token. transformers is the oracle only; the import reads the
folder with json and safetensors."""

import pytest
import torch

from workbench.core.compiler import compile_graph
from workbench.core.decoding import GenerationConfig
from workbench.core.export.hf_import import HFImportError, import_hf
from workbench.core.summary import summarize
from tests.core.decoding.test_hf_generate import NEW_TOKENS, _both, _stop_token
from tests.core.zoo.test_hf_import import _batch, _edited_copy

transformers = pytest.importorskip("transformers")

VOCAB = 99
IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
LLAMA_LIKE = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=64, **IDS)
SMALL = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, **IDS)


def _configs():
    t = transformers
    return {
        "qwen2": (t.Qwen2ForCausalLM, t.Qwen2Config(**LLAMA_LIKE)),
        "qwen3": (t.Qwen3ForCausalLM, t.Qwen3Config(**LLAMA_LIKE, head_dim=16)),
        # window 4 < the test sequences, so the local layers differ from the global ones
        "gemma2": (t.Gemma2ForCausalLM, t.Gemma2Config(**LLAMA_LIKE, head_dim=16, sliding_window=4,
                                                       query_pre_attn_scalar=12, attn_logit_softcapping=2.0,
                                                       final_logit_softcapping=3.0)),
        "phi3": (t.Phi3ForCausalLM, t.Phi3Config(**LLAMA_LIKE, partial_rotary_factor=0.5)),
        "neox": (t.GPTNeoXForCausalLM, t.GPTNeoXConfig(**SMALL, intermediate_size=37, max_position_embeddings=64,
                                                       rotary_pct=0.25)),
        "neox-sequential": (t.GPTNeoXForCausalLM, t.GPTNeoXConfig(**SMALL, intermediate_size=37,
                                                                  max_position_embeddings=64,
                                                                  use_parallel_residual=False)),
        # project-in/out (OPT-350m's narrower embeddings); init_std so the logits are not all near zero
        "opt": (t.OPTForCausalLM, t.OPTConfig(**SMALL, ffn_dim=37, max_position_embeddings=64, word_embed_proj_dim=16,
                                              init_std=0.2)),
        "opt-post-norm": (t.OPTForCausalLM, t.OPTConfig(**SMALL, ffn_dim=37, max_position_embeddings=64,
                                                        do_layer_norm_before=False, init_std=0.2)),
        "falcon": (t.FalconForCausalLM, t.FalconConfig(**SMALL)),  # multi-query, parallel on one norm (7B)
        "falcon-40b": (t.FalconForCausalLM, t.FalconConfig(**SMALL, num_kv_heads=2, new_decoder_architecture=True)),
        "mixtral": (t.MixtralForCausalLM, t.MixtralConfig(**LLAMA_LIKE, num_local_experts=4, num_experts_per_tok=2)),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (transformers model, ours compiled from its save_pretrained folder, the folder)."""
    root = tmp_path_factory.mktemp("hf-zoo")
    found = {}
    for name, (model_class, config) in _configs().items():
        torch.manual_seed(0)
        hf = model_class(config).eval()
        hf.save_pretrained(root / name)
        graph, weights, _ = import_hf(root / name)
        compiled = compile_graph(graph)
        compiled.root.load_state_dict(weights)
        compiled.root.eval()
        found[name] = (hf, compiled, root / name)
    return found


@pytest.mark.parametrize("name", list(_configs()))
def test_logits_match_transformers_with_padding(models, name):
    hf, compiled, _ = models[name]
    ids, mask = _batch()
    # OPT numbers positions from the first real token; ours count from the first token, as every other
    # family here (and GPT-2) does. Give transformers those positions so the padded rows compare.
    extra = {"position_ids": torch.arange(ids.shape[1]).expand_as(ids)} if name.startswith("opt") else {}
    with torch.no_grad():
        theirs = hf(input_ids=ids, attention_mask=mask, **extra).logits
        ours = compiled.module(ids, mask)
    real = mask.bool()
    assert theirs[real].std() > 0.05
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-4, rtol=0)


@pytest.fixture(scope="module")
def generators(models):
    """The same models with larger weights, so greedy search does not just repeat one token."""
    found = {}
    for name, (hf, _, folder) in models.items():
        with torch.no_grad():
            for p in hf.parameters():
                if p.dim() > 1:
                    p.normal_(0, 0.3, generator=torch.Generator().manual_seed(p.numel()))
        hf.save_pretrained(folder.with_name(folder.name + "-gen"))
        graph, weights, _ = import_hf(folder.with_name(folder.name + "-gen"))
        compiled = compile_graph(graph)
        compiled.root.load_state_dict(weights)
        found[name] = (hf, compiled)
    return found


@pytest.mark.parametrize("name", list(_configs()))
def test_greedy_and_beam_search_match_transformers(generators, name):
    hf, compiled = generators[name]
    stop = _stop_token(hf, compiled)
    theirs, ours, _, _ = _both(hf, compiled, GenerationConfig(max_new_tokens=NEW_TOKENS, stop_tokens=(stop,)), stop)
    assert ours == theirs
    beam = GenerationConfig(strategy="beam", num_beams=3, num_return=3, max_new_tokens=NEW_TOKENS, stop_tokens=(stop,))
    theirs, ours, out, result = _both(hf, compiled, beam, stop)
    assert ours == theirs
    torch.testing.assert_close(torch.tensor([h.score for h in result.hypotheses]), out.sequences_scores,
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("name, node, param, value", [
    ("gemma2", "attn", "softcap", 0.0),  # the score soft-cap
    ("gemma2", "attn", "window", 0),  # the local layers' window
    ("qwen3", "attn", "qk_norm", False),
])
def test_each_new_setting_is_what_makes_its_family_match(models, name, node, param, value):
    hf, compiled, folder = models[name]
    graph, weights, _ = import_hf(folder)
    graph.nodes["layers"].graph.set_param(node, param, value)
    changed = compile_graph(graph)
    changed.root.load_state_dict(weights, strict=param != "qk_norm")
    ids, mask = _batch()
    with torch.no_grad():
        theirs, ours = hf(input_ids=ids, attention_mask=mask).logits, changed.module(ids, mask)
    assert (ours[mask.bool()] - theirs[mask.bool()]).abs().max() > 1e-3


def test_parameters_match_and_moe_counts_active_experts(models):
    hf, compiled, folder = models["mixtral"]
    graph, _, _ = import_hf(folder)
    summary = summarize(graph, compiled)
    assert summary.total_params == sum(p.numel() for p in hf.parameters())
    expert = 3 * 32 * 40  # gate, up and down of one expert (D 32, F 40)
    assert summary.total_params - summary.active_params == 2 * 2 * expert  # 2 layers × (4 - 2) idle experts
    (moe,) = [row for row in summary.rows if row.type_id == "ffn.moe"]
    assert moe.flops_per_token == 2 * (2 * 32 * 4 + 2 * 2 * expert)  # per layer: the router and k = 2 experts


@pytest.mark.parametrize("family, changes, message", [
    ("gemma2", {"layer_types": ["full_attention", "full_attention"]}, "Gemma 2: config field 'layer_types'"),
    ("qwen2", {"use_sliding_window": True}, "Qwen2: config field 'use_sliding_window' = True is not modelled"),
    ("falcon", {"alibi": True}, "Falcon: config field 'alibi' = True is not modelled"),
    ("mixtral", {"router_jitter_noise": 0.1}, "Mixtral: config field 'router_jitter_noise' = 0.1 is not modelled"),
])
def test_what_a_family_changes_that_we_do_not_model_is_named(models, tmp_path, family, changes, message):
    with pytest.raises(HFImportError, match=message.replace("(", r"\(")):
        import_hf(_edited_copy(models[family][2], tmp_path, config_changes=changes))
