"""Export to a Hugging Face folder: the inverse of hf_import, through the same name maps (hf_families).

    main.py export RUN_OR_PROJECT --hf DIR

writes DIR/config.json, DIR/model.safetensors, DIR/tokenizer.json with tokenizer_config.json and
special_tokens_map.json (so AutoTokenizer loads it), and a README.md model card (model_card.py), so

    AutoModelForCausalLM.from_pretrained(DIR)          GPT-2, LLaMA, Mistral
    AutoModelForMaskedLM / ...SequenceClassification   BERT (RoFormer when its positions are RoPE)
    AutoModelForSeq2SeqLM                              BART, T5

computes the app's logits. A graph maps onto a family when it is laid out as core.architectures lays
that family out (the presets and every import are): `architecture_of` reads the Architecture back from
the graph, `hf_config` writes the family's config.json, and the family's own importer reads that
config again; any setting that does not come back the same (a sliding window on GPT-2, RMSNorm in
BERT) or any block no family has (ALiBi, Performer attention) is an HFExportError naming it. The
written folder is then imported again and must give the app's logits (`check_hf`); transformers
itself is the oracle in tests/core/export/test_hf_export.py.
"""

import json
from dataclasses import fields
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

from workbench.core.atomic import give_default_mode
from workbench.core.architectures import Architecture
from workbench.core.compiler import CompiledModel, compile_graph
from workbench.core.data.tokenizers import CharTokenizer, ProjectTokenizer
from workbench.core.export.hf_families import Config, HFImportError
from workbench.core.export.hf_zoo import ALL_FAMILIES as FAMILIES
from workbench.core.export.hf_zoo_export import family_of_zoo, zoo_config
from workbench.core.export.hf_import import NEVER_CHANGES_THE_FUNCTION, import_hf
from workbench.core.export.onnx_export import input_kind, input_tensor, parity_lengths, portable_attention, \
    raise_if_apart
from workbench.core.export.report import ExportError
from workbench.core.graph import Graph, Group

TOLERANCE = 1e-5  # the folder imported again vs the app: the same modules and weights, another graph

# Every block type core.architectures lays out; any other has no counterpart in the families.
MAPPED_BLOCKS = {
    "input.tokens", "input.padding_mask", "input.token_types", "input.decoder_tokens", "input.targets",
    "embed.token", "embed.token_tied", "embed.segment", "position.learned", "position.rope", "position.t5_bias",
    "norm.layer", "norm.rms", "op.dropout", "op.add", "group", "group.input", "group.output", "attention.self",
    "attention.cross", "ffn.mlp", "ffn.swiglu", "ffn.geglu", "head.lm", "head.mlm", "head.classify",
    "loss.cross_entropy", "loss.classification", "op.linear", "ffn.moe",
}
POSITIONS = ("GPT-2, BERT and BART learn positions (position.learned), LLaMA and Mistral rotate them "
             "(position.rope), T5 adds a relative bias (position.t5_bias)")
WHY_NOT = {
    "position.": f"no Hugging Face family the app exports has these positions: {POSITIONS}",
    "attention.": "every Hugging Face family the app exports uses full softmax attention (attention.self, with "
                  "a sliding window only in Mistral)",
    "peft.": "transformers' model classes have no such layer; export the model without it",
    "norm.": "the families normalise with norm.layer (GPT-2, BERT, BART) or norm.rms (LLaMA, Mistral, T5)",
}
# Settings whose change is named in messages by the node (and parameter) that holds them.
WHERE = {
    "vocab_size": "tokens vocab_size", "context_length": "tokens context_length", "width": "tok_emb width",
    "heads": "attn heads", "kv_heads": "attn kv_heads", "head_width": "attn head_width", "attention_bias": "attn bias",
    "scale_scores": "attn scale_scores", "window": "attn window", "positions": "the position block",
    "norm": "the norm blocks", "norm_eps": "the norms' eps", "norm_bias": "the norms' bias",
    "pre_norm": "where each layer normalises (before or after each sublayer)", "final_norm": "the final norm",
    "embedding_norm": "the norm after the embeddings", "scale_embedding": "tok_emb scale",
    "segment_types": "segment embedding (segments)", "ffn": "the feed-forward block (mlp)",
    "activation": "mlp activation", "ffn_bias": "mlp bias", "head": "the head", "tie_embeddings": "head tie_weights",
    "head_bias": "head bias", "head_scale_input": "head scale_input", "pooling": "classifier pooling",
    "layers": "the layer group's repeat", "decoder_layers": "the decoder group's repeat",
}
IGNORED_FIELDS = {"name", "dropout", "loss", "classes"}  # training-only, or read from the weights


