"""The families of issue #25 on top of hf_families' mapping machinery: Qwen2, Qwen3, Gemma 2, Phi-3,
GPT-NeoX (Pythia), OPT, Falcon and Mixtral, each a config -> Architecture function and a map from
our state_dict names to their checkpoint tensors. What each changes relative to LLaMA:

    Qwen2     biases on q, k, v only                    Qwen3    QK-norm, explicit head width
    Gemma 2   soft-capped scores and logits, sandwich norms, local/global layers, RMSNorm as 1 + w,
              embeddings × √D, scores / √query_pre_attn_scalar, GeGLU (tanh)
    Phi-3     fused qkv and gate-up matmuls, partial rotary
    GPT-NeoX  LayerNorm and GELU MLP, parallel attention + MLP, partial rotary, per-head fused qkv
    OPT       learned positions with an offset of 2, project-in/out, ReLU MLP
    Falcon    parallel attention + MLP on one norm, multi-query with its fused layout
    Mixtral   a sparse mixture of SwiGLU experts in place of the MLP
"""

import torch

from workbench.core.architectures import Architecture
from workbench.core.export.hf_families import FAMILIES as BASE_FAMILIES
from workbench.core.export.hf_families import GELU, Config, Family, Source, linear, take


def _rope(c: Config) -> tuple[float, float]:
    """(θ, the share of each head rotated), from rope_parameters (transformers 5) or the older fields."""
    fraction = float(c.get("partial_rotary_factor", c.get("rotary_pct", 1.0)))
    rope = c.get("rope_parameters")
    if rope is None:
        c.expect("rope_scaling", None, None)
        return float(c.get("rope_theta", c.get("rotary_emb_base", 10000.0))), fraction
    for key, value in rope.items():
        if key == "rope_type" and value != "default" or key not in ("rope_type", "rope_theta", "partial_rotary_factor"):
            c.fail(f"rope_parameters.{key}", value)
    return float(rope.get("rope_theta", 10000.0)), float(rope.get("partial_rotary_factor", fraction))


def _full_attention_only(c: Config) -> None:
    """Qwen's optional sliding window (off in every released checkpoint we model)."""
    c.expect("use_sliding_window", False, False)
    c.get("sliding_window")  # read only when use_sliding_window is on
    c.get("max_window_layers")  # likewise
    layer_types = c.get("layer_types") or []
    if any(t != "full_attention" for t in layer_types):
        c.fail("layer_types", layer_types)


def _decoder(c: Config, name: str, **fields) -> Architecture:
    """The LLaMA-shaped fields every family here shares."""
    width, heads = c.require("hidden_size"), c.require("num_attention_heads")
    head_width = c.get("head_dim") or width // heads
    base, fraction = _rope(c)
    return Architecture(
        name, vocab_size=c.require("vocab_size"), context_length=c.get("max_position_embeddings", 2048), width=width,
        layers=c.require("num_hidden_layers"), heads=heads, kv_heads=c.get("num_key_value_heads", heads),
        head_width=0 if head_width * heads == width else head_width, positions="position.rope", rope_base=base,
        rope_fraction=fraction, norm="norm.rms", norm_eps=c.get("rms_norm_eps", 1e-6),
        ffn_hidden=c.require("intermediate_size"), **fields,
    )


def _rows(a: Architecture) -> tuple[int, int]:
    """Rows of the query and of the key (= value) projection."""
    k = a.head_width or a.width // a.heads
    return a.heads * k, (a.kv_heads or a.heads) * k


def _llama_like_layer(w: dict, a: Architecture, ours: str, theirs: str) -> None:
    q, kv = _rows(a)
    attention = f"{theirs}.self_attn"
    linear(w, f"{ours}.attn.qkv", *(f"{attention}.{p}_proj" for p in "qkv"), sizes=(q, kv, kv))
    linear(w, f"{ours}.attn.proj", f"{attention}.o_proj")
    w[f"{ours}.ln_1.weight"] = take(f"{theirs}.input_layernorm.weight")
    w[f"{ours}.ln_2.weight"] = take(f"{theirs}.post_attention_layernorm.weight")


def _head(w: dict, a: Architecture, embedding: str, head: str = "lm_head.weight") -> None:
    w["tok_emb.weight"] = take(embedding)
    w["lm_head.linear.weight"] = take(embedding if a.tie_embeddings else head)


