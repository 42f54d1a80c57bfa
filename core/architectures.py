"""The model zoo as graphs: GPT-2, BERT, BART, T5, LLaMA, Mistral, Qwen2, Qwen3, Gemma 2, Phi-3, GPT-NeoX,
OPT, Falcon and Mixtral, each drawn from blocks.

One frozen `Architecture` describes any of them (as a Hugging Face config does) and `build_graph`
lays it out as a graph a person can open and edit: embeddings and positions at the top, one group
per stack of layers repeated × N, then the head. The presets in assets/presets and the Hugging Face
import (core.export.hf_import) are both made here, so they have the same node ids and weight names:

    decoder           tokens → tok_emb → positions → emb_drop → layers × N → ln_f → lm_head
    encoder           tokens → tok_emb → positions → segments → emb_norm → emb_drop → layers × N → head
    encoder-decoder   tokens → tok_emb → enc_positions → enc_emb_norm → enc_drop → encoder × N → enc_norm ─┐
                  dec_tokens → dec_emb → dec_positions → dec_emb_norm → dec_drop → decoder × N → dec_norm → lm_head

Every layer group has the ports x, positions and mask (plus memory and memory_mask in a decoder that
reads an encoder); the position node's `positions` output feeds every layer, so swapping one position
block for another (learned → RoPE) needs no rewiring. Pre-norm layers normalise before each
sublayer and add after (GPT-2, LLaMA, T5); post-norm layers add, then normalise (BERT, BART).

Issue #25's variations are wiring too: parallel layers add attention and MLP of the same input
(GPT-J, GPT-NeoX, Falcon); sandwich norms also normalise each sublayer's output (Gemma 2); Gemma 2's
alternating local and global layers are a group holding a pair (nodes of the second named global_…)
repeated N/2 times; OPT-350m's narrower embeddings pass through project_in and project_out.
"""

from dataclasses import dataclass, replace

from workbench.core.graph import Graph

LAYOUTS = ("decoder", "encoder", "encoder-decoder")


@dataclass(frozen=True)
class Architecture:
    name: str  # the project's name
    layout: str = "decoder"  # one of LAYOUTS
    vocab_size: int = 65  # V
    context_length: int = 128  # longest sequence; learned position tables are this long
    width: int = 128  # D
    layers: int = 4  # layers per stack
    decoder_layers: int = 0  # layers in an encoder-decoder's decoder; 0 = same as layers
    heads: int = 4  # query heads
    kv_heads: int = 0  # key/value heads; 0 = one per query head
    head_width: int = 0  # K; 0 = width / heads
    attention_bias: bool = True  # biases on the attention projections
    scale_scores: bool = True  # divide scores by √K (T5 does not)
    window: int = 0  # sliding attention window; 0 = none
    positions: str = "position.learned"  # the position block's type id
    rope_base: float = 10000.0  # RoPE's θ
    relative_buckets: int = 32  # T5 bias buckets
    relative_max_distance: int = 128  # T5 bias: distances beyond share a bucket
    norm: str = "norm.layer"  # norm.layer or norm.rms
    norm_eps: float = 1e-5
    norm_bias: bool = True  # LayerNorm's shift
    pre_norm: bool = True  # norm before each sublayer (else after each residual add)
    final_norm: bool = True  # a norm after each stack's last layer
    embedding_norm: bool = False  # a norm right after the embeddings (BERT, BART)
    scale_embedding: bool = False  # token vectors × √D
    segment_types: int = 0  # BERT's token types; 0 = no segment embedding
    ffn: str = "ffn.mlp"  # ffn.mlp, ffn.swiglu or ffn.geglu
    ffn_hidden: int = 0  # F; 0 = the block's default
    activation: str = "gelu"  # ffn.mlp's non-linearity; gelu_tanh makes ffn.geglu use the tanh form
    ffn_bias: bool = True
    head: str = "head.lm"  # head.lm, head.mlm or head.classify
    classes: int = 2  # head.classify's C
    pooling: str = "cls"  # head.classify's: the first position ([CLS]) or the mean over real tokens
    tie_embeddings: bool = True  # the head's projection is the token embedding
    head_bias: bool = False  # a bias per vocabulary entry (head.lm)
    head_scale_input: bool = False  # head input × 1/√D (T5)
    dropout: float = 0.0  # on embeddings, attention and feed-forward outputs
    loss: bool = True  # add targets and a loss (cross-entropy over tokens or over classes), so the graph trains
    # The zoo of issue #25: what Qwen, Gemma 2, Phi-3, GPT-NeoX, OPT, Falcon and Mixtral change.
    output_bias: bool = True  # with attention_bias, the output projection has one too (Qwen2: q, k, v only)
    qk_norm: bool = False  # RMSNorm on each head's queries and keys (Qwen3)
    attention_softcap: float = 0.0  # scores capped to ±this by tanh (Gemma 2); 0 = none
    logit_softcap: float = 0.0  # final logits capped to ±this by tanh (Gemma 2); 0 = none
    scale_width: int = 0  # divide scores by √ of this instead of √K (Gemma 2's query_pre_attn_scalar); 0 = K
    rope_fraction: float = 1.0  # share of each head's features RoPE rotates (GPT-NeoX rotary_pct, Phi-3)
    fused_ffn: bool = False  # gated feed-forward with one stacked gate-and-up matmul (Phi-3)
    parallel_norms: int = 0  # 0: attention then MLP; 1: both read one norm, x + attn + mlp (GPT-J, Falcon);
    #                          2: each reads its own norm (GPT-NeoX, Falcon-40B)
    sandwich_norm: bool = False  # also normalise each sublayer's output before the add (Gemma 2)
    local_global: bool = False  # layers alternate: the first of each pair windowed, the second global (Gemma 2)
    embedding_width: int = 0  # token embedding width projected in to D and back out before the head (OPT-350m)
    experts: int = 0  # ffn.moe's E
    top_k: int = 2  # ffn.moe's k
    aux_weight: float = 0.01  # ffn.moe's load-balancing weight

    def replace(self, **changes) -> "Architecture":
        return replace(self, **changes)


