"""How each Hugging Face family maps onto core.architectures: config.json fields to an Architecture,
and checkpoint tensor names to our state_dict names.

Every config field is read here, or is one of hf_import's fields that never change what the model
computes (token ids, dropout, generation defaults); any other field, or a value we do not model, is
an HFImportError naming it, so an import is never a silently different model.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from workbench.core.architectures import Architecture


class HFImportError(ValueError):
    """A folder we cannot import faithfully; the message names the file, field or tensor."""


_ABSENT = object()


class Config:
    """config.json read field by field; `unread` lists the fields no mapping looked at."""

    def __init__(self, family: str, raw: dict):
        self.family, self.raw, self.read = family, raw, set()

    def get(self, name: str, default=None):
        self.read.add(name)
        value = self.raw.get(name, default)
        return default if value is None else value

    def require(self, name: str):
        if name not in self.raw:
            raise HFImportError(f"{self.family}: config.json has no {name!r}")
        return self.get(name)

    def expect(self, name: str, modelled, default):
        """A field we model only at one value (or a tuple of values)."""
        value = self.get(name, default)
        if value not in (modelled if isinstance(modelled, tuple) else (modelled,)):
            self.fail(name, value)
        return value

    def choice(self, name: str, mapping: dict, default):
        value = self.get(name, default)
        if value not in mapping:
            self.fail(name, value, f" (modelled: {', '.join(map(str, mapping))})")
        return mapping[value]

    def fail(self, name: str, value, detail: str = ""):
        raise HFImportError(f"{self.family}: config field {name!r} = {value!r} is not modelled{detail}")

    def unread(self) -> list[str]:
        return sorted(set(self.raw) - self.read)


@dataclass(frozen=True)
class Source:
    """The checkpoint tensors one of our tensors is made from, and how: `combine` reads them in (import),
    `split` is its inverse and writes them back out (core/export/hf_export.py)."""

    names: tuple[str, ...]  # checkpoint tensor names, in the order they are concatenated
    combine: Callable[[list[torch.Tensor]], torch.Tensor]  # theirs -> ours
    split: Callable[[torch.Tensor], list[torch.Tensor]]  # ours -> theirs, one tensor per name


def take(*names: str, fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
         inverse: Callable[[torch.Tensor], torch.Tensor] | None = None, sizes: tuple[int, ...] | None = None) -> Source:
    """One tensor as it is (or through `fn`, undone by `inverse`), or several concatenated along dim 0
    (q, k, v into qkv; `sizes` are their rows when they differ, as with grouped-query attention)."""
    if fn is not None:
        if inverse is None:
            raise TypeError("a tensor read through fn needs the inverse that writes it back")
        return Source(names, lambda ts: fn(ts[0]), lambda t: [inverse(t)])
    if len(names) == 1:
        return Source(names, lambda ts: ts[0], lambda t: [t])

    def split(t: torch.Tensor) -> list[torch.Tensor]:
        rows = list(sizes) if sizes else [t.shape[0] // len(names)] * len(names)
        return [part.contiguous() for part in torch.split(t, rows)]

    return Source(names, lambda ts: torch.cat(ts, dim=0), split)


def linear(w: dict, ours: str, *theirs: str, fn=None, inverse=None, sizes=None) -> None:
    """A linear layer's weight and bias (the bias is used only if our layer has one)."""
    w[f"{ours}.weight"] = take(*(f"{t}.weight" for t in theirs), fn=fn, inverse=inverse, sizes=sizes)
    w[f"{ours}.bias"] = take(*(f"{t}.bias" for t in theirs), sizes=sizes)


def _transpose(t: torch.Tensor) -> torch.Tensor:
    return t.t().contiguous()


GELU = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu", "silu": "silu"}


@dataclass(frozen=True)
class Family:
    name: str  # as in messages and project names
    architecture: Callable[[Config, str, dict], Architecture]  # (config, HF class name, tensors)
    weights: Callable[[Architecture], dict[str, Source]]  # our state_dict name -> source
    ignored: Callable[[Architecture], list[str]]  # regexes of checkpoint tensors that hold nothing we need
    harmless: tuple[str, ...] = ()  # family-specific config fields that do not change the function
    # Checkpoint tensors that are fixed functions of the config (RoFormer's sinusoid table): ignored on
    # import, computed on export.
    constants: Callable[[Architecture], dict[str, torch.Tensor]] = lambda a: {}


