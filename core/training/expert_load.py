"""What a mixture-of-experts model adds to each metrics.jsonl row: how the router spread the last
batch's tokens over the experts (one list per MoE layer, each summing to 1) and the weighted
load-balancing loss inside `loss` (which is the objective: cross-entropy plus that). A router that
collapses onto a few experts shows as uneven bars in the Training panel long before it shows in
the loss (Fedus et al. 2021, section 2.2)."""

from torch import nn

from workbench.core.nn.moe import MixtureOfExperts


def expert_metrics(model: nn.Module) -> dict:
    """{'aux_loss': float, 'expert_load': [[share per expert] per layer]} from the last forward, or {}
    for a model without experts."""
    layers = [m for m in model.modules() if isinstance(m, MixtureOfExperts)]
    if not layers:
        return {}
    return {"aux_loss": sum(float(m.aux) for m in layers),
            "expert_load": [[round(float(share), 4) for share in m.load] for m in layers]}