def build_graph(arch: Architecture) -> Graph:
    if arch.layout not in LAYOUTS:
        raise ValueError(f"unknown layout {arch.layout!r}; choose one of {', '.join(LAYOUTS)}")
    g = Graph()
    g.add_node("input.tokens", {"vocab_size": arch.vocab_size, "context_length": arch.context_length},
               (0, 0), "tokens")
    g.add_node("input.padding_mask", {}, (-260, 0), "mask")
    if arch.layout == "encoder-decoder":
        _encoder_decoder(g, arch)
    else:
        _single_stack(g, arch)
    g.history.clear()
    return g


# ----- layouts -----


def _single_stack(g: Graph, arch: Architecture) -> None:
    """A decoder (GPT-2, LLaMA, Mistral) or an encoder (BERT): one stack of layers and a head."""
    segments = arch.segment_types > 0
    if segments:
        g.add_node("input.token_types", {}, (260, 0), "token_types")
    g.add_node("embed.token", {"width": arch.embedding_width or arch.width, "scale": arch.scale_embedding}, (0, 110),
               "tok_emb")
    g.connect("tokens", "tokens", "tok_emb", "tokens")
    x, y = ("tok_emb", "out"), 220
    if arch.embedding_width:  # OPT-350m: narrower embeddings, projected in to the layers' width
        g.add_node("op.linear", {"width": arch.width, "bias": False}, (0, y), "project_in")
        g.connect(*x, "project_in", "x")
        x, y = ("project_in", "out"), y + 110
    x = _positions(g, arch, "positions", x, (0, y), bidirectional=arch.layout == "encoder")
    y += 110
    if segments:
        g.add_node("embed.segment", {"types": arch.segment_types}, (0, y), "segments")
        g.connect(*x, "segments", "x")
        g.connect("token_types", "segments", "segments", "segments")
        x, y = ("segments", "out"), y + 110
    x, y = _embedding_end(g, arch, "emb_norm", "emb_drop", x, y)
    _layer_group(g, arch, "layers", "Transformer layer", arch.layers, (0, y), causal=arch.layout == "decoder",
                 feeds={"x": x, "positions": ("positions", "positions"), "mask": ("mask", "mask")})
    x, y = ("layers", "x"), y + 110
    if arch.final_norm:
        g.add_node(arch.norm, _norm_params(arch), (0, y), "ln_f")
        g.connect(*x, "ln_f", "x")
        x, y = ("ln_f", "out"), y + 110
    if arch.embedding_width:
        g.add_node("op.linear", {"width": arch.embedding_width, "bias": False}, (0, y), "project_out")
        g.connect(*x, "project_out", "x")
        x, y = ("project_out", "out"), y + 110
    _head(g, arch, x, y)


