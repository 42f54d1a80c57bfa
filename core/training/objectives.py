"""Training objectives: what the model is asked to predict, as the batches it is shown (the built-in
six, causal_lm to classification, are listed in core/training/builtin_objectives.py).

Objectives are registered like blocks (issue #17): a subclass of `Objective` declares its id, the
graph inputs it needs, its own settings (a `Settings` dataclass of core.settings params, stored flat
in TrainConfig), the metrics it reports and how it builds batches (`create`), and `@register` lists it;
nothing else in the code names it. The built-in ones are in core/training/builtin_objectives.py; a
module of new ones is named once in OBJECTIVE_MODULES at the end of this file.

An objective turns a batch index and a split ("train" or "val") into tensors keyed by input kind:
tokens, decoder_tokens, targets, padding_mask, decoder_padding_mask (the decoder's own padding), and
token_types. `input_kinds` names the kind of each argument of a compiled training forward, so the
trainer passes a batch to any graph. Batch k of a split comes from generators seeded by (seed, k)
alone, as core.data.batching.BlockSampler's do, so a resumed run sees the batches an uninterrupted
one would. Sequences of different lengths are padded with [PAD] on the right, their padding mask is
0 there, and a target of -1 does not count.

Special tokens come from the tokenizer (core.data.tokenizers `special_ids`): a role is filled by the
first of its usual names the tokenizer has, e.g. [MASK] or <mask>; T5's sentinels are <extra_id_0>,
<extra_id_1>, ... A char tokenizer declares them in its spec and gives them the ids after its alphabet.
"""

import dataclasses
import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import networkx as nx
import torch

from workbench.core.compiler import CompiledModel
from workbench.core.data.batching import BlockSampler
from workbench.core.data.mixture import MixtureSampler
from workbench.core.data.pipeline_config import DataError
from workbench.core.graph import Graph
from workbench.core.settings import Setting, settings_of

SPLITS = ("train", "val")

ROLES = {  # special-token role -> the names it goes by, in order of preference
    "pad": ("[PAD]", "<pad>"),
    "bos": ("[BOS]", "[CLS]", "<s>"),  # starts a decoder's input; BERT's [CLS] in front of an encoder's
    "eos": ("[EOS]", "[SEP]", "</s>"),
    "mask": ("[MASK]", "<mask>"),
}
KIND_OF_BLOCK = {"input.tokens": "tokens", "input.decoder_tokens": "decoder_tokens", "input.targets": "targets",
                 "input.padding_mask": "padding_mask", "input.token_types": "token_types"}
REQUIRED_KINDS = {  # the forward cannot run without these
    "tokens": "token input (input.tokens)",
    "decoder_tokens": "decoder token input (input.decoder_tokens)",
    "targets": "target input (input.targets)",
}


class ObjectiveError(ValueError):
    pass


# ----- special tokens -----


def check_special_tokens(tokenizer, objective: str) -> None:
    """ObjectiveError naming the first special token `objective` needs and `tokenizer` lacks, so the
    Train button says so at once rather than the trainer after loading the data."""
    specials = SpecialTokens(tokenizer)
    for role in get_objective(objective).special_roles:
        specials.need(role, objective)


class SpecialTokens:
    """The tokenizer's special tokens by role, and the ids that are not special."""

    def __init__(self, tokenizer):
        self.ids = tokenizer.special_ids()  # token text -> id
        self.all = torch.tensor(sorted(self.ids.values()), dtype=torch.long)  # never masked or corrupted
        # Ordinary ids: what BERT's random replacement draws from.
        self.ordinary = torch.tensor([i for i in range(tokenizer.vocab_size) if i not in self.ids.values()])

    def find(self, role: str) -> int | None:
        return next((self.ids[name] for name in ROLES[role] if name in self.ids), None)

    def need(self, role: str, objective: str) -> int:
        found = self.find(role)
        if found is None:
            raise ObjectiveError(f"the {objective} objective needs a {role} token: add one of "
                                 f"{', '.join(ROLES[role])} to the tokenizer's special_tokens")
        return found

    def sentinels(self) -> list[int]:
        """T5's sentinel ids in order, as far as <extra_id_0>, <extra_id_1>, ... run unbroken."""
        found = []
        while f"<extra_id_{len(found)}>" in self.ids:
            found.append(self.ids[f"<extra_id_{len(found)}>"])
        return found


# ----- graph inputs -----


def input_kinds(graph: Graph, names: list[str]) -> list[str]:
    """The kind of each forward argument. A padding mask is the decoder's when everything it feeds
    lies downstream of the decoder tokens (an encoder's mask also feeds the encoder itself)."""
    g = graph.nx()
    decoder_side = set().union(*(nx.descendants(g, n.id) for n in graph.nodes_of_type("input.decoder_tokens")))
    kinds = []
    for name in names:
        kind = KIND_OF_BLOCK[graph.nodes[name].type_id]
        if kind == "padding_mask" and decoder_side and set(g.successors(name)) <= decoder_side:
            kind = "decoder_padding_mask"
        kinds.append(kind)
    return kinds


