"""Hugging Face weight import: a folder written by `save_pretrained` becomes a project of our blocks.

    python main.py import-hf HF_DIR --out PROJECT.json

reads HF_DIR/config.json and HF_DIR/model.safetensors (or its shards) with json and safetensors
only; transformers is not needed. It maps the config onto a core.architectures.Architecture
(GPT-2, BERT, RoFormer, BART, T5, LLaMA, Mistral, see hf_families; Qwen2, Qwen3,
Gemma 2, Phi-3, GPT-NeoX, OPT, Falcon, Mixtral, see hf_zoo), builds the graph, renames every checkpoint
tensor into our state_dict and writes PROJECT.json with PROJECT.weights.safetensors beside it, which
train, info and generation load. A config field or a tensor we do not model is an error naming it,
never a silently different model. Dropout rates are training settings and are not imported.
"""

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_model

from workbench.core.architectures import Architecture, build_graph
from workbench.core.compiler import CompileError, compile_graph
from workbench.core.data.ids_tokenizer import IdsTokenizer
from workbench.core.data.tokenizers import CharTokenizer, TokenizerError, TrainedTokenizer
from workbench.core.export import hf_zoo
from workbench.core.export.hf_families import DEFAULT_CLASS, FAMILIES, Config, HFImportError, matches_any
from workbench.core.graph import Graph
from workbench.core.project import ASSETS, Project, ProjectError
from workbench.core.training.config import TrainConfig

__all__ = ["HFImportError", "import_hf", "import_hf_project"]

# Config fields that never change what the model computes: names, token ids, initialisation,
# dropout (training only), caching and generation defaults.
NEVER_CHANGES_THE_FUNCTION = {
    "architectures", "model_type", "transformers_version", "dtype", "torch_dtype", "_name_or_path",
    "bos_token_id", "eos_token_id", "pad_token_id", "sep_token_id", "cls_token_id", "unk_token_id", "mask_token_id",
    "decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id", "initializer_range", "init_std",
    "initializer_factor", "use_cache", "output_past", "id2label", "label2id", "num_labels", "problem_type",
    "tokenizer_class", "task_specific_params", "output_attentions", "output_hidden_states", "return_dict",
    "prefix", "max_length", "min_length", "num_beams", "early_stopping", "no_repeat_ngram_size",
    "length_penalty", "bad_words_ids", "gradient_checkpointing", "finetuning_task", "is_encoder_decoder",
    "chunk_size_feed_forward", "attn_pdrop", "embd_pdrop", "resid_pdrop", "attention_probs_dropout_prob",
    "hidden_dropout_prob", "classifier_dropout", "classif_dropout", "dropout", "attention_dropout",
    "activation_dropout", "dropout_rate", "encoder_layerdrop", "decoder_layerdrop",
}


