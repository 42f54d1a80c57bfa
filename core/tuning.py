"""Fine-tuning settings per node, and how they change a compiled model.

A node's `Tuning` says whether its weights train and which parameter-efficient additions it gets:
LoRA on its linear projections, a learned key/value prefix for self-attention. These are settings,
not dataflow: they live on the node (saved in its JSON only when not the default) and are applied
after the model is built and initialised, so the model's weight names stay those of the base model
and a base checkpoint loads unchanged. Prompt tuning and bottleneck adapters are dataflow blocks
(core/blocks/peft.py): they change what flows.

    apply_tuning      freeze, then add LoRA and prefixes (compile_graph calls it)
    merge_lora        fold LoRA into the base weights, for export
    parameter_counts  trainable and total parameters
    graph edits       freeze all but the head, unfreeze, add or remove LoRA, add prompt tuning (the Fine-tune menu),
                      add bottleneck adapters
"""

import copy
import dataclasses
import re
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from workbench.core.blocks.peft import CATEGORY as PEFT_CATEGORY  # importing it registers the PEFT blocks
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.nn.efficient_attention import ProjectedAttention
from workbench.core.nn.peft import LoRALinear, PrefixSelfAttention
from workbench.core.settings import SettingError, check_instance, param, renamed, settings_of
from workbench.core.settings_versions import stamped, upgrade

_TARGET = re.compile(r"^\w+(\.\w+)*$", re.ASCII)  # a linear's qualified name: "fc", "pooler.0"
MAX_RANK = 1024
MAX_PREFIX = 1024
# Blocks a "freeze all but the head" leaves alone: they have no weights, are the head, or exist to train.
_NOT_FROZEN_BY_DEFAULT = ("Input", "Operation", "Head", "Loss", "Group", PEFT_CATEGORY)


class TuningError(ValueError):
    """A tuning setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class Tuning:
    """Declared with core.settings: the inspector's Fine-tuning rows are generated from these fields."""

    version: ClassVar[int] = 1  # of its JSON shape; older files are upgraded by `migrations` (core/settings_versions.py)
    migrations: ClassVar[dict] = {}  # version N: a function from N's dict to N + 1's
    frozen: bool = param(False, label="Frozen", help="keep this node's weights as they are while training (a "
                         "group: every block inside)")
    lora_rank: int = param(0, min=0, max=MAX_RANK, label="LoRA rank", help="LoRA: R of the low-rank update B·A "
                           "added to each target projection; 0 means none (Hu et al. 2021). Its weights train even "
                           "when the block is frozen")
    lora_alpha: float = param(16.0, above=0, max=10_000, label="LoRA alpha", help="the update is scaled by alpha / "
                              "R, so changing R needs no new learning rate")
    lora_dropout: float = param(0.0, min=0, max=0.9, label="LoRA dropout", help="dropout on the LoRA branch's "
                                "input while training")
    lora_targets: tuple[str, ...] = param(("q", "v"), label="LoRA targets", help="projections that get LoRA, "
                                          "separated by commas: q, k, v, proj of attention, or a linear's name")
    prefix_length: int = param(0, min=0, max=MAX_PREFIX, label="Prefix length", help="prefix tuning: P learned "
                               "keys and values every query of a self-attention sees; 0 means none (Li & Liang "
                               "2021)")

    def __post_init__(self):
        try:
            check_instance(self, "")
        except SettingError as exc:
            raise TuningError(str(exc)) from None
        _check_targets(self.lora_targets)

    @property
    def has_lora(self) -> bool:
        return self.lora_rank > 0

    def to_dict(self) -> dict:
        """Only the settings that differ from the defaults: an untuned node writes nothing."""
        default = Tuning()
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}
        if "lora_targets" in data:
            data["lora_targets"] = list(self.lora_targets)
        return stamped(Tuning, data)

    @classmethod
    def from_dict(cls, raw) -> "Tuning":
        if not isinstance(raw, dict):
            raise TuningError(f"'tuning' must be an object, got {raw!r}")
        raw = upgrade(cls, raw, "tuning", TuningError)  # files of older versions still load
        raw = renamed(settings_of(cls), raw)  # older names of a setting still load
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise TuningError(f"tuning has no setting {unknown[0]!r} (it has: {', '.join(fields)})")
        return cls(**raw)  # __post_init__ checks (and widens) every value against its declaration