# ----- Qwen2 and Qwen3 -----


def _qwen(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("hidden_act", "silu", "silu")
    _full_attention_only(c)
    qwen3 = c.family == "Qwen3"
    return _decoder(c, c.family, attention_bias=c.get("attention_bias", False) if qwen3 else True,
                    output_bias=False, qk_norm=qwen3, ffn="ffn.swiglu", ffn_bias=False,
                    tie_embeddings=c.get("tie_word_embeddings", False))


def _qwen_weights(a: Architecture) -> dict:
    w = {"ln_f.weight": take("model.norm.weight")}
    _head(w, a, "model.embed_tokens.weight")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"model.layers.{i}"
        _llama_like_layer(w, a, ours, theirs)
        for mine in ("gate", "up", "down"):
            w[f"{ours}.mlp.{mine}.weight"] = take(f"{theirs}.mlp.{mine}_proj.weight")
        for norm in ("q_norm", "k_norm"):
            w[f"{ours}.attn.{norm}.weight"] = take(f"{theirs}.self_attn.{norm}.weight")
    return w


def _tied_head_ignored(a: Architecture) -> list[str]:
    return ["lm_head.weight"] if a.tie_embeddings else []


# ----- Gemma 2 -----


def _gemma2(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("hidden_activation", ("gelu_pytorch_tanh", "gelu_tanh"), "gelu_pytorch_tanh")
    c.get("hidden_act")  # superseded by hidden_activation
    c.expect("use_bidirectional_attention", (None, False), None)
    c.expect("attention_bias", False, False)
    layers = c.require("num_hidden_layers")
    pattern = ["sliding_attention", "full_attention"] * (layers // 2)
    if c.get("layer_types", pattern) != pattern:
        c.fail("layer_types", c.raw["layer_types"], " (modelled: sliding and full layers alternating)")
    return _decoder(c, "Gemma 2", attention_bias=False, ffn="ffn.geglu", activation="gelu_tanh", ffn_bias=False,
                    scale_embedding=True, sandwich_norm=True, local_global=True, window=c.require("sliding_window"),
                    attention_softcap=c.get("attn_logit_softcapping", 0.0),
                    logit_softcap=c.get("final_logit_softcapping", 0.0),
                    scale_width=c.require("query_pre_attn_scalar"), tie_embeddings=c.get("tie_word_embeddings", True))


def _plus_one(name: str) -> Source:
    """Gemma's RMSNorm scales by 1 + w (zero-initialised); ours by w."""
    return take(name, fn=lambda t: t + 1, inverse=lambda t: t - 1)


def _gemma2_weights(a: Architecture) -> dict:
    w = {"ln_f.weight": _plus_one("model.norm.weight")}
    _head(w, a, "model.embed_tokens.weight")
    q, kv = _rows(a)
    for i in range(a.layers):
        ours, theirs = f"layers.{i // 2}.{'global_' if i % 2 else ''}", f"model.layers.{i}"
        attention = f"{theirs}.self_attn"
        w[f"{ours}attn.qkv.weight"] = take(*(f"{attention}.{p}_proj.weight" for p in "qkv"), sizes=(q, kv, kv))
        w[f"{ours}attn.proj.weight"] = take(f"{attention}.o_proj.weight")
        for mine, norm in (("ln_1", "input_layernorm"), ("post_ln_1", "post_attention_layernorm"),
                           ("ln_2", "pre_feedforward_layernorm"), ("post_ln_2", "post_feedforward_layernorm")):
            w[f"{ours}{mine}.weight"] = _plus_one(f"{theirs}.{norm}.weight")
        for mine in ("gate", "up", "down"):
            w[f"{ours}mlp.{mine}.weight"] = take(f"{theirs}.mlp.{mine}_proj.weight")
    return w


# ----- Phi-3 -----


def _phi3(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("hidden_act", "silu", "silu")
    c.get("original_max_position_embeddings")  # read by long-context RoPE scaling only, which we reject
    return _decoder(c, "Phi-3", attention_bias=False, window=c.get("sliding_window", 0), ffn="ffn.swiglu",
                    ffn_bias=False, fused_ffn=True, tie_embeddings=c.get("tie_word_embeddings", False))


def _phi3_weights(a: Architecture) -> dict:
    w = {"ln_f.weight": take("model.norm.weight")}
    _head(w, a, "model.embed_tokens.weight")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"model.layers.{i}"
        w[f"{ours}.attn.qkv.weight"] = take(f"{theirs}.self_attn.qkv_proj.weight")  # already q, k, v stacked
        w[f"{ours}.attn.proj.weight"] = take(f"{theirs}.self_attn.o_proj.weight")
        w[f"{ours}.ln_1.weight"] = take(f"{theirs}.input_layernorm.weight")
        w[f"{ours}.ln_2.weight"] = take(f"{theirs}.post_attention_layernorm.weight")
        w[f"{ours}.mlp.gate_up.weight"] = take(f"{theirs}.mlp.gate_up_proj.weight")  # gate rows, then up rows
        w[f"{ours}.mlp.down.weight"] = take(f"{theirs}.mlp.down_proj.weight")
    return w


# ----- GPT-NeoX (Pythia) -----


def _per_head_qkv(heads: int) -> tuple:
    """GPT-NeoX (and Falcon without multi-query) interleave q, k, v per head: rows (H, 3, K); ours are
    (3, H, K). Returns (theirs -> ours, ours -> theirs) for a weight (rows, D) or a bias (rows,)."""
    def ours(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(heads, 3, -1, *t.shape[1:]).transpose(0, 1).reshape(t.shape).contiguous()

    def theirs(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(3, heads, -1, *t.shape[1:]).transpose(0, 1).reshape(t.shape).contiguous()

    return ours, theirs


def _neox(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("is_decoder", (False, True), False)  # only what HF's class builds; the function is the same
    width, heads = c.require("hidden_size"), c.require("num_attention_heads")
    base, fraction = _rope(c)
    return Architecture(
        "GPT-NeoX", vocab_size=c.require("vocab_size"), context_length=c.get("max_position_embeddings", 2048),
        width=width, layers=c.require("num_hidden_layers"), heads=heads, attention_bias=c.get("attention_bias", True),
        positions="position.rope", rope_base=base, rope_fraction=fraction, norm_eps=c.get("layer_norm_eps", 1e-5),
        ffn_hidden=c.require("intermediate_size"), activation=c.choice("hidden_act", GELU, "gelu"),
        parallel_norms=2 if c.get("use_parallel_residual", True) else 0,
        tie_embeddings=c.get("tie_word_embeddings", False),
    )


def _neox_weights(a: Architecture) -> dict:
    w = {}
    _head(w, a, "gpt_neox.embed_in.weight", "embed_out.weight")
    linear(w, "ln_f", "gpt_neox.final_layer_norm")
    ours_qkv, theirs_qkv = _per_head_qkv(a.heads)
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"gpt_neox.layers.{i}"
        for part in ("weight", "bias"):
            w[f"{ours}.attn.qkv.{part}"] = take(f"{theirs}.attention.query_key_value.{part}", fn=ours_qkv,
                                                inverse=theirs_qkv)
        linear(w, f"{ours}.attn.proj", f"{theirs}.attention.dense")
        linear(w, f"{ours}.ln_1", f"{theirs}.input_layernorm")
        linear(w, f"{ours}.ln_2", f"{theirs}.post_attention_layernorm")
        linear(w, f"{ours}.mlp.fc", f"{theirs}.mlp.dense_h_to_4h")
        linear(w, f"{ours}.mlp.proj", f"{theirs}.mlp.dense_4h_to_h")
    return w


def _neox_ignored(a: Architecture) -> list[str]:
    return [r"gpt_neox\.layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)"] + \
        (["embed_out.weight"] if a.tie_embeddings else [])


# ----- OPT -----


def _opt(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("layer_norm_elementwise_affine", True, True)
    c.get("layerdrop")  # a training setting
    pre_norm = c.get("do_layer_norm_before", True)
    c.expect("_remove_final_layer_norm", False, False)
    width = c.require("hidden_size")
    projected = c.get("word_embed_proj_dim", width)
    bias = c.get("enable_bias", True)
    return Architecture(
        "OPT", vocab_size=c.require("vocab_size"), context_length=c.get("max_position_embeddings", 2048), width=width,
        layers=c.require("num_hidden_layers"), heads=c.require("num_attention_heads"), attention_bias=bias,
        pre_norm=pre_norm, final_norm=pre_norm, ffn_hidden=c.require("ffn_dim"), ffn_bias=bias,
        activation=c.choice("activation_function", GELU, "relu"),
        embedding_width=0 if projected == width else projected,
        tie_embeddings=c.get("tie_word_embeddings", True),
    )


def _opt_weights(a: Architecture) -> dict:
    # OPT's learned positions start at row 2 (fairseq's padding offset), as BART's do.
    w = {"positions.weight": take("model.decoder.embed_positions.weight", fn=lambda t: t[2: 2 + a.context_length],
                                  inverse=lambda t: torch.cat([t.new_zeros(2, t.shape[1]), t]))}
    _head(w, a, "model.decoder.embed_tokens.weight")
    if a.final_norm:
        linear(w, "ln_f", "model.decoder.final_layer_norm")
    w["project_in.weight"] = take("model.decoder.project_in.weight")
    w["project_out.weight"] = take("model.decoder.project_out.weight")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"model.decoder.layers.{i}"
        attention = f"{theirs}.self_attn"
        linear(w, f"{ours}.attn.qkv", *(f"{attention}.{p}_proj" for p in "qkv"))
        linear(w, f"{ours}.attn.proj", f"{attention}.out_proj")
        linear(w, f"{ours}.ln_1", f"{theirs}.self_attn_layer_norm")
        linear(w, f"{ours}.ln_2", f"{theirs}.final_layer_norm")
        linear(w, f"{ours}.mlp.fc", f"{theirs}.fc1")
        linear(w, f"{ours}.mlp.proj", f"{theirs}.fc2")
    return w


# ----- Falcon -----


def _falcon(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("alibi", False, False)
    new = c.get("new_decoder_architecture", False)
    multi_query = c.get("multi_query", True)
    heads = c.require("num_attention_heads")
    declared_kv_heads = c.get("num_kv_heads", heads)  # used by the new architecture and plain multi-head only
    kv_heads = declared_kv_heads if new else 1 if multi_query else heads
    c.get("num_key_value_heads")  # derived from the two above
    parallel = c.get("parallel_attn", True)
    norms = c.get("num_ln_in_parallel_attn") or (2 if new else 1)
    if new and not parallel:
        c.fail("parallel_attn", parallel, " (the new decoder architecture is modelled as parallel only)")
    width = c.require("hidden_size")
    bias = c.get("bias", False)
    return Architecture(
        "Falcon", vocab_size=c.require("vocab_size"), context_length=c.get("max_position_embeddings", 2048),
        width=width, layers=c.require("num_hidden_layers"), heads=heads, kv_heads=kv_heads, attention_bias=bias,
        positions="position.rope", rope_base=_rope(c)[0], norm_eps=c.get("layer_norm_epsilon", 1e-5),
        ffn_hidden=c.get("ffn_hidden_size") or 4 * width, activation=c.choice("activation", GELU, "gelu"),
        ffn_bias=bias, parallel_norms=(norms if new else 1) if parallel else 0,
        tie_embeddings=c.get("tie_word_embeddings", True),
    )


def _falcon_qkv(a: Architecture) -> tuple:
    """Falcon's fused query_key_value rows -> ours (all queries, then keys, then values): multi-query
    stores (H + 2, K) already so; the new architecture groups (G, H/G + 2, K) (each group's queries, its
    key, its value); the old multi-head one interleaves (H, 3, K) as GPT-NeoX does."""
    g = a.kv_heads or a.heads
    if g == 1:
        return (lambda t: t), (lambda t: t)
    if g == a.heads and a.parallel_norms == 1:
        return _per_head_qkv(a.heads)
    per_group = a.heads // g

    def ours(t):
        grouped = t.reshape(g, per_group + 2, -1, *t.shape[1:])
        parts = [grouped[:, :-2].reshape(-1, *t.shape[1:]), grouped[:, -2].reshape(-1, *t.shape[1:]),
                 grouped[:, -1].reshape(-1, *t.shape[1:])]
        return torch.cat(parts).contiguous()

    def theirs(t):
        k = t.shape[0] // (a.heads + 2 * g)
        q, key, v = torch.split(t, [a.heads * k, g * k, g * k])
        grouped = torch.cat([q.reshape(g, per_group, k, *t.shape[1:]), key.reshape(g, 1, k, *t.shape[1:]),
                             v.reshape(g, 1, k, *t.shape[1:])], dim=1)
        return grouped.reshape(t.shape).contiguous()

    return ours, theirs


def _falcon_weights(a: Architecture) -> dict:
    w = {}
    _head(w, a, "transformer.word_embeddings.weight")
    linear(w, "ln_f", "transformer.ln_f")
    ours_qkv, theirs_qkv = _falcon_qkv(a)
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"transformer.h.{i}"
        for part in ("weight", "bias"):
            w[f"{ours}.attn.qkv.{part}"] = take(f"{theirs}.self_attention.query_key_value.{part}", fn=ours_qkv,
                                                inverse=theirs_qkv)
        linear(w, f"{ours}.attn.proj", f"{theirs}.self_attention.dense")
        if a.parallel_norms == 2:
            linear(w, f"{ours}.ln_1", f"{theirs}.ln_attn")
            linear(w, f"{ours}.ln_2", f"{theirs}.ln_mlp")
        else:
            linear(w, f"{ours}.ln_1", f"{theirs}.input_layernorm")
            linear(w, f"{ours}.ln_2", f"{theirs}.post_attention_layernorm")
        linear(w, f"{ours}.mlp.fc", f"{theirs}.mlp.dense_h_to_4h")
        linear(w, f"{ours}.mlp.proj", f"{theirs}.mlp.dense_4h_to_h")
    return w


# ----- Mixtral -----


def _mixtral(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("hidden_act", "silu", "silu")
    c.expect("router_jitter_noise", 0.0, 0.0)  # a training-time perturbation; 0 in Mixtral's release
    c.get("output_router_logits")  # whether forward returns them; the function is the same
    return _decoder(c, "Mixtral", attention_bias=False, window=c.get("sliding_window", 0), ffn="ffn.moe",
                    ffn_bias=False,
                    experts=c.require("num_local_experts"), top_k=c.require("num_experts_per_tok"),
                    aux_weight=float(c.get("router_aux_loss_coef", 0.001)),
                    tie_embeddings=c.get("tie_word_embeddings", False))


def _mixtral_weights(a: Architecture) -> dict:
    w = {"ln_f.weight": take("model.norm.weight")}
    _head(w, a, "model.embed_tokens.weight")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"model.layers.{i}"
        _llama_like_layer(w, a, ours, theirs)
        moe = f"{theirs}.block_sparse_moe"
        w[f"{ours}.mlp.router.weight"] = take(f"{moe}.gate.weight")
        for e in range(a.experts):
            for mine, hf in (("gate", "w1"), ("down", "w2"), ("up", "w3")):
                w[f"{ours}.mlp.experts.{e}.{mine}.weight"] = take(f"{moe}.experts.{e}.{hf}.weight")
    return w


_ROTARY = [r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq"]

FAMILIES = {
    "Qwen2ForCausalLM": Family("Qwen2", _qwen, _qwen_weights, lambda a: _ROTARY + _tied_head_ignored(a)),
    "Qwen3ForCausalLM": Family("Qwen3", _qwen, _qwen_weights, lambda a: _ROTARY + _tied_head_ignored(a)),
    "Gemma2ForCausalLM": Family("Gemma 2", _gemma2, _gemma2_weights, lambda a: _ROTARY + _tied_head_ignored(a),
                                harmless=("cache_implementation",)),
    "Phi3ForCausalLM": Family("Phi-3", _phi3, _phi3_weights, lambda a: _ROTARY + _tied_head_ignored(a)),
    "GPTNeoXForCausalLM": Family("GPT-NeoX", _neox, _neox_weights, _neox_ignored,
                                 harmless=("hidden_dropout", "rotary_emb_base")),
    "OPTForCausalLM": Family("OPT", _opt, _opt_weights, _tied_head_ignored),
    "FalconForCausalLM": Family("Falcon", _falcon, _falcon_weights, _tied_head_ignored,
                                harmless=("hidden_dropout",)),
    "MixtralForCausalLM": Family("Mixtral", _mixtral, _mixtral_weights, lambda a: _ROTARY + _tied_head_ignored(a)),
}
DEFAULT_CLASS = {"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM",
                 "phi3": "Phi3ForCausalLM", "gpt_neox": "GPTNeoXForCausalLM", "opt": "OPTForCausalLM",
                 "falcon": "FalconForCausalLM", "mixtral": "MixtralForCausalLM"}
ALL_FAMILIES = {**BASE_FAMILIES, **FAMILIES}  # every family import-hf reads and export --hf writes