def _encoder_decoder(g: Graph, arch: Architecture) -> None:
    """BART and T5: the encoder reads the source; each decoder layer also attends to its output."""
    g.add_node("input.decoder_tokens", {}, (320, 0), "dec_tokens")
    g.add_node("input.padding_mask", {}, (580, 0), "dec_mask")
    g.add_node("embed.token", {"width": arch.width, "scale": arch.scale_embedding}, (0, 110), "tok_emb")
    g.add_node("embed.token_tied", {"scale": arch.scale_embedding}, (320, 110), "dec_emb")
    g.connect("tokens", "tokens", "tok_emb", "tokens")
    g.connect("dec_tokens", "tokens", "dec_emb", "tokens")
    sides = {}
    stacks = (("enc_", "encoder", 0, "Encoder layer"), ("dec_", "decoder", 320, "Decoder layer"))
    for prefix, stack, column, title in stacks:
        embedded = ("tok_emb", "out") if prefix == "enc_" else ("dec_emb", "out")
        positions = f"{prefix}positions"
        x = _positions(g, arch, positions, embedded, (column, 220), bidirectional=prefix == "enc_")
        x, y = _embedding_end(g, arch, f"{prefix}emb_norm", f"{prefix}drop", x, 330)
        sides[prefix] = (x, y, positions, stack, column, title)
    x, y, positions, stack, column, title = sides["enc_"]
    _layer_group(g, arch, stack, title, arch.layers, (column, y), causal=False,
                 feeds={"x": x, "positions": (positions, "positions"), "mask": ("mask", "mask")})
    memory = _stack_end(g, arch, "enc_norm", (stack, "x"), (column, y + 110))
    x, y, positions, stack, column, title = sides["dec_"]
    _layer_group(g, arch, stack, title, arch.decoder_layers or arch.layers, (column, y), causal=True,
                 feeds={"x": x, "positions": (positions, "positions"), "mask": ("dec_mask", "mask"),
                        "memory": memory, "memory_mask": ("mask", "mask")})
    x = _stack_end(g, arch, "dec_norm", (stack, "x"), (column, y + 110))
    _head(g, arch, x, y + 220, column)


# ----- pieces -----


def _positions(g: Graph, arch: Architecture, node_id: str, x, pos, *, bidirectional: bool):
    params = {
        "position.rope": {"base": arch.rope_base,
                          **({"fraction": arch.rope_fraction} if arch.rope_fraction != 1 else {})},
        "position.t5_bias": {"heads": arch.heads, "buckets": arch.relative_buckets,
                             "max_distance": arch.relative_max_distance, "bidirectional": bidirectional},
    }.get(arch.positions, {})
    g.add_node(arch.positions, params, pos, node_id)
    g.connect(*x, node_id, "x")
    return node_id, "out"


def _embedding_end(g: Graph, arch: Architecture, norm_id: str, drop_id: str, x, y: int):
    """The optional norm right after the embeddings, then dropout."""
    column = g.nodes[x[0]].pos[0]
    if arch.embedding_norm:
        g.add_node(arch.norm, _norm_params(arch), (column, y), norm_id)
        g.connect(*x, norm_id, "x")
        x, y = (norm_id, "out"), y + 110
    g.add_node("op.dropout", {"p": arch.dropout}, (column, y), drop_id)
    g.connect(*x, drop_id, "x")
    return (drop_id, "out"), y + 110