class HFExportError(ExportError):
    """A graph that no Hugging Face family computes; the message names the block or setting."""


# ----- the graph, read back as an Architecture -----


def architecture_of(graph: Graph, state: dict[str, torch.Tensor]) -> Architecture:
    """The Architecture build_graph would lay out as this graph; HFExportError names the first block
    (in reading order) that no family has, or a node the family layout needs and the graph lacks."""
    for path, node in graph.walk():
        if node.type_id not in MAPPED_BLOCKS:
            why = next((text for prefix, text in WHY_NOT.items() if node.type_id.startswith(prefix)),
                       "no Hugging Face family the app exports has this block")
            raise HFExportError(f"{path} ({node.type_id}): {why}")
    pair = "dec_tokens" in graph.nodes
    stack_id = "encoder" if pair else "layers"
    stack = _need(graph, stack_id, "the group of transformer layers")
    if not isinstance(stack, Group):
        raise HFExportError(f"{stack_id} is a {stack.type_id} block; the Hugging Face layout has a group of layers "
                            "there")
    inner = stack.graph
    attn, mlp, norm = (_need(inner, n, what, stack_id) for n, what in
                       (("attn", "self-attention"), ("mlp", "feed-forward"), ("ln_1", "first norm")))
    positions = _need(graph, "enc_positions" if pair else "positions", "the position block")
    tokens, embedding = _need(graph, "tokens", "the token input"), _need(graph, "tok_emb", "the token embedding")
    head = next((graph.nodes[n] for n in ("lm_head", "mlm_head", "classifier") if n in graph.nodes), None)
    if head is None:
        raise HFExportError("the graph has no head (lm_head, mlm_head or classifier) where the Hugging Face layout "
                            "ends")
    layout = "encoder-decoder" if pair else ("decoder" if attn.get_param("causal") else "encoder")
    hidden = state.get(f"{stack_id}.0.mlp.fc.weight", state.get(f"{stack_id}.0.mlp.up.weight",
                                                                 state.get(f"{stack_id}.0.mlp.experts.0.up.weight")))
    if hidden is None and f"{stack_id}.0.mlp.gate_up.weight" in state:  # fused: gate rows, then up rows
        hidden = state[f"{stack_id}.0.mlp.gate_up.weight"][: state[f"{stack_id}.0.mlp.gate_up.weight"].shape[0] // 2]
    ffn = mlp.type_id
    activation = {"ffn.mlp": lambda: mlp.get_param("activation"), "ffn.swiglu": lambda: "silu",
                  "ffn.moe": lambda: "silu",
                  "ffn.geglu": lambda: "gelu_tanh" if mlp.get_param("tanh_approximation") else "gelu"}[ffn]()
    head_params = {"head.lm": lambda: dict(tie_embeddings=head.get_param("tie_weights"),
                                           head_bias=head.get_param("bias"),
                                           head_scale_input=head.get_param("scale_input"),
                                           logit_softcap=head.get_param("softcap")),
                   "head.mlm": lambda: dict(tie_embeddings=head.get_param("tie_weights")),
                   "head.classify": lambda: dict(classes=head.get_param("classes"),
                                                 pooling=head.get_param("pooling"))}[head.type_id]()
    rope = positions.type_id == "position.rope"
    t5 = positions.type_id == "position.t5_bias"
    heads = attn.get_param("heads")
    width = embedding.get_param("width")
    projected = graph.nodes["project_in"].get_param("width") if "project_in" in graph.nodes else 0
    embedding_width, width = (width, projected) if projected else (0, width)
    local_global = "global_attn" in inner.nodes
    # Parallel layers read x (through their norms) in both sublayers; a post-norm layer's ln_1 also feeds
    # the MLP, but after the attention's add, so only pre-norm layers count.
    pre_norm = any(e.src == "x_in" and e.dst == "ln_1" for e in inner.edges)
    parallel = 0 if not pre_norm else 2 if any(e.src == "x_in" and e.dst == "ln_2" for e in inner.edges) else \
        1 if any(e.src == "ln_1" and e.dst == "mlp" for e in inner.edges) else 0
    moe = mlp.type_id == "ffn.moe"
    zoo = dict(
        output_bias=attn.get_param("output_bias"), qk_norm=attn.get_param("qk_norm"),
        attention_softcap=attn.get_param("softcap"), scale_width=attn.get_param("scale_width"),
        rope_fraction=float(positions.get_param("fraction")) if rope else 1.0,
        fused_ffn=ffn in ("ffn.swiglu", "ffn.geglu") and mlp.get_param("fused"), parallel_norms=parallel,
        sandwich_norm="post_ln_1" in inner.nodes, local_global=local_global, embedding_width=embedding_width,
        experts=mlp.get_param("experts") if moe else 0, top_k=mlp.get_param("top_k") if moe else 2,
        aux_weight=mlp.get_param("aux_weight") if moe else 0.01,
    )
    return Architecture(
        "graph", layout=layout,
        vocab_size=tokens.get_param("vocab_size"), context_length=tokens.get_param("context_length"), width=width,
        layers=stack.repeat * (2 if local_global else 1),
        decoder_layers=graph.nodes["decoder"].repeat if pair and "decoder" in graph.nodes else 0,
        heads=heads, kv_heads=attn.get_param("kv_heads") or heads,
        head_width=0 if (attn.get_param("head_width") or width // heads) * heads == width else attn.get_param(
            "head_width"),
        attention_bias=attn.get_param("bias"), scale_scores=attn.get_param("scale_scores"),
        window=attn.get_param("window"), positions=positions.type_id,
        rope_base=float(positions.get_param("base")) if rope else 10000.0,
        relative_buckets=positions.get_param("buckets") if t5 else 32,
        relative_max_distance=positions.get_param("max_distance") if t5 else 128,
        norm=norm.type_id, norm_eps=norm.get_param("eps"),
        norm_bias=norm.get_param("bias") if norm.type_id == "norm.layer" else True,
        pre_norm=pre_norm,
        final_norm=("enc_norm" if pair else "ln_f") in graph.nodes,
        embedding_norm=("enc_emb_norm" if pair else "emb_norm") in graph.nodes,
        scale_embedding=embedding.get_param("scale"),
        segment_types=graph.nodes["segments"].get_param("types") if "segments" in graph.nodes else 0,
        ffn=ffn, ffn_hidden=int(hidden.shape[0]) if hidden is not None else 0, activation=activation,
        ffn_bias=mlp.get_param("bias") if not moe else False, head=head.type_id, **head_params,
        loss="loss" in graph.nodes, **zoo,
    )


def _need(graph: Graph, node_id: str, what: str, group: str = ""):
    if node_id not in graph.nodes:
        where = f"group {group!r}" if group else "the graph"
        raise HFExportError(f"{where} has no node {node_id!r} ({what}); Hugging Face export reads graphs laid out "
                            "as the presets and imported models are (File > New from a preset)")
    return graph.nodes[node_id]


def family_of(arch: Architecture) -> str:
    """The transformers class that computes this architecture, by its layout, positions and head (and
    for issue #25's decoders, by what sets each family apart: core.export.hf_zoo.family_of_zoo)."""
    zoo = family_of_zoo(arch)
    if zoo:
        return zoo
    by_layout = {
        "decoder": {"position.learned": "GPT2LMHeadModel",
                    "position.rope": "MistralForCausalLM" if arch.window else "LlamaForCausalLM"},
        "encoder": {"position.learned": "BertForSequenceClassification" if arch.head == "head.classify"
                    else "BertForMaskedLM", "position.rope": "RoFormerForMaskedLM"},
        "encoder-decoder": {"position.learned": "BartForConditionalGeneration",
                            "position.t5_bias": "T5ForConditionalGeneration"},
    }[arch.layout]
    if arch.positions not in by_layout:
        have = ", ".join(f"{FAMILIES[c].name} {p}" for p, c in by_layout.items())
        raise HFExportError(f"the position block ({arch.positions}): an {arch.layout} with these positions is no "
                            f"Hugging Face family the app exports (an {arch.layout} maps with: {have})")
    return by_layout[arch.positions]


# ----- config.json: each family's fields, the inverse of hf_families -----

_GPT2_ACT = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu", "silu": "silu"}
_T5_FFN = {("ffn.mlp", "relu"): "relu", ("ffn.mlp", "gelu"): "gelu", ("ffn.geglu", "gelu_tanh"): "gated-gelu",
           ("ffn.swiglu", "silu"): "gated-silu"}


def hf_config(arch: Architecture, hf_class: str, token_ids: dict[str, int]) -> dict:
    """config.json for `arch` as `hf_class`; settings the family cannot hold keep its defaults, and
    `check_maps` finds them."""
    a, name = arch, FAMILIES[hf_class].name
    head_width = a.head_width or a.width // a.heads
    if name == "GPT-2":
        fields_ = dict(model_type="gpt2", vocab_size=a.vocab_size, n_positions=a.context_length, n_embd=a.width,
                       n_layer=a.layers, n_head=a.heads, n_inner=a.ffn_hidden,
                       activation_function=_GPT2_ACT.get(a.activation, "gelu_new"), layer_norm_epsilon=a.norm_eps,
                       scale_attn_weights=a.scale_scores, tie_word_embeddings=a.tie_embeddings,
                       resid_pdrop=a.dropout, embd_pdrop=a.dropout, attn_pdrop=a.dropout)
    elif name == "BERT":
        fields_ = dict(model_type="bert", vocab_size=a.vocab_size, hidden_size=a.width, num_hidden_layers=a.layers,
                       num_attention_heads=a.heads, intermediate_size=a.ffn_hidden,
                       hidden_act={"gelu_tanh": "gelu_new"}.get(a.activation, a.activation),
                       max_position_embeddings=a.context_length, type_vocab_size=a.segment_types,
                       layer_norm_eps=a.norm_eps, hidden_dropout_prob=a.dropout,
                       attention_probs_dropout_prob=a.dropout)
        if hf_class == "BertForSequenceClassification":
            fields_["id2label"] = {str(i): f"LABEL_{i}" for i in range(a.classes)}
            fields_["label2id"] = {f"LABEL_{i}": i for i in range(a.classes)}
    elif name == "RoFormer":
        fields_ = dict(model_type="roformer", vocab_size=a.vocab_size, hidden_size=a.width,
                       num_hidden_layers=a.layers, num_attention_heads=a.heads, intermediate_size=a.ffn_hidden,
                       hidden_act={"gelu_tanh": "gelu_new"}.get(a.activation, a.activation),
                       max_position_embeddings=a.context_length, type_vocab_size=a.segment_types,
                       layer_norm_eps=a.norm_eps, hidden_dropout_prob=a.dropout,
                       attention_probs_dropout_prob=a.dropout)
    elif name == "BART":
        fields_ = dict(model_type="bart", vocab_size=a.vocab_size, d_model=a.width, encoder_layers=a.layers,
                       decoder_layers=a.decoder_layers or a.layers, encoder_attention_heads=a.heads,
                       decoder_attention_heads=a.heads, encoder_ffn_dim=a.ffn_hidden, decoder_ffn_dim=a.ffn_hidden,
                       max_position_embeddings=a.context_length, scale_embedding=a.scale_embedding,
                       activation_function={"gelu_tanh": "gelu_new"}.get(a.activation, a.activation),
                       dropout=a.dropout, attention_dropout=a.dropout, activation_dropout=0.0,
                       decoder_start_token_id=token_ids.get("eos_token_id") or 0)
    elif name == "T5":
        fields_ = dict(model_type="t5", vocab_size=a.vocab_size, d_model=a.width, d_kv=head_width, d_ff=a.ffn_hidden,
                       num_layers=a.layers, num_decoder_layers=a.decoder_layers or a.layers, num_heads=a.heads,
                       relative_attention_num_buckets=a.relative_buckets,
                       relative_attention_max_distance=a.relative_max_distance, layer_norm_epsilon=a.norm_eps,
                       feed_forward_proj=_T5_FFN.get((a.ffn, a.activation), "relu"), n_positions=a.context_length,
                       tie_word_embeddings=a.tie_embeddings, scale_decoder_outputs=a.head_scale_input,
                       dropout_rate=a.dropout, decoder_start_token_id=token_ids.get("pad_token_id") or 0)
    elif hf_class not in ("LlamaForCausalLM", "MistralForCausalLM"):
        fields_ = zoo_config(a, name)
    else:  # LLaMA, Mistral
        fields_ = dict(model_type=name.lower(), vocab_size=a.vocab_size, hidden_size=a.width,
                       intermediate_size=a.ffn_hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                       num_key_value_heads=a.kv_heads or a.heads, head_dim=head_width,
                       max_position_embeddings=a.context_length, rms_norm_eps=a.norm_eps,
                       rope_parameters={"rope_type": "default", "rope_theta": a.rope_base},
                       attention_bias=a.attention_bias, mlp_bias=a.ffn_bias, tie_word_embeddings=a.tie_embeddings,
                       hidden_act="silu", attention_dropout=a.dropout)
        if name == "Mistral":
            fields_["sliding_window"] = a.window or None
    return {"architectures": [hf_class], **fields_, **token_ids, "dtype": "float32"}


def check_maps(arch: Architecture, hf_class: str, config: dict, tensors: dict[str, torch.Tensor]) -> None:
    """The family's importer reads `config` back; every setting must come back as it was."""
    family = FAMILIES[hf_class]
    read_back = Config(family.name, config)
    read_back.read |= NEVER_CHANGES_THE_FUNCTION | set(family.harmless)
    try:
        back = family.architecture(read_back, hf_class, tensors)
    except HFImportError as exc:
        raise HFExportError(f"{family.name}: {exc}") from None
    if read_back.unread():  # a field written here that the importer would reject: a bug in hf_config
        raise HFExportError(f"{family.name}: config field {read_back.unread()[0]!r} would not import again")
    ours, theirs = _resolved(arch), _resolved(back)
    for field in fields(Architecture):
        if field.name in IGNORED_FIELDS or getattr(ours, field.name) == getattr(theirs, field.name):
            continue
        if field.name == "activation" and ours.ffn == "ffn.swiglu":  # SwiGLU has no activation to choose
            continue
        raise HFExportError(f"{WHERE.get(field.name, field.name)}: {field.name} = {getattr(ours, field.name)!r}, "
                            f"but {family.name} has {getattr(theirs, field.name)!r} (the nearest Hugging Face "
                            f"family to this graph)")


def _resolved(arch: Architecture) -> Architecture:
    """Settings whose 0 means 'derived' spelled out, so equal models compare equal."""
    return arch.replace(kv_heads=arch.kv_heads or arch.heads, decoder_layers=arch.decoder_layers or arch.layers,
                        head_width=arch.head_width or arch.width // arch.heads,
                        activation="silu" if arch.ffn in ("ffn.swiglu", "ffn.moe") else arch.activation,
                        aux_weight=arch.aux_weight if arch.ffn == "ffn.moe" else 0.01,
                        scale_width=arch.scale_width or arch.head_width or arch.width // arch.heads,
                        output_bias=arch.attention_bias and arch.output_bias)


# ----- weights -----


def hf_tensors(arch: Architecture, hf_class: str, state: dict[str, torch.Tensor]
               ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Our state_dict under the family's checkpoint names (fp32), each shared table once, with the
    family's constant tables; and the names of our weights that have no place there."""
    sources, out = FAMILIES[hf_class].weights(arch), dict(FAMILIES[hf_class].constants(arch))
    unmapped = [name for name in state if name not in sources]
    for name, value in state.items():
        if name in unmapped:
            continue
        for theirs, part in zip(sources[name].names, sources[name].split(value.detach().float()), strict=True):
            if theirs in out and not torch.equal(out[theirs], part):
                raise HFExportError(f"{name!r} and another weight both become {theirs!r} but differ: untie them "
                                    "in the graph or tie them in the head")
            out[theirs] = part.contiguous().clone()
    return out, unmapped


# ----- the tokenizer -----

SPECIAL_ROLES = {  # special token -> the role transformers gives it
    "<|endoftext|>": ("bos_token", "eos_token"), "<s>": ("bos_token",), "</s>": ("eos_token",),
    "[BOS]": ("bos_token",), "[EOS]": ("eos_token",),
    "[PAD]": ("pad_token",), "<pad>": ("pad_token",), "[UNK]": ("unk_token",), "<unk>": ("unk_token",),
    "[MASK]": ("mask_token",), "<mask>": ("mask_token",), "[CLS]": ("cls_token",), "[SEP]": ("sep_token",),
}


def tokenizer_json(tokenizer: ProjectTokenizer) -> str:
    """The tokenizers-library JSON: a trained tokenizer's own, or for characters a WordLevel model over
    the alphabet that cuts text into single characters and joins them back as they were."""
    if not isinstance(tokenizer, CharTokenizer):
        return tokenizer.json_text
    vocabulary = {ch: i for i, ch in enumerate(tokenizer.alphabet)}
    # Without an unknown character a character outside the alphabet is an error, as in the app.
    built = Tokenizer(models.WordLevel(vocabulary, unk_token=tokenizer.unknown or "[UNK]"))
    built.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    built.decoder = decoders.Fuse()
    built.add_special_tokens(tokenizer.special_tokens)
    return built.to_str()


def special_tokens(tokenizer: ProjectTokenizer) -> dict[str, str]:
    roles = {}
    for token in tokenizer.special_tokens:
        for role in SPECIAL_ROLES.get(token, ()):
            roles.setdefault(role, token)
    if isinstance(tokenizer, CharTokenizer) and tokenizer.unknown is not None:
        roles.setdefault("unk_token", tokenizer.unknown)
    return roles


def write_tokenizer(folder: Path, tokenizer: ProjectTokenizer, context_length: int) -> dict[str, int]:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json; returns config.json's token ids.
    An ids-only tokenizer (a Hugging Face import without tokenizer files) has no text to write: nothing."""
    if tokenizer.kind == "ids":
        return {}
    text = tokenizer_json(tokenizer)
    (folder / "tokenizer.json").write_text(text, encoding="utf-8")
    roles = special_tokens(tokenizer)
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": context_length,
              "clean_up_tokenization_spaces": False, **roles}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(roles, indent=2) + "\n", encoding="utf-8")
    built = Tokenizer.from_str(text)
    return {f"{role[:-6]}_token_id": built.token_to_id(token) for role, token in roles.items()
            if role in ("bos_token", "eos_token", "pad_token", "sep_token") and built.token_to_id(token) is not None}


# ----- the folder -----


def write_hf(project, compiled: CompiledModel, folder: str | Path, run_dir: Path | None = None) -> str:
    """Write the Hugging Face folder for a project's model (its weights in `compiled`); returns the
    transformers class that loads it."""
    from workbench.core.export.model_card import write_model_card  # the card reads runs; kept apart

    folder = Path(folder)
    state = compiled.root.state_dict()
    arch = architecture_of(project.graph, state)
    hf_class = family_of(arch)
    tensors, unmapped = hf_tensors(arch, hf_class, state)
    config = hf_config(arch, hf_class, {})
    check_maps(arch, hf_class, config, tensors)  # a setting that does not map explains a weight that does not
    if unmapped:
        raise HFExportError(f"weight {unmapped[0]!r} has no place in {FAMILIES[hf_class].name}'s checkpoint "
                            "(a block the family does not have?)")
    folder.mkdir(parents=True, exist_ok=True)
    # Unknown ids are written as null: the families' defaults (GPT-2's 50256) would point outside a small vocabulary.
    token_ids = {"bos_token_id": None, "eos_token_id": None, "pad_token_id": None,
                 **write_tokenizer(folder, project.tokenizer, arch.context_length)}
    config = hf_config(arch, hf_class, token_ids)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    give_default_mode(folder / "model.safetensors")
    write_model_card(folder, project, arch, hf_class, sum(p.numel() for p in compiled.root.parameters()), run_dir)
    return hf_class


def check_hf(compiled: CompiledModel, folder: str | Path) -> dict[int, float]:
    """The folder imported again (core.export.hf_import) must give the app's logits: the largest
    |difference| per sequence length. transformers' own reading is checked by the tests."""
    graph, weights, _ = import_hf(folder)
    rebuilt = compile_graph(graph)
    rebuilt.root.load_state_dict(weights)
    diffs = {}
    with portable_attention(compiled.root, rebuilt.root), torch.no_grad():
        for length in parity_lengths(compiled):
            ours = {name: input_tensor(compiled, name, 2, length) for name in compiled.input_names}
            by_kind = {input_kind(compiled, name): value for name, value in ours.items()}
            theirs = [ours.get(name, by_kind.get(input_kind(rebuilt, name))) for name in rebuilt.input_names]
            theirs = [torch.ones(2, length, dtype=torch.long) if value is None else value for value in theirs]
            diffs[length] = (rebuilt.module(*theirs) - compiled.module(*ours.values())).abs().max().item()
    raise_if_apart(diffs, TOLERANCE, "the folder imported again computes other logits")
    return diffs


def write_and_check(source, path: Path, targets: dict) -> dict[int, float]:
    write_hf(source.project, source.compiled, path, source.run_dir)
    return check_hf(source.compiled, path)
