"""Parameters, FLOPs, KV-cache size and shapes per node: what `main.py info` prints and the inspector shows.

FLOPs count a multiply-add as 2 and are per token of a forward pass at full context length:
2·in·out for every linear layer a token runs (a mixture of experts: the router and k of its E experts), plus what each attention module declares for mixing positions
(`attention_flops_per_token`): 4·S·H·K for QKᵀ and the weighted sum of V over the S keys a query
may see (the full context, the window, or a sparse pattern's average; a causal kernel skips about
half of it), and the linear-in-T costs of low-rank and kernel attention. Training costs about 3× the forward pass, which with attention ignored is the familiar 6N per
token (Kaplan et al. 2020).

KV-cache bytes per token: what generating one more token adds to the cache, 2 (key and value) ×
kv heads × head width × bytes per element for every causal self-attention layer. Encoder and
cross-attention keys are computed once from the source and do not grow while generating.
"""

from dataclasses import dataclass, field

from torch import nn

from workbench.core.compiler import CompiledModel, compile_graph
from workbench.core.graph import Graph
from workbench.core.nn.attention import SelfAttention


@dataclass
class NodeSummary:
    path: str  # node path, 'layers/attn' inside a group
    title: str  # the block's title
    type_id: str
    instances: int  # how many copies run (a group's repeat count)
    params: int  # trainable parameters over all copies; a tied weight counts at its first owner
    flops_per_token: int  # forward FLOPs per token over all copies
    outputs: dict[str, str] = field(default_factory=dict)  # output port -> shape text, e.g. 'B×T×128'
    kv_cache_bytes_per_token: int = 0  # what one generated token adds to the KV cache, over all copies
    active_params: int = -1  # parameters one token uses (fewer than params for a mixture of experts); -1 = params

    def __post_init__(self):
        if self.active_params < 0:
            self.active_params = self.params


@dataclass
class ModelSummary:
    rows: list[NodeSummary]
    vocab_size: int
    context_length: int

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def active_params(self) -> int:
        """Parameters one token passes through: all of them, except the experts a router skips."""
        return sum(r.active_params for r in self.rows)

    @property
    def flops_per_token(self) -> int:
        return sum(r.flops_per_token for r in self.rows)

    @property
    def training_flops_per_token(self) -> int:
        return 3 * self.flops_per_token

    @property
    def kv_cache_bytes_per_token(self) -> int:
        return sum(r.kv_cache_bytes_per_token for r in self.rows)

    def to_dict(self) -> dict:
        return {
            "vocab_size": self.vocab_size,
            "context_length": self.context_length,
            "total_params": self.total_params,
            "active_params": self.active_params,
            "flops_per_token": self.flops_per_token,
            "training_flops_per_token": self.training_flops_per_token,
            "kv_cache_bytes_per_token": self.kv_cache_bytes_per_token,
            "nodes": [vars(r) for r in self.rows],
        }


def summarize(graph: Graph, compiled: CompiledModel | None = None) -> ModelSummary:
    compiled = compiled or compile_graph(graph)
    seen: set[int] = set()
    rows = []
    for path, node in graph.walk():
        if node.type_id == "group":
            continue
        modules = [compiled.root.get_submodule(q) for q in compiled.instances.get(path, [])]
        params = 0
        for module in modules:
            for p in module.parameters():
                if id(p) not in seen:  # frozen weights count too: the trainable share is core.tuning's
                    seen.add(id(p))
                    params += p.numel()
        flops = sum(module_flops(m, compiled.ctx.context_length) for m in modules)
        cache = sum(kv_cache_bytes_per_token(m) for m in modules)
        outputs = {port: str(t) for (p, port), t in compiled.report.types.items() if p == path}
        active = params - sum(inactive_parameters(m) for m in modules)
        rows.append(NodeSummary(path, node.block.title, node.type_id, len(modules), params, flops, outputs, cache,
                                active))
    return ModelSummary(rows, compiled.ctx.vocab_size, compiled.ctx.context_length)


def module_flops(module: nn.Module, context_length: int) -> int:
    """Linear layers, plus whatever each attention module says its mixing of positions costs
    (`attention_flops_per_token`: full, windowed, sparse-pattern, low-rank or kernel attention). A module
    that runs only some of its linear layers per token says so with `linear_flops_per_token` (a mixture
    of experts counts its router and the k active experts, not all E)."""
    if hasattr(module, "linear_flops_per_token"):
        return module.linear_flops_per_token()
    flops = 0
    if isinstance(module, nn.Linear):
        flops += 2 * module.in_features * module.out_features
    if hasattr(module, "attention_flops_per_token"):
        flops += module.attention_flops_per_token(context_length)
    return flops + sum(module_flops(child, context_length) for child in module.children())


def inactive_parameters(module: nn.Module) -> int:
    """Parameters a token does not use (the experts a mixture of experts did not route it to)."""
    return sum(sub.inactive_parameters() for sub in module.modules() if hasattr(sub, "inactive_parameters"))


def kv_cache_bytes_per_token(module: nn.Module) -> int:
    total = 0
    for sub in module.modules():
        if isinstance(sub, SelfAttention) and sub.causal:
            total += 2 * sub.kv_heads * sub.head_width * sub.qkv.weight.element_size()
    return total