def _stack_end(g: Graph, arch: Architecture, node_id: str, x, pos):
    if not arch.final_norm:
        return x
    g.add_node(arch.norm, _norm_params(arch), pos, node_id)
    g.connect(*x, node_id, "x")
    return node_id, "out"


def _layer_group(g: Graph, arch: Architecture, group_id: str, title: str, repeat: int, pos, *, causal: bool,
                 feeds: dict) -> None:
    """One transformer layer, repeated; `feeds` maps each group port to the (node, port) outside feeding it.
    With local_global the group holds a pair, a windowed layer then a global one (its nodes named
    global_…), repeated half as often."""
    if arch.local_global and repeat % 2:
        raise ValueError(f"alternating local and global layers needs an even number of layers, got {repeat}")
    g.add_group(f"{title} pair" if arch.local_global else title, repeat // 2 if arch.local_global else repeat, pos,
                group_id)
    inner = g.nodes[group_id].graph
    kinds = {"x": "hidden", "positions": "positions", "mask": "mask", "memory": "hidden", "memory_mask": "mask"}
    for column, name in enumerate(feeds):
        inner.add_node("group.input", {"name": name, "kind": kinds[name]}, (260 * column, 0), f"{name}_in")
    x, y = ("x_in", "out"), 110
    if arch.local_global:
        x, y = _layer(inner, arch, x, y, "", causal=causal, window=arch.window, cross="memory" in feeds)
        x, y = _layer(inner, arch, x, y, "global_", causal=causal, window=0, cross="memory" in feeds)
    else:
        x, y = _layer(inner, arch, x, y, "", causal=causal, window=arch.window, cross="memory" in feeds)
    inner.add_node("group.output", {"name": "x"}, (0, y), "x_out")
    inner.connect(*x, "x_out", "in")
    for port, (src, src_port) in feeds.items():
        g.connect(src, src_port, group_id, port)


def _layer(inner: Graph, arch: Architecture, x, y: int, prefix: str, *, causal: bool, window: int, cross: bool):
    """One layer's nodes (ids prefixed by `prefix`) from the hidden states x; returns its output and the
    next free row. Sequential layers run each sublayer in turn; parallel ones (GPT-J, GPT-NeoX, Falcon)
    add attention and MLP of the same input: x + attn(norm(x)) + mlp(norm'(x)) (Wang & Komatsuzaki 2021)."""
    attention = {"heads": arch.heads, "kv_heads": arch.kv_heads, "head_width": arch.head_width,
                 "bias": arch.attention_bias, "scale_scores": arch.scale_scores, "dropout": arch.dropout}
    own = {"output_bias": arch.output_bias, "qk_norm": arch.qk_norm,
           "qk_norm_eps": arch.norm_eps if arch.qk_norm else None,
           "softcap": arch.attention_softcap, "scale_width": arch.scale_width}
    self_attention = {**attention, **{k: v for k, v in own.items() if v != _SELF_ATTENTION_DEFAULTS[k]},
                      "causal": causal, "window": window}
    sublayers = [("attn", "attention.self", self_attention, {"positions": "positions_in", "mask": "mask_in"})]
    if cross:
        cross_inputs = {"memory": "memory_in", "mask": "memory_mask_in"}
        sublayers.append(("cross_attn", "attention.cross", attention, cross_inputs))
    sublayers.append(("mlp", arch.ffn, _ffn_params(arch), {}))
    if arch.parallel_norms:
        return _parallel_layer(inner, arch, x, y, prefix, sublayers)
    for i, (node_id, type_id, params, extra) in enumerate(sublayers, 1):
        node_id, norm, add, post = f"{prefix}{node_id}", f"{prefix}ln_{i}", f"{prefix}add_{i}", f"{prefix}post_ln_{i}"
        if arch.pre_norm:  # x + f(norm(x)), or x + post_norm(f(norm(x))) with sandwich norms
            inner.add_node(arch.norm, _norm_params(arch), (0, y), norm)
            inner.add_node(type_id, params, (0, y + 110), node_id)
            inner.add_node("op.add", {}, (0, y + 220), add)
            inner.connect(*x, norm, "x")
            inner.connect(norm, "out", node_id, "x")
            inner.connect(*x, add, "a")
            out = (node_id, "out")
            if arch.sandwich_norm:
                inner.add_node(arch.norm, _norm_params(arch), (260, y + 165), post)
                inner.connect(*out, post, "x")
                out = (post, "out")
            inner.connect(*out, add, "b")
            x = (add, "out")
        else:  # norm(x + f(x))
            inner.add_node(type_id, params, (0, y), node_id)
            inner.add_node("op.add", {}, (0, y + 110), add)
            inner.add_node(arch.norm, _norm_params(arch), (0, y + 220), norm)
            inner.connect(*x, node_id, "x")
            inner.connect(*x, add, "a")
            inner.connect(node_id, "out", add, "b")
            inner.connect(add, "out", norm, "x")
            x = (norm, "out")
        for port, source in extra.items():
            inner.connect(source, "out", node_id, port)
        y += 330
    return x, y