def _check_targets(targets: tuple) -> None:
    """What a range cannot say: the target names are projection names, each once."""
    if not targets or not all(isinstance(n, str) and _TARGET.match(n) for n in targets):
        raise TuningError(f"lora_targets must be a non-empty list of projection names like 'q', got {targets!r}")
    if len(set(targets)) != len(targets):
        raise TuningError(f"lora_targets names a projection twice: {list(targets)}")


def is_peft_block(node) -> bool:
    return getattr(getattr(node, "block", None), "category", "") == PEFT_CATEGORY


def check_tuning_for(node, tuning: Tuning) -> None:
    """What a node may be given, checked before the edit (compiling checks the LoRA target names)."""
    if node.type_id == "group":
        if tuning.has_lora or tuning.prefix_length:
            raise TuningError(f"{node.label()}: a group can be frozen; LoRA and prefixes go on the blocks inside")
        return
    if is_peft_block(node) and tuning.frozen:
        raise TuningError(f"{node.label()} exists to be trained; remove it rather than freeze it")
    if tuning.prefix_length and not node.block.has("prefix_tuning"):
        raise TuningError(f"{node.label()}: prefix tuning adds keys and values to self-attention blocks only")


# ----- applying to a built model -----


def lora_targets(module: nn.Module) -> dict[str, tuple[str, slice]]:
    """The projections of `module` LoRA can target: name -> (linear's qualified name, its output rows).
    Attention's fused projections are split into q, k and v; any other linear goes by its own name."""
    targets = {name: (name, slice(0, sub.out_features)) for name, sub in module.named_modules()
               if isinstance(sub, nn.Linear) and name}
    if isinstance(module, (SelfAttention, ProjectedAttention)):
        q_rows = module.heads * module.head_width
        kv_rows = (module.qkv.out_features - q_rows) // 2
        del targets["qkv"]
        targets = {"q": ("qkv", slice(0, q_rows)), "k": ("qkv", slice(q_rows, q_rows + kv_rows)),
                   "v": ("qkv", slice(q_rows + kv_rows, q_rows + 2 * kv_rows))} | targets
    elif isinstance(module, CrossAttention):
        half = module.kv.out_features // 2
        del targets["kv"], targets["q"]
        targets = {"q": ("q", slice(0, module.q.out_features)), "k": ("kv", slice(0, half)),
                   "v": ("kv", slice(half, 2 * half))} | targets
    return targets