# ----- GPT-2 -----


def _gpt2(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("add_cross_attention", False, False)
    c.expect("scale_attn_by_inverse_layer_idx", False, False)
    c.get("reorder_and_upcast_attn")  # changes only the precision of fp16 scores
    c.get("n_ctx")  # old name of n_positions
    width = c.require("n_embd")
    return Architecture(
        "GPT-2", vocab_size=c.require("vocab_size"), context_length=c.get("n_positions", 1024), width=width,
        layers=c.require("n_layer"), heads=c.require("n_head"), scale_scores=c.get("scale_attn_weights", True),
        norm_eps=c.get("layer_norm_epsilon", 1e-5), ffn_hidden=c.get("n_inner") or 4 * width,
        activation=c.choice("activation_function", GELU, "gelu_new"), tie_embeddings=c.get("tie_word_embeddings", True),
    )


def _gpt2_weights(a: Architecture) -> dict:
    w = {"tok_emb.weight": take("transformer.wte.weight"), "positions.weight": take("transformer.wpe.weight"),
         "lm_head.linear.weight": take("transformer.wte.weight" if a.tie_embeddings else "lm_head.weight")}
    linear(w, "ln_f", "transformer.ln_f")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"transformer.h.{i}"
        linear(w, f"{ours}.ln_1", f"{theirs}.ln_1")
        linear(w, f"{ours}.ln_2", f"{theirs}.ln_2")
        # GPT-2's Conv1D stores weights as (in, out), the transpose of nn.Linear's.
        for mine, hf in (("attn.qkv", "attn.c_attn"), ("attn.proj", "attn.c_proj"), ("mlp.fc", "mlp.c_fc"),
                         ("mlp.proj", "mlp.c_proj")):
            linear(w, f"{ours}.{mine}", f"{theirs}.{hf}", fn=_transpose, inverse=_transpose)
    return w


def _gpt2_ignored(a: Architecture) -> list[str]:
    # Old checkpoints carry the causal mask as buffers; a tied head's copy adds nothing.
    return [r"transformer\.h\.\d+\.attn\.(masked_)?bias"] + (["lm_head.weight"] if a.tie_embeddings else [])


# ----- BERT -----


def _bert(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("is_decoder", False, False)
    c.expect("add_cross_attention", False, False)
    c.expect("position_embedding_type", "absolute", "absolute")
    classify = hf_class == "BertForSequenceClassification"
    classes = len(c.get("id2label", {0: 0, 1: 1})) if classify else 2
    return Architecture(
        "BERT", layout="encoder", vocab_size=c.require("vocab_size"),
        context_length=c.get("max_position_embeddings", 512), width=c.require("hidden_size"),
        layers=c.require("num_hidden_layers"), heads=c.require("num_attention_heads"), pre_norm=False,
        final_norm=False, embedding_norm=True, norm_eps=c.get("layer_norm_eps", 1e-12),
        segment_types=c.get("type_vocab_size", 2), ffn_hidden=c.require("intermediate_size"),
        activation=c.choice("hidden_act", GELU, "gelu"), head="head.classify" if classify else "head.mlm",
        classes=classes, tie_embeddings=c.expect("tie_word_embeddings", True, True), loss=False,
    )


def _bert_weights(a: Architecture, model: str = "bert") -> dict:
    e = f"{model}.embeddings"
    w = {"tok_emb.weight": take(f"{e}.word_embeddings.weight"),
         "positions.weight": take(f"{e}.position_embeddings.weight"),
         "segments.weight": take(f"{e}.token_type_embeddings.weight"),
         "mlm_head.decoder.weight": take(f"{e}.word_embeddings.weight"),
         "mlm_head.decoder.bias": take("cls.predictions.bias")}
    linear(w, "emb_norm", f"{e}.LayerNorm")
    linear(w, "mlm_head.transform", "cls.predictions.transform.dense")
    linear(w, "mlm_head.norm", "cls.predictions.transform.LayerNorm")
    linear(w, "classifier.pooler.0", "bert.pooler.dense")
    linear(w, "classifier.classifier", "classifier")
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"{model}.encoder.layer.{i}"
        attention = f"{theirs}.attention.self"
        names = (f"{attention}.query", f"{attention}.key", f"{attention}.value")
        if model == "roformer":
            for kind in ("weight", "bias"):
                w[f"{ours}.attn.qkv.{kind}"] = _rotary_qkv(a, *(f"{n}.{kind}" for n in names))
        else:
            linear(w, f"{ours}.attn.qkv", *names)
        linear(w, f"{ours}.attn.proj", f"{theirs}.attention.output.dense")
        linear(w, f"{ours}.ln_1", f"{theirs}.attention.output.LayerNorm")
        linear(w, f"{ours}.mlp.fc", f"{theirs}.intermediate.dense")
        linear(w, f"{ours}.mlp.proj", f"{theirs}.output.dense")
        linear(w, f"{ours}.ln_2", f"{theirs}.output.LayerNorm")
    return w


def _bert_ignored(a: Architecture) -> list[str]:
    # A buffer of positions; the decoder's copies of the tied table and bias; pre-training heads
    # (next-sentence prediction, and the pooler where the model has no classifier).
    ignored = [r"bert\.embeddings\.position_ids", r"cls\.predictions\.decoder\.(weight|bias)",
               r"cls\.seq_relationship\..*"]
    return ignored + ([] if a.head == "head.classify" else [r"bert\.pooler\..*"])


# ----- RoFormer: BERT with rotary positions (Su et al. 2021), as the BERT presets are -----


def _roformer(c: Config, hf_class: str, tensors: dict) -> Architecture:
    for name in ("is_decoder", "add_cross_attention", "rotary_value"):
        c.expect(name, False, False)
    width = c.require("hidden_size")
    c.expect("embedding_size", (None, width), None)  # another size adds a projection we do not model
    return Architecture(
        "RoFormer", layout="encoder", vocab_size=c.require("vocab_size"),
        context_length=c.get("max_position_embeddings", 1536), width=width, layers=c.require("num_hidden_layers"),
        heads=c.require("num_attention_heads"), positions="position.rope", pre_norm=False, final_norm=False,
        embedding_norm=True, norm_eps=c.get("layer_norm_eps", 1e-12), segment_types=c.get("type_vocab_size", 2),
        ffn_hidden=c.require("intermediate_size"), activation=c.choice("hidden_act", GELU, "gelu"), head="head.mlm",
        tie_embeddings=c.expect("tie_word_embeddings", True, True), loss=False,
    )


def _rotary_qkv(a: Architecture, query: str, key: str, value: str) -> Source:
    """RoFormer rotates interleaved pairs (x0, x1), (x2, x3) …, we rotate (x_i, x_i+K/2) at the same
    frequencies: the same rotation once each head's query and key rows are reordered, and a dot product
    of two vectors permuted alike is unchanged."""
    heads, half = a.heads, a.width // a.heads // 2

    def ours(t: torch.Tensor) -> torch.Tensor:  # (H·K, …) interleaved -> halves
        return t.reshape(heads, half, 2, *t.shape[1:]).transpose(1, 2).reshape(t.shape)

    def theirs(t: torch.Tensor) -> torch.Tensor:  # halves -> interleaved
        return t.reshape(heads, 2, half, *t.shape[1:]).transpose(1, 2).reshape(t.shape)

    def split(t: torch.Tensor) -> list[torch.Tensor]:
        q, k, v = torch.split(t, a.width)
        return [theirs(q).contiguous(), theirs(k).contiguous(), v.contiguous()]

    return Source((query, key, value), lambda ts: torch.cat([ours(ts[0]), ours(ts[1]), ts[2]]), split)


def _roformer_sinusoids(a: Architecture) -> dict[str, torch.Tensor]:
    """RoFormerSinusoidalPositionalEmbedding's table: sin of position · 10000^(-2i/K) in the first half
    of each row, cos in the second."""
    width = a.width // a.heads
    angles = torch.arange(a.context_length, dtype=torch.float64)[:, None] * \
        10000.0 ** (-torch.arange(0, width, 2, dtype=torch.float64) / width)
    return {"roformer.encoder.embed_positions.weight": torch.cat([angles.sin(), angles.cos()], 1).float()}


def _roformer_ignored(a: Architecture) -> list[str]:
    return [r"roformer\.encoder\.embed_positions\.weight", r"cls\.predictions\.decoder\.(weight|bias)"]


# ----- BART -----


def _bart(c: Config, hf_class: str, tensors: dict) -> Architecture:
    for name, modelled in (("normalize_before", False), ("add_final_layer_norm", False), ("add_bias_logits", False),
                           ("normalize_embedding", True), ("static_position_embeddings", False), ("is_decoder", False),
                           ("extra_pos_embeddings", 2), ("tie_word_embeddings", True)):
        c.expect(name, modelled, modelled)
    heads, ffn, layers = c.require("encoder_attention_heads"), c.require("encoder_ffn_dim"), c.require("encoder_layers")
    c.expect("decoder_attention_heads", heads, heads)
    c.expect("decoder_ffn_dim", ffn, ffn)
    c.get("num_hidden_layers")  # an alias of encoder_layers
    return Architecture(
        "BART", layout="encoder-decoder", vocab_size=c.require("vocab_size"),
        context_length=c.get("max_position_embeddings", 1024), width=c.require("d_model"), layers=layers,
        decoder_layers=c.get("decoder_layers", layers), heads=heads, pre_norm=False, final_norm=False,
        embedding_norm=True, scale_embedding=c.get("scale_embedding", False), ffn_hidden=ffn,
        activation=c.choice("activation_function", GELU, "gelu"), head_bias=True, loss=False,
    )


def _bart_weights(a: Architecture) -> dict:
    # BART's learned positions start at row 2 (a fairseq leftover: rows 0 and 1 are never used).
    def positions(t):
        return t[2: 2 + a.context_length]

    def unused_rows_and(t):  # rows 0 and 1 back, as zeros: BART never reads them
        return torch.cat([t.new_zeros(2, t.shape[1]), t])

    w = {"tok_emb.weight": take("model.shared.weight"), "dec_emb.weight": take("model.shared.weight"),
         "enc_positions.weight": take("model.encoder.embed_positions.weight", fn=positions, inverse=unused_rows_and),
         "dec_positions.weight": take("model.decoder.embed_positions.weight", fn=positions, inverse=unused_rows_and),
         "lm_head.linear.weight": take("model.shared.weight"),
         "lm_head.linear.bias": take("final_logits_bias", fn=lambda t: t[0], inverse=lambda t: t[None])}
    linear(w, "enc_emb_norm", "model.encoder.layernorm_embedding")
    linear(w, "dec_emb_norm", "model.decoder.layernorm_embedding")
    for stack, count in (("encoder", a.layers), ("decoder", a.decoder_layers or a.layers)):
        for i in range(count):
            ours, theirs = f"{stack}.{i}", f"model.{stack}.layers.{i}"
            attention = f"{theirs}.self_attn"
            linear(w, f"{ours}.attn.qkv", f"{attention}.q_proj", f"{attention}.k_proj", f"{attention}.v_proj")
            linear(w, f"{ours}.attn.proj", f"{attention}.out_proj")
            linear(w, f"{ours}.ln_1", f"{theirs}.self_attn_layer_norm")
            linear(w, f"{ours}.mlp.fc", f"{theirs}.fc1")
            linear(w, f"{ours}.mlp.proj", f"{theirs}.fc2")
            if stack == "encoder":
                linear(w, f"{ours}.ln_2", f"{theirs}.final_layer_norm")
                continue
            cross = f"{theirs}.encoder_attn"
            linear(w, f"{ours}.cross_attn.q", f"{cross}.q_proj")
            linear(w, f"{ours}.cross_attn.kv", f"{cross}.k_proj", f"{cross}.v_proj")
            linear(w, f"{ours}.cross_attn.proj", f"{cross}.out_proj")
            linear(w, f"{ours}.ln_2", f"{cross}_layer_norm")
            linear(w, f"{ours}.ln_3", f"{theirs}.final_layer_norm")
    return w


def _bart_ignored(a: Architecture) -> list[str]:
    return [r"model\.(encoder|decoder)\.embed_tokens\.weight", "lm_head.weight"]  # copies of the shared table


# ----- T5 -----

_T5_FEED_FORWARD = {"relu": ("ffn.mlp", "relu"), "gelu": ("ffn.mlp", "gelu"), "gated-gelu": ("ffn.geglu", "gelu_tanh"),
                    "gated-silu": ("ffn.swiglu", "silu")}


def _t5(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("is_decoder", False, False)
    ffn, activation = c.choice("feed_forward_proj", _T5_FEED_FORWARD, "relu")
    c.get("dense_act_fn")  # derived from feed_forward_proj, as is is_gated_act
    c.get("is_gated_act")
    width, heads, head_width = c.require("d_model"), c.require("num_heads"), c.require("d_kv")
    untied = "lm_head.weight" in tensors and not torch.equal(tensors["lm_head.weight"], tensors["shared.weight"])
    # Transformers 5 calls it scale_decoder_outputs; before, T5 scaled exactly when it tied the head.
    legacy_tied = c.get("tie_word_embeddings", True)
    layers = c.require("num_layers")
    return Architecture(
        "T5", layout="encoder-decoder", vocab_size=c.require("vocab_size"), context_length=c.get("n_positions", 512),
        width=width, layers=layers, decoder_layers=c.get("num_decoder_layers", layers), heads=heads,
        head_width=0 if head_width * heads == width else head_width, positions="position.t5_bias",
        relative_buckets=c.get("relative_attention_num_buckets", 32),
        relative_max_distance=c.get("relative_attention_max_distance", 128), norm="norm.rms",
        norm_eps=c.get("layer_norm_epsilon", 1e-6), attention_bias=False, scale_scores=False, ffn=ffn,
        ffn_hidden=c.require("d_ff"), activation=activation, ffn_bias=False, tie_embeddings=not untied,
        head_scale_input=c.get("scale_decoder_outputs", legacy_tied), loss=False,
    )


def _t5_weights(a: Architecture) -> dict:
    w = {"tok_emb.weight": take("shared.weight"), "dec_emb.weight": take("shared.weight"),
         "lm_head.linear.weight": take("shared.weight" if a.tie_embeddings else "lm_head.weight"),
         "enc_norm.weight": take("encoder.final_layer_norm.weight"),
         "dec_norm.weight": take("decoder.final_layer_norm.weight")}
    for stack, count in (("encoder", a.layers), ("decoder", a.decoder_layers or a.layers)):
        prefix = "enc" if stack == "encoder" else "dec"
        w[f"{prefix}_positions.weight"] = take(f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
        for i in range(count):
            ours, theirs = f"{stack}.{i}", f"{stack}.block.{i}.layer"
            attention = f"{theirs}.0.SelfAttention"
            w[f"{ours}.ln_1.weight"] = take(f"{theirs}.0.layer_norm.weight")
            w[f"{ours}.attn.qkv.weight"] = take(*(f"{attention}.{p}.weight" for p in "qkv"))
            w[f"{ours}.attn.proj.weight"] = take(f"{attention}.o.weight")
            ffn = f"{theirs}.1" if stack == "encoder" else f"{theirs}.2"
            if stack == "decoder":
                cross = f"{theirs}.1.EncDecAttention"
                w[f"{ours}.ln_2.weight"] = take(f"{theirs}.1.layer_norm.weight")
                w[f"{ours}.cross_attn.q.weight"] = take(f"{cross}.q.weight")
                w[f"{ours}.cross_attn.kv.weight"] = take(f"{cross}.k.weight", f"{cross}.v.weight")
                w[f"{ours}.cross_attn.proj.weight"] = take(f"{cross}.o.weight")
            norm = "ln_2" if stack == "encoder" else "ln_3"
            w[f"{ours}.{norm}.weight"] = take(f"{ffn}.layer_norm.weight")
            dense = f"{ffn}.DenseReluDense"
            w[f"{ours}.mlp.fc.weight"] = take(f"{dense}.wi.weight")
            w[f"{ours}.mlp.proj.weight"] = take(f"{dense}.wo.weight")
            w[f"{ours}.mlp.gate.weight"] = take(f"{dense}.wi_0.weight")
            w[f"{ours}.mlp.up.weight"] = take(f"{dense}.wi_1.weight")
            w[f"{ours}.mlp.down.weight"] = take(f"{dense}.wo.weight")
    return w


def _t5_ignored(a: Architecture) -> list[str]:
    return [r"(encoder|decoder)\.embed_tokens\.weight"] + (["lm_head.weight"] if a.tie_embeddings else [])


# ----- LLaMA and Mistral -----


def _rope_base(c: Config) -> float:
    rope = c.get("rope_parameters")
    if rope is None:  # configs before transformers 5
        c.expect("rope_scaling", None, None)
        return float(c.get("rope_theta", 10000.0))
    for key, value in rope.items():
        if key == "rope_type" and value != "default" or key not in ("rope_type", "rope_theta"):
            c.fail(f"rope_parameters.{key}", value)
    return float(rope.get("rope_theta", 10000.0))


def _llama(c: Config, hf_class: str, tensors: dict) -> Architecture:
    c.expect("hidden_act", "silu", "silu")
    c.get("pretraining_tp")  # how pre-training split its matmuls; the function is the same
    width, heads = c.require("hidden_size"), c.require("num_attention_heads")
    head_width = c.get("head_dim", width // heads)
    window = c.get("sliding_window", 0) if c.family == "Mistral" else c.expect("sliding_window", None, None) or 0
    return Architecture(
        c.family, vocab_size=c.require("vocab_size"), context_length=c.get("max_position_embeddings", 2048),
        width=width, layers=c.require("num_hidden_layers"), heads=heads,
        kv_heads=c.get("num_key_value_heads", heads), head_width=0 if head_width * heads == width else head_width,
        attention_bias=c.get("attention_bias", False), window=window, positions="position.rope",
        rope_base=_rope_base(c), norm="norm.rms", norm_eps=c.get("rms_norm_eps", 1e-6), ffn="ffn.swiglu",
        ffn_hidden=c.require("intermediate_size"), ffn_bias=c.get("mlp_bias", False),
        tie_embeddings=c.get("tie_word_embeddings", False),
    )


def _llama_weights(a: Architecture) -> dict:
    w = {"tok_emb.weight": take("model.embed_tokens.weight"), "ln_f.weight": take("model.norm.weight"),
         "lm_head.linear.weight": take("model.embed_tokens.weight" if a.tie_embeddings else "lm_head.weight")}
    head_width = a.head_width or a.width // a.heads
    query, key_value = a.heads * head_width, (a.kv_heads or a.heads) * head_width  # rows of q and of k, v
    for i in range(a.layers):
        ours, theirs = f"layers.{i}", f"model.layers.{i}"
        attention = f"{theirs}.self_attn"
        w[f"{ours}.ln_1.weight"] = take(f"{theirs}.input_layernorm.weight")
        w[f"{ours}.ln_2.weight"] = take(f"{theirs}.post_attention_layernorm.weight")
        linear(w, f"{ours}.attn.qkv", f"{attention}.q_proj", f"{attention}.k_proj", f"{attention}.v_proj",
               sizes=(query, key_value, key_value))
        linear(w, f"{ours}.attn.proj", f"{attention}.o_proj")
        for mine in ("gate", "up", "down"):
            linear(w, f"{ours}.mlp.{mine}", f"{theirs}.mlp.{mine}_proj")
    return w


def _llama_ignored(a: Architecture) -> list[str]:
    return [r"model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq"] + (["lm_head.weight"] if a.tie_embeddings else [])


_GPT2 = Family("GPT-2", _gpt2, _gpt2_weights, _gpt2_ignored,
               harmless=("summary_activation", "summary_first_dropout", "summary_proj_to_labels", "summary_type",
                         "summary_use_proj"))
_BERT = Family("BERT", _bert, _bert_weights, _bert_ignored)
_LLAMA = Family("LLaMA", _llama, _llama_weights, _llama_ignored)

FAMILIES = {
    "GPT2LMHeadModel": _GPT2,
    "BertForMaskedLM": _BERT,
    "BertForSequenceClassification": _BERT,
    "RoFormerForMaskedLM": Family("RoFormer", _roformer, lambda a: _bert_weights(a, "roformer"), _roformer_ignored,
                                  constants=_roformer_sinusoids),
    "BartForConditionalGeneration": Family("BART", _bart, _bart_weights, _bart_ignored),
    "T5ForConditionalGeneration": Family("T5", _t5, _t5_weights, _t5_ignored),
    "LlamaForCausalLM": _LLAMA,
    "MistralForCausalLM": Family("Mistral", _llama, _llama_weights, _llama_ignored),
}
# The class to assume when config.json names a model_type but no architectures.
DEFAULT_CLASS = {"gpt2": "GPT2LMHeadModel", "bert": "BertForMaskedLM", "roformer": "RoFormerForMaskedLM",
                 "bart": "BartForConditionalGeneration",
                 "t5": "T5ForConditionalGeneration", "llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}


def matches_any(name: str, patterns: list[str]) -> bool:
    return any(re.fullmatch(p, name) for p in patterns)