def _parallel_layer(inner: Graph, arch: Architecture, x, y: int, prefix: str, sublayers: list):
    if len(sublayers) != 2 or not arch.pre_norm:
        raise ValueError("parallel attention and MLP is drawn for pre-norm decoder and encoder layers only")
    norms = [f"{prefix}ln_1", f"{prefix}ln_2"][:arch.parallel_norms]
    for column, norm in enumerate(norms):
        inner.add_node(arch.norm, _norm_params(arch), (260 * column, y), norm)
        inner.connect(*x, norm, "x")
    add = x
    for i, (node_id, type_id, params, extra) in enumerate(sublayers):
        node_id = f"{prefix}{node_id}"
        inner.add_node(type_id, params, (260 * i, y + 110), node_id)
        inner.connect(norms[min(i, len(norms) - 1)], "out", node_id, "x")
        for port, source in extra.items():
            inner.connect(source, "out", node_id, port)
        inner.add_node("op.add", {}, (0, y + 220 + 110 * i), f"{prefix}add_{i + 1}")
        inner.connect(*add, f"{prefix}add_{i + 1}", "a")
        inner.connect(node_id, "out", f"{prefix}add_{i + 1}", "b")
        add = (f"{prefix}add_{i + 1}", "out")
    return add, y + 440


def _head(g: Graph, arch: Architecture, x, y: int, column: int = 0) -> None:
    if arch.head == "head.classify":
        node_id, loss = "classifier", "loss.classification"
        params = {"classes": arch.classes, "pooling": arch.pooling, "dropout": arch.dropout}
    elif arch.head == "head.mlm":
        node_id, loss = "mlm_head", "loss.cross_entropy"
        params = {"eps": arch.norm_eps, "activation": arch.activation, "tie_weights": arch.tie_embeddings}
    else:
        node_id, loss = "lm_head", "loss.cross_entropy"
        params = {"tie_weights": arch.tie_embeddings, "bias": arch.head_bias, "scale_input": arch.head_scale_input}
    if arch.logit_softcap:
        params["softcap"] = arch.logit_softcap
    g.add_node(arch.head, params, (column, y), node_id)
    g.connect(*x, node_id, "x")
    if arch.head == "head.classify":
        g.connect("mask", "mask", node_id, "mask")
    if arch.loss:
        g.add_node("input.targets", {}, (column + 260, y), "targets")
        g.add_node(loss, {}, (column, y + 110), "loss")
        g.connect(node_id, "logits", "loss", "logits")
        g.connect("targets", "targets", "loss", "targets")


def _norm_params(arch: Architecture) -> dict:
    if arch.norm == "norm.layer":
        return {"eps": arch.norm_eps, "bias": arch.norm_bias}
    return {"eps": arch.norm_eps}


def _ffn_params(arch: Architecture) -> dict:
    if arch.ffn == "ffn.moe":
        return {"experts": arch.experts, "top_k": arch.top_k, "hidden_width": arch.ffn_hidden,
                "aux_weight": arch.aux_weight, "dropout": arch.dropout}
    params = {"hidden_width": arch.ffn_hidden, "bias": arch.ffn_bias, "dropout": arch.dropout}
    if arch.ffn == "ffn.mlp":
        params["activation"] = arch.activation
    elif arch.ffn == "ffn.geglu":
        params["tanh_approximation"] = arch.activation == "gelu_tanh"
    if arch.fused_ffn:
        params["fused"] = True
    return params


