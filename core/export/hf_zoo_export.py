"""Export side of issue #25's families (core/export/hf_zoo.py reads them): which of them computes a
graph read back as an Architecture, and the config.json that family's reader turns into that
Architecture again (core/export/hf_export.py checks it does)."""

from workbench.core.architectures import Architecture


def family_of_zoo(arch: Architecture) -> str | None:
    """The class of this section's families that computes a decoder `arch`, by what sets each apart
    (the first that applies), or None for one the older families (GPT-2, LLaMA, Mistral) compute."""
    if arch.layout != "decoder":
        return None
    if arch.positions == "position.learned":
        return "OPTForCausalLM" if arch.embedding_width else None
    if arch.positions != "position.rope":
        return None
    rules = (
        (arch.ffn == "ffn.moe", "MixtralForCausalLM"),
        (arch.local_global or arch.sandwich_norm or bool(arch.attention_softcap or arch.logit_softcap or
                                                         arch.scale_width), "Gemma2ForCausalLM"),
        (arch.qk_norm, "Qwen3ForCausalLM"),
        (arch.attention_bias and not arch.output_bias, "Qwen2ForCausalLM"),
        (arch.fused_ffn, "Phi3ForCausalLM"),
        (arch.norm == "norm.layer" and arch.parallel_norms == 1, "FalconForCausalLM"),
        (arch.norm == "norm.layer" and (arch.kv_heads or arch.heads) != arch.heads, "FalconForCausalLM"),
        (arch.norm == "norm.layer", "GPTNeoXForCausalLM"),
        (arch.rope_fraction != 1.0, "Phi3ForCausalLM"),
    )
    return next((hf_class for applies, hf_class in rules if applies), None)


def zoo_config(a: Architecture, name: str) -> dict:
    """config.json fields for one of this section's families: the inverse of its reader above."""
    head_width = a.head_width or a.width // a.heads
    rope = {"rope_type": "default", "rope_theta": a.rope_base}
    if a.rope_fraction != 1.0:
        rope["partial_rotary_factor"] = a.rope_fraction
    llama_like = dict(vocab_size=a.vocab_size, hidden_size=a.width, intermediate_size=a.ffn_hidden,
                      num_hidden_layers=a.layers, num_attention_heads=a.heads,
                      num_key_value_heads=a.kv_heads or a.heads,
                      head_dim=head_width, max_position_embeddings=a.context_length, rms_norm_eps=a.norm_eps,
                      rope_parameters=rope, tie_word_embeddings=a.tie_embeddings, attention_dropout=a.dropout)
    if name in ("Qwen2", "Qwen3"):
        extra = {"attention_bias": a.attention_bias} if name == "Qwen3" else {}
        return dict(model_type=name.lower(), **llama_like, hidden_act="silu", use_sliding_window=False, **extra)
    if name == "Gemma 2":
        return dict(model_type="gemma2", **llama_like, hidden_activation="gelu_pytorch_tanh", attention_bias=False,
                    sliding_window=a.window, layer_types=["sliding_attention", "full_attention"] * (a.layers // 2),
                    attn_logit_softcapping=a.attention_softcap or None,
                    final_logit_softcapping=a.logit_softcap or None, query_pre_attn_scalar=a.scale_width or head_width)
    if name == "Phi-3":
        return dict(model_type="phi3", **llama_like, hidden_act="silu", sliding_window=a.window or None,
                    resid_pdrop=a.dropout, embd_pdrop=a.dropout)
    if name == "Mixtral":
        return dict(model_type="mixtral", **llama_like, hidden_act="silu", sliding_window=a.window or None,
                    num_local_experts=a.experts, num_experts_per_tok=a.top_k, router_aux_loss_coef=a.aux_weight,
                    router_jitter_noise=0.0)
    if name == "GPT-NeoX":
        return dict(model_type="gpt_neox", vocab_size=a.vocab_size, hidden_size=a.width, intermediate_size=a.ffn_hidden,
                    num_hidden_layers=a.layers, num_attention_heads=a.heads, max_position_embeddings=a.context_length,
                    layer_norm_eps=a.norm_eps, rope_parameters=rope, attention_bias=a.attention_bias,
                    hidden_act={"gelu_tanh": "gelu_new"}.get(a.activation, a.activation),
                    use_parallel_residual=a.parallel_norms == 2, tie_word_embeddings=a.tie_embeddings)
    if name == "Falcon":
        grouped = a.parallel_norms == 2 or (a.kv_heads or a.heads) not in (1, a.heads)
        return dict(model_type="falcon", vocab_size=a.vocab_size, hidden_size=a.width, num_hidden_layers=a.layers,
                    num_attention_heads=a.heads, num_kv_heads=a.kv_heads or a.heads, new_decoder_architecture=grouped,
                    multi_query=(a.kv_heads or a.heads) == 1, parallel_attn=a.parallel_norms > 0,
                    num_ln_in_parallel_attn=a.parallel_norms if grouped else None, bias=a.attention_bias,
                    alibi=False, ffn_hidden_size=a.ffn_hidden, layer_norm_epsilon=a.norm_eps,
                    activation={"gelu_tanh": "gelu_new"}.get(a.activation, a.activation), rope_parameters=rope,
                    max_position_embeddings=a.context_length, tie_word_embeddings=a.tie_embeddings)
    if name == "OPT":
        return dict(model_type="opt", vocab_size=a.vocab_size, hidden_size=a.width, ffn_dim=a.ffn_hidden,
                    num_hidden_layers=a.layers, num_attention_heads=a.heads, max_position_embeddings=a.context_length,
                    word_embed_proj_dim=a.embedding_width or a.width, do_layer_norm_before=a.pre_norm,
                    enable_bias=a.attention_bias, activation_function=a.activation,
                    tie_word_embeddings=a.tie_embeddings, dropout=a.dropout)
    raise KeyError(name)