def apply_tuning(graph, root: nn.Module, instances: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Freeze, then add LoRA and prefixes, on a built and initialised model; returns (node path, message)
    problems. Freezing goes first so what LoRA and prefixes add stays trainable. A weight shared by
    several nodes (a tied LM head) is frozen when any of them is. A frozen group freezes every block
    inside except fine-tuning blocks, which exist to train."""
    problems, frozen_groups = [], []
    for path, node in graph.walk():
        tuning = node.tuning
        if node.type_id == "group":
            if tuning.frozen:
                frozen_groups.append(path + "/")
            continue
        modules = [root.get_submodule(name) for name in instances.get(path, [])]
        in_frozen_group = any(path.startswith(group) for group in frozen_groups) and not is_peft_block(node)
        if tuning.frozen or in_frozen_group:
            for module in modules:
                module.requires_grad_(False)
        try:
            for module in modules:
                tune_module(module, tuning)
        except TuningError as exc:
            problems.append((path, f"{node.label()}: {exc}"))
    return problems


def tune_module(module: nn.Module, tuning) -> None:
    """LoRA, then a prefix, on one built module of a node (freezing is the caller's); TuningError when
    the node's block cannot take them."""
    if tuning.has_lora:
        wrap_lora(module, tuning)
    if tuning.prefix_length:
        if type(module) is not SelfAttention:
            raise TuningError("prefix tuning adds keys and values to self-attention blocks only")
        PrefixSelfAttention.convert(module, tuning.prefix_length)


def wrap_lora(module: nn.Module, tuning: Tuning) -> None:
    """Replace each targeted linear of `module` by a LoRALinear over the same weights."""
    available = lora_targets(module)
    missing = [name for name in tuning.lora_targets if name not in available]
    if missing:
        raise TuningError(f"no projection {missing[0]!r} for LoRA (it has: {', '.join(available) or 'none'})")
    by_linear: dict[str, dict[str, slice]] = {}
    for name in tuning.lora_targets:
        linear, rows = available[name]
        by_linear.setdefault(linear, {})["" if linear == name else name] = rows  # '' is the whole layer
    for linear, parts in by_linear.items():
        wrapped = LoRALinear(module.get_submodule(linear), parts, rank=tuning.lora_rank, alpha=tuning.lora_alpha,
                             dropout=tuning.lora_dropout)
        _replace(module, linear, wrapped)


def merge_lora(root: nn.Module) -> int:
    """Fold every LoRA update into its base weight, in place, leaving plain nn.Linear layers whose
    weights have the base names; returns how many layers were merged."""
    found = [(name, module) for name, module in root.named_modules() if isinstance(module, LoRALinear)]
    for name, module in found:
        _replace(root, name, module.merged())
    return len(found)


def _replace(owner: nn.Module, qualname: str, module: nn.Module) -> None:
    parent, _, leaf = qualname.rpartition(".")
    setattr(owner.get_submodule(parent) if parent else owner, leaf, module)


def parameter_counts(module: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters; a tied weight counts once."""
    params = list(module.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def added_parameter_names(root: nn.Module) -> set[str]:
    """State-dict names that tuning added (LoRA and prefix weights): a base checkpoint does not hold them."""
    return {name for name, _ in root.named_parameters() if ".lora_" in name or name.startswith("lora_")
            or name.rsplit(".", 1)[-1] in ("prefix_keys", "prefix_values")}


def for_export(graph, compiled):
    """A copy of the graph without LoRA settings and a copy of the model with LoRA merged into the base
    weights: exported files hold one plain weight per projection and need nothing of LoRA."""
    from workbench.core.graph_io import graph_from_dict  # core.graph imports this module: imported when used

    plain = graph_from_dict(graph.to_dict())
    for path, node in plain.walk():
        if node.tuning.has_lora:
            node.tuning = dataclasses.replace(node.tuning, lora_rank=0)
    merged = copy.deepcopy(compiled)
    merge_lora(merged.root)
    return plain, merged


# ----- whole-graph edits (the Fine-tune menu; headless scripts call them the same way) -----
# Each is one undo step on the graph's history.


def freeze_all_but_head(graph) -> None:
    """Freeze every top-level block and group with weights except heads (and fine-tuning blocks):
    the usual start of fine-tuning a classifier or a linear probe."""
    with graph.history.macro("freeze all but the head"):
        for node in list(graph.nodes.values()):
            if node.type_id == "group" or node.block.category not in _NOT_FROZEN_BY_DEFAULT:
                _set(graph, node, frozen=True)


def unfreeze_all(graph) -> None:
    with graph.history.macro("unfreeze all"):
        for path, node in list(graph.walk()):
            if node.tuning.frozen:
                _set(graph.scope_of(path), node, frozen=False)


def attention_paths(graph) -> list[str]:
    """Node paths of the attention blocks LoRA's q/k/v targets apply to."""
    return [path for path, node in graph.walk() if node.type_id != "group"
            and node.block.category in ("Attention", "Efficient attention")]


def add_lora(graph, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0, targets=("q", "v"),
             freeze_base: bool = True) -> int:
    """LoRA on the given projections of every attention block, and (freeze_base) the rest of the
    model frozen except its head, as in Hu et al. 2021; returns how many blocks got LoRA."""
    paths = attention_paths(graph)
    if not paths:
        raise TuningError("the graph has no attention blocks to add LoRA to")
    with graph.history.macro(f"add LoRA (rank {rank}) to {len(paths)} attention block(s)"):
        if freeze_base:
            freeze_all_but_head(graph)
        for path in paths:
            node = graph.scope_of(path).nodes[path.rsplit("/", 1)[-1]]
            _set(graph.scope_of(path), node, lora_rank=rank, lora_alpha=float(alpha), lora_dropout=float(dropout),
                 lora_targets=tuple(targets))
    return len(paths)


def remove_lora(graph) -> None:
    with graph.history.macro("remove LoRA"):
        for path, node in list(graph.walk()):
            if node.tuning.has_lora:
                _set(graph.scope_of(path), node, lora_rank=0)


def _set(scope, node, **changes) -> None:
    scope.set_tuning(node.id, dataclasses.replace(node.tuning, **changes))


def add_prompt_tuning(graph, length: int = 20, freeze_base: bool = True) -> str:
    """A soft prompt in front of the model's first layer stack (its first group) with the padding mask
    lengthened to match, and Drop prompt on the hidden states the stack hands on, so heads see the
    sequence's own positions; (freeze_base) everything else but the head frozen. Returns the prompt's id."""
    stack = next((graph.nodes[i] for i in graph.topological_order() if graph.nodes[i].type_id == "group"), None)
    if stack is None:
        raise TuningError("a soft prompt goes in front of the layer stack (a group), and this graph has none")
    kinds_in = {port.name: port.kind for port in stack.input_ports()}
    kinds_out = {port.name: port.kind for port in stack.output_ports()}
    hidden_in = [e for e in graph.edges_into(stack.id) if kinds_in.get(e.dst_port) == "hidden"]
    masks_in = [e for e in graph.edges_into(stack.id) if kinds_in.get(e.dst_port) == "mask"]
    hidden_out = [e for e in graph.edges_from(stack.id) if kinds_out.get(e.src_port) == "hidden"]
    if len(hidden_in) != 1:
        raise TuningError(f"{stack.label()} takes {len(hidden_in)} hidden-state inputs; a soft prompt needs one")
    x, y = stack.pos
    with graph.history.macro(f"add prompt tuning ({length} vectors)"):
        if freeze_base:
            freeze_all_but_head(graph)
        prompt = graph.add_node("peft.soft_prompt", {"length": length}, pos=(x + 260, y - 60))
        entering = hidden_in[0]
        graph.disconnect(entering)
        graph.connect(entering.src, entering.src_port, prompt, "x")
        graph.connect(prompt, "out", stack.id, entering.dst_port)
        for index, edge in enumerate(masks_in):  # attention inside must mask the longer sequence
            graph.disconnect(edge)
            if index == 0:
                graph.connect(edge.src, edge.src_port, prompt, "mask")
            graph.connect(prompt, "mask", stack.id, edge.dst_port)
        drops: dict[str, str] = {}
        for edge in hidden_out:
            if edge.src_port not in drops:
                drops[edge.src_port] = graph.add_node("peft.drop_prompt", {"length": length},
                                                      pos=(x + 260, y + 60 + 90 * len(drops)))
                graph.connect(stack.id, edge.src_port, drops[edge.src_port], "x")
            graph.disconnect(edge)
            graph.connect(drops[edge.src_port], "out", edge.dst, edge.dst_port)
    return prompt


ADAPTED = ("Attention", "Efficient attention", "Feed-forward")  # the sub-layers an adapter follows


def add_adapters(graph, bottleneck: int = 16, freeze_base: bool = True) -> int:
    """A bottleneck adapter after every attention and feed-forward sub-layer, before its residual add
    (Houlsby et al. 2019, figure 2), and (freeze_base) the rest frozen except the head; returns how
    many adapters were added. Each starts as the identity, so the model computes what it did."""
    sites = []
    for path, node in graph.walk():
        if node.type_id == "group" or node.block.category not in ADAPTED:
            continue
        scope = graph.scope_of(path)
        sites += [(scope, edge) for edge in scope.edges_from(node.id)
                  if edge.src_port == "out" and scope.nodes[edge.dst].type_id == "op.add"]
    if not sites:
        raise TuningError("the graph has no attention or feed-forward output feeding a residual add to put an "
                          "adapter after")
    with graph.history.macro(f"add {len(sites)} bottleneck adapter(s) of width {bottleneck}"):
        if freeze_base:
            freeze_all_but_head(graph)
        for scope, edge in sites:
            x, y = scope.nodes[edge.src].pos
            adapter = scope.add_node("peft.adapter", {"bottleneck": bottleneck}, pos=(x + 220, y + 50))
            scope.disconnect(edge)
            scope.connect(edge.src, edge.src_port, adapter, "x")
            scope.connect(adapter, "out", edge.dst, edge.dst_port)
    return len(sites)