# Attention settings written into a graph only when an architecture changes them, so the zoo's
# existing graphs and presets stay byte-identical.
_SELF_ATTENTION_DEFAULTS = {"output_bias": True, "qk_norm": False, "qk_norm_eps": None, "softcap": 0.0,
                            "scale_width": 0}


# ----- the families, at sizes that train on a CPU -----

FAMILIES = {
    "gpt2": Architecture(
        "Tiny GPT-2", activation="gelu_tanh",
    ),
    "bert": Architecture(
        "Tiny BERT", layout="encoder", pre_norm=False, final_norm=False, embedding_norm=True, norm_eps=1e-12,
        segment_types=2, head="head.mlm",
    ),
    "bart": Architecture(
        "Tiny BART", layout="encoder-decoder", layers=2, pre_norm=False, final_norm=False, embedding_norm=True,
        head_bias=True,
    ),
    "t5": Architecture(
        "Tiny T5", layout="encoder-decoder", layers=2, positions="position.t5_bias", norm="norm.rms", norm_eps=1e-6,
        attention_bias=False, scale_scores=False, activation="relu", ffn_bias=False, head_scale_input=True,
    ),
    "llama": Architecture(
        "Tiny LLaMA", kv_heads=2, positions="position.rope", norm="norm.rms", norm_eps=1e-6, attention_bias=False,
        ffn="ffn.swiglu", ffn_bias=False, tie_embeddings=False,
    ),
    "mistral": Architecture(
        "Tiny Mistral", kv_heads=2, window=32, positions="position.rope", norm="norm.rms", norm_eps=1e-6,
        attention_bias=False, ffn="ffn.swiglu", ffn_bias=False, tie_embeddings=False,
    ),
    # Issue #25's families: each is LLaMA or GPT-2 plus what it changes (core/export/hf_zoo.py lists them).
    "qwen2": Architecture(
        "Tiny Qwen2", kv_heads=2, positions="position.rope", norm="norm.rms", norm_eps=1e-6, output_bias=False,
        ffn="ffn.swiglu", ffn_bias=False, tie_embeddings=False,
    ),
    "qwen3": Architecture(
        "Tiny Qwen3", kv_heads=2, positions="position.rope", norm="norm.rms", norm_eps=1e-6, attention_bias=False,
        qk_norm=True, ffn="ffn.swiglu", ffn_bias=False, tie_embeddings=False,
    ),
    "gemma2": Architecture(
        "Tiny Gemma 2", kv_heads=2, window=32, local_global=True, positions="position.rope", norm="norm.rms",
        norm_eps=1e-6, attention_bias=False, sandwich_norm=True, attention_softcap=50.0, logit_softcap=30.0,
        scale_embedding=True, ffn="ffn.geglu", activation="gelu_tanh", ffn_bias=False,
    ),
    "phi3": Architecture(
        "Tiny Phi-3", positions="position.rope", norm="norm.rms", attention_bias=False, ffn="ffn.swiglu",
        ffn_bias=False, fused_ffn=True, tie_embeddings=False,
    ),
    "neox": Architecture(
        "Tiny GPT-NeoX", positions="position.rope", rope_fraction=0.25, parallel_norms=2, tie_embeddings=False,
    ),
    "opt": Architecture(
        "Tiny OPT", activation="relu",
    ),
    "falcon": Architecture(
        "Tiny Falcon", kv_heads=1, positions="position.rope", attention_bias=False, ffn_bias=False, parallel_norms=1,
    ),
    # Four SwiGLU experts of half LLaMA's hidden width, two per token: the same active parameters (and
    # FLOPs) per token as the llama preset, twice its feed-forward weights (bench/moe_speed.py).
    "mixtral": Architecture(
        "Tiny Mixtral", kv_heads=2, positions="position.rope", norm="norm.rms", norm_eps=1e-6, attention_bias=False,
        ffn="ffn.moe", experts=4, top_k=2, ffn_hidden=172, tie_embeddings=False,
    ),
}
