"""A sparse mixture-of-experts feed-forward layer: a router scores E expert MLPs for every token, the
top k run, and their outputs are summed with the router's renormalised weights (Shazeer et al. 2017,
"Outrageously Large Neural Networks"; Mixtral, Jiang et al. 2024). Each token pays for k experts'
FLOPs while the model holds E experts' parameters.

The router is trained to spread tokens evenly by the load-balancing loss of Switch Transformers
(Fedus et al. 2021, eq. 4): E · Σ_e f_e · P_e, f_e the share of routed slots that went to expert e and
P_e the mean router probability of e. It is k for a perfectly even router and grows as the load
concentrates; the layer returns it times `aux_weight`, which the compiler adds to the objective.

Letters: B batch, T positions, D model width, F expert hidden width, E experts, N = B·T tokens.
"""

import torch
import torch.nn.functional as F
from torch import nn

from workbench.core.nn.feedforward import GatedMLP


class MixtureOfExperts(nn.Module):
    def __init__(self, width: int, hidden: int, *, experts: int, top_k: int, aux_weight: float,
                 activation: str = "silu", bias: bool = False, dropout: float = 0.0):
        super().__init__()
        self.top_k, self.aux_weight = top_k, aux_weight
        self.router = nn.Linear(width, experts, bias=False)
        self.experts = nn.ModuleList(GatedMLP(width, hidden, activation=activation, bias=bias, dropout=0.0)
                                     for _ in range(experts))
        self.dropout = nn.Dropout(dropout)
        # The last forward's share of routed slots per expert (E,) and its weighted auxiliary loss, read by
        # core.training.expert_load for metrics.jsonl and the Training panel's bars. Updated in place so
        # torch.compile sees a buffer mutation, not a new attribute.
        self.register_buffer("load", torch.full((experts,), 1.0 / experts), persistent=False)
        self.register_buffer("aux", torch.zeros(()), persistent=False)

    # The memory planner (core/training/memory_plan.py) traces on fake tensors, where routing has no values
    # and torch.where no shape; it sets this to route evenly instead. The rows over all experts add up to
    # N·k as any real routing's do, so the activations it counts are a real step's, up to rounding.
    plan_balanced = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        tokens = x.reshape(b * t, d)  # (N, D)
        probs = F.softmax(self.router(tokens).float(), dim=-1)  # (N, E), in fp32 as Mixtral routes
        weights, chosen = probs.topk(self.top_k, dim=-1)  # (N, k)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(x.dtype)  # the k chosen sum to 1
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            if self.plan_balanced:  # fake tensors have no values to route by: every expert gets N·k/E rows
                rows = torch.arange(-(-tokens.shape[0] * self.top_k // len(self.experts)), device=x.device)
                slot = torch.zeros_like(rows)
            else:
                rows, slot = torch.where(chosen == e)  # the tokens that chose e, and in which of their k slots
            # No `if rows.numel()` guard: an idle expert runs on zero rows, and the forward stays free of
            # data-dependent branches, so torch.export (ONNX) can trace it.
            out.index_add_(0, rows, expert(tokens[rows]) * weights[rows, slot, None])
        routed = F.one_hot(chosen, len(self.experts)).float().mean(dim=0)  # (k, E): f per slot
        aux = len(self.experts) * (routed * probs.mean(dim=0)).sum()  # Switch's E · Σ f_e · P_e, summed over slots
        aux = aux * self.aux_weight
        with torch.no_grad():
            self.load.copy_(routed.sum(dim=0) / self.top_k)  # (E,), sums to 1
            self.aux.copy_(aux)
        return self.dropout(out.view(b, t, d)), aux

    def linear_flops_per_token(self) -> int:
        """The router plus the k experts a token runs, not all E (2 FLOPs per multiply-add)."""
        expert = sum(2 * m.in_features * m.out_features for m in self.experts[0].modules() if isinstance(m, nn.Linear))
        return 2 * self.router.in_features * self.router.out_features + self.top_k * expert

    def inactive_parameters(self) -> int:
        """Weights a token never touches: the E - k experts it was not routed to."""
        expert = sum(p.numel() for p in self.experts[0].parameters())
        return (len(self.experts) - self.top_k) * expert