def read_hf_folder(folder: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json and every checkpoint tensor, from one safetensors file or its shards."""
    if not folder.is_dir():
        raise HFImportError(f"{folder}: not a folder")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HFImportError(f"{folder}: no config.json (is this a folder written by save_pretrained?)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HFImportError(f"{folder / 'config.json'}: not valid JSON ({exc})") from None
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise HFImportError(f"{folder}: no model.safetensors (found: {found}); only safetensors weights are read, "
                            "save with save_pretrained(..., safe_serialization=True)")
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        try:
            tensors.update(load_file(folder / name))
        except (OSError, ValueError) as exc:
            raise HFImportError(f"{folder / name}: cannot be read as safetensors ({exc})") from None
    return config, tensors


def import_hf(folder: str | Path) -> tuple[Graph, dict[str, torch.Tensor], Architecture]:
    """The graph for a Hugging Face model folder and its weights under our state_dict names (fp32)."""
    folder = Path(folder)
    raw, tensors = read_hf_folder(folder)
    families, default_class = {**FAMILIES, **hf_zoo.FAMILIES}, {**DEFAULT_CLASS, **hf_zoo.DEFAULT_CLASS}
    classes = raw.get("architectures") or [default_class.get(raw.get("model_type"), repr(raw.get("model_type")))]
    hf_class = classes[0]
    if hf_class not in families:
        raise HFImportError(f"architecture {hf_class!r} is not supported (supported: {', '.join(families)})")
    family = families[hf_class]
    config = Config(family.name, raw)
    config.read |= NEVER_CHANGES_THE_FUNCTION | set(family.harmless)
    arch = family.architecture(config, hf_class, tensors)
    if config.unread():
        name = config.unread()[0]
        raise HFImportError(f"{family.name}: config field {name!r} = {raw[name]!r} is not modelled")
    arch = arch.replace(name=f"{arch.name} ({folder.resolve().name})")
    try:
        graph = build_graph(arch)
        compiled = compile_graph(graph)
    except (ValueError, CompileError) as exc:  # a size outside what a block accepts
        raise HFImportError(f"{family.name}: the config does not fit our blocks: {exc}") from None
    return graph, _rename(family, arch, tensors, compiled.root.state_dict()), arch


def _rename(family, arch: Architecture, tensors: dict, ours: dict) -> dict[str, torch.Tensor]:
    sources = family.weights(arch)
    weights, used = {}, set()
    for name, target in ours.items():
        source = sources[name]  # a KeyError here is a bug in hf_families, not in the folder
        names, combine = source.names, source.combine
        missing = [n for n in names if n not in tensors]
        if missing:
            raise HFImportError(f"{family.name}: model.safetensors has no tensor {missing[0]!r} (needed for {name!r})")
        value = combine([tensors[n] for n in names])
        if value.shape != target.shape:
            raise HFImportError(f"{family.name}: {' + '.join(names)} has shape {tuple(value.shape)} but the config "
                                f"implies {tuple(target.shape)} for {name!r}")
        weights[name] = value.to(target.dtype).contiguous()
        used.update(names)
    ignored = family.ignored(arch)
    leftover = sorted(n for n in tensors if n not in used and not matches_any(n, ignored))
    if leftover:
        raise HFImportError(f"{family.name}: model.safetensors holds {leftover[0]!r}, which this model does not have "
                            f"(a config field we do not model?)")
    return weights


def import_hf_project(folder: str | Path, out: str | Path, corpus: str | Path | None = None,
                      tokenizer: str | Path | None = None) -> Project:
    """Write OUT (a project) and OUT's stem + .weights.safetensors beside it; returns the saved project.
    TOKENIZER: where the model's tokenizer.json is when the model folder has none (see _tokenizer)."""
    folder, out = Path(folder), Path(out).resolve()
    graph, weights, arch = import_hf(folder)
    corpus = Path(corpus).resolve() if corpus else ASSETS / "corpus" / "shakespeare.txt"
    compiled = compile_graph(graph)
    compiled.root.load_state_dict(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights_path = out.with_name(f"{out.stem}.weights.safetensors")
    save_model(compiled.root, str(weights_path))  # tied tensors are stored once
    raw = {
        "format": 1,
        "name": arch.name,
        "graph": graph.to_dict(),
        "data": {"corpus": os.path.relpath(corpus, out.parent)},
        "tokenizer": _tokenizer(folder, arch.vocab_size, Path(tokenizer) if tokenizer else None).to_dict(),
        "train": TrainConfig().to_dict(),
        "weights": weights_path.name,
    }
    try:
        project = Project.from_dict(raw, out)
    except ProjectError as exc:
        raise HFImportError(f"the imported project does not load: {exc}") from None
    project.save(out)
    return project


def _tokenizer(folder: Path, vocab_size: int, tokenizer: Path | None):
    """The model's own tokenizer.json: from TOKENIZER (a folder or the file) when given, else from the
    model folder. Without one, an ids-only tokenizer that says so (issue #23: a made-up character
    alphabet showed boxes and pretended the ids were characters)."""
    candidates = [tokenizer / "tokenizer.json" if tokenizer.is_dir() else tokenizer] if tokenizer else []
    saved = next((p for p in [*candidates, folder / "tokenizer.json"] if p.is_file()), None)
    if tokenizer is not None and saved != candidates[0]:
        raise HFImportError(f"--tokenizer {tokenizer}: no tokenizer.json there (a folder written by the "
                            "tokenizer's save_pretrained, or the tokenizer.json file itself)")
    if saved is None:
        return IdsTokenizer(vocab_size, f"{folder.resolve().name} has no tokenizer.json")
    text = saved.read_text(encoding="utf-8")
    model = json.loads(text).get("model", {})
    if model.get("type") == "WordLevel":  # one token per character, as hf_export writes a char tokenizer
        return _char_tokenizer(saved, json.loads(text))
    byte_level = "ByteLevel" in json.dumps(json.loads(text).get("pre_tokenizer"))
    kind = {"BPE": "bytelevel-bpe" if byte_level else "bpe", "WordPiece": "wordpiece",
            "Unigram": "unigram"}.get(model.get("type"))
    if kind is None:
        raise HFImportError(f"{saved}: a {model.get('type')!r} tokenizer is not supported")
    try:
        return TrainedTokenizer(kind, text)
    except TokenizerError as exc:
        raise HFImportError(f"{saved}: {exc}") from None


def _char_tokenizer(saved: Path, spec: dict) -> CharTokenizer:
    """A WordLevel tokenizer whose words are single characters, ids 0.. in order, special tokens after."""
    special = [t["content"] for t in sorted(spec.get("added_tokens", []), key=lambda t: t["id"]) if t.get("special")]
    vocabulary = sorted(((i, token) for token, i in spec["model"].get("vocab", {}).items() if token not in special))
    alphabet = "".join(token for _, token in vocabulary)
    if [i for i, _ in vocabulary] != list(range(len(vocabulary))) or len(alphabet) != len(vocabulary):
        raise HFImportError(f"{saved}: a WordLevel tokenizer is read only when its words are single characters "
                            "with ids 0, 1, 2, ... (as the app writes a character tokenizer)")
    unknown = spec["model"].get("unk_token")
    try:
        return CharTokenizer(alphabet, unknown if unknown in alphabet else None, special)
    except TokenizerError as exc:
        raise HFImportError(f"{saved}: {exc}") from None