def model_arguments(batch: dict[str, torch.Tensor], kinds: list[str]) -> list[torch.Tensor | None]:
    """The forward's arguments in order; a kind the batch lacks is None, and trailing Nones are left
    off so a decoder-only model is called as model(tokens, targets)."""
    arguments = [batch.get(kind) for kind in kinds]
    while arguments and arguments[-1] is None:
        arguments.pop()
    return arguments


def _generator(seed: int, index: int, stream: int = 0) -> torch.Generator:
    """Batch `index`'s random numbers; `stream` separates them from BlockSampler's window starts."""
    return torch.Generator().manual_seed((seed * 1_000_003 + index) * 4 + stream)


def _pad(rows: list[list[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids as (B, width) ids padded on the right, and the padding mask: 1 real, 0 padding."""
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return tokens, mask


def _prepend(column: int, tokens: torch.Tensor) -> torch.Tensor:
    """`column` in front of every row, the last position dropped: (B, T) stays (B, T)."""
    return torch.cat([torch.full_like(tokens[:, :1], column), tokens[:, :-1]], dim=1)


# ----- the registry -----


@dataclass(frozen=True)
class NoSettings:
    pass


@dataclass
class Setup:
    """What an objective is built from: the project, its training settings and the compiled graph.
    Corpus samplers are made only when an objective asks for them (task objectives never read text)."""

    project: Any  # core.project.Project
    config: Any  # core.training.config.TrainConfig
    compiled: CompiledModel
    settings: Any  # the objective's own Settings instance, read from config

    @property
    def context(self) -> int:
        return self.compiled.ctx.context_length

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def tokenizer(self):
        return self.project.tokenizer

    @cached_property
    def specials(self) -> "SpecialTokens":
        return SpecialTokens(self.project.tokenizer)

    @cached_property
    def samplers(self) -> dict[str, BlockSampler]:
        """Blocks of the corpus per split, each seeded apart so train and val never share a draw."""
        train_tokens, val_tokens = self.project.token_splits()
        samplers = {split: BlockSampler(tokens, self.context, self.batch_size, self.seed + offset,
                                        self.project.data.packing)
                    for offset, (split, tokens) in enumerate(zip(SPLITS, (train_tokens, val_tokens), strict=True))}
        train_streams, val_streams = self.project.source_streams()
        if self.project.data.weights:  # a mixture: each source's share of training tokens follows its weight
            try:
                samplers["train"] = MixtureSampler(train_streams, self.project.data.weights, self.context,
                                                   self.batch_size, self.seed)
            except DataError as exc:
                raise ObjectiveError(str(exc)) from None
        if len(val_streams) > 1:  # "val/NAME": the validation documents of one source, for loss per source
            for name, stream in val_streams.items():
                if stream.length >= self.context + 2:
                    samplers[f"val/{name}"] = MixtureSampler({name: stream}, {name: 1.0}, self.context,
                                                             self.batch_size, self.seed + len(SPLITS))
        return samplers

    def classes(self) -> int | None:
        return _classes(self.compiled)


class Objective(ABC):
    """One training objective. Subclass, fill the ClassVars, implement `create` and `batch`, and
    decorate with @register; its settings then appear in TrainConfig, the training form and
    `train --set` by themselves."""

    id: ClassVar[str]  # stored in TrainConfig.objective and run.json
    title: ClassVar[str]  # one line for the form's tooltip
    provides: ClassVar[tuple[str, ...]]  # the input kinds its batches hold
    needs: ClassVar[tuple[str, ...]] = ()  # input kinds the graph must have beyond the required ones
    special_roles: ClassVar[tuple[str, ...]] = ()  # special tokens it inserts (checked before a run starts)
    predicts: ClassVar[str] = "tokens"  # "tokens" or "classes": which head the graph must end in
    generates_text: ClassVar[bool] = False  # samples of generated text show progress; it has prompt()
    metrics: ClassVar[tuple[str, ...]] = ("loss", "val_loss")  # metrics.jsonl columns it reports
    eval_task: ClassVar[str] = ""  # the leaderboard task it prepares a model for ("" none)
    Settings: ClassVar[type] = NoSettings  # its own settings, stored flat in TrainConfig
    tokens_per_batch: int  # tokens read per training batch, for the tokens/s figure

    @classmethod
    @abstractmethod
    def create(cls, setup: Setup) -> "Objective":
        """The objective set up for one run; ObjectiveError says what the graph or tokenizer lacks."""

    @abstractmethod
    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        """Batch `index` of `split` as tensors keyed by input kind, from (seed, index) alone."""

    @classmethod
    def eval_task_for(cls, settings) -> str:
        """The leaderboard task to offer first for a model trained with these settings."""
        return cls.eval_task

    @classmethod
    def settle(cls, values: dict, changed: str) -> dict:
        """Settings that follow from an edit of `changed` in a form (flat values in, flat values out),
        so no single edit is refused for a partner it needs. Default: none."""
        return values

    @classmethod
    def check_settings(cls, settings) -> str:
        """Rules between its settings that ranges cannot say; the message, or "" when they hold."""
        return ""


_REGISTRY: dict[str, type[Objective]] = {}


def register(cls: type[Objective]) -> type[Objective]:
    if cls.id in _REGISTRY and _REGISTRY[cls.id] is not cls:
        raise ValueError(f"objective {cls.id!r} registered twice")
    _REGISTRY[cls.id] = cls
    return cls


def unregister(objective_id: str) -> None:
    """Forget an objective (a test's toy one), so it does not linger in every later form."""
    _REGISTRY.pop(objective_id, None)


def objective_ids() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def all_objectives() -> list[type[Objective]]:
    return list(_REGISTRY.values())


def get_objective(objective_id: str) -> type[Objective]:
    try:
        return _REGISTRY[objective_id]
    except KeyError:
        raise ObjectiveError(f"unknown objective {objective_id!r}; choose one of {', '.join(_REGISTRY)}") from None


def objective_settings() -> dict[str, Setting]:
    """Every registered objective's settings by name (objectives sharing a name share the setting:
    span_corruption and denoising both read noise_density), the first declaration's default winning."""
    found: dict[str, Setting] = {}
    for cls in _REGISTRY.values():
        for setting in settings_of(cls.Settings):
            found.setdefault(setting.name, setting)
    return found


def users_of(name: str) -> list[str]:
    """The objectives that declare setting `name`."""
    return [cls.id for cls in _REGISTRY.values() if name in {s.name for s in settings_of(cls.Settings)}]


def settings_for(cls: type[Objective], config) -> Any:
    """The objective's Settings instance, read from the flat TrainConfig."""
    return cls.Settings(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls.Settings)})


# ----- choosing one -----


def make_objective(project, config, compiled: CompiledModel) -> "Objective":
    """The objective config.objective names, set up for this project's graph, tokenizer and data;
    ObjectiveError says what the graph or the tokenizer lacks for it."""
    cls = get_objective(config.objective)
    kinds = input_kinds(project.graph, compiled.training_input_names)
    _check_graph(cls, kinds, compiled)
    return cls.create(Setup(project, config, compiled, settings_for(cls, config)))


def _classes(compiled: CompiledModel) -> int | None:
    """C of the graph's class scores, or None when it predicts tokens."""
    found = [t for (node, _), t in compiled.report.types.items() if "/" not in node and t.kind == "class_logits"]
    return found[0].dims[-1] if found else None


def _check_graph(cls: type[Objective], kinds: list[str], compiled: CompiledModel) -> None:
    name = cls.id
    for kind in cls.needs:
        if kind not in kinds:
            raise ObjectiveError(f"the {name} objective needs a {REQUIRED_KINDS[kind]}: it trains "
                                 f"encoder-decoder graphs such as the BART and T5 presets")
    for kind in REQUIRED_KINDS:
        if kind in kinds and kind not in cls.provides:
            serving = [other.id for other in _REGISTRY.values() if kind in other.provides]
            raise ObjectiveError(f"the {name} objective does not feed the graph's {REQUIRED_KINDS[kind]}; "
                                 f"choose one of {', '.join(serving)}")
    classifies = _classes(compiled) is not None
    if classifies and cls.predicts != "classes":
        raise ObjectiveError(f"the {name} objective predicts tokens, but the graph ends in a classification head "
                             f"(head.classify); choose the classification objective")
    if cls.predicts == "classes" and not classifies:
        raise ObjectiveError(f"the {name} objective needs a classification head (head.classify) "
                             "with a classification loss (loss.classification); this graph predicts tokens")


# Modules under core/training/ whose objectives register themselves when imported: wherever this
# module is imported the registry is full. A new objective is a new module and its name here.
OBJECTIVE_MODULES = ("builtin_objectives",)
for _module in OBJECTIVE_MODULES:
    importlib.import_module(f"workbench.core.training.{_module}")
from workbench.core.training.builtin_objectives import (  # noqa: E402,F401  (`from objectives import Seq2Seq`)
    CausalLM, Classification, Denoising, MaskedLM, Seq2Seq, SpanCorruption)
