"""Generating tokens from a model that maps [B, T] ids to [B, T, V] logits."""

import torch
from torch import nn


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    *,
    context_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Autoregressive sampling without a cache: each step re-reads the last `context_length` ids.

    prompt: [B, T0] ids; returns [B, T0 + max_new_tokens]. temperature 0 picks the argmax (greedy).
    """
    ids = prompt
    for _ in range(max_new_tokens):
        logits = model(ids[:, -context_length:])[:, -1, :].float()  # (B, V)
        if temperature == 0:
            next_id = logits.argmax(dim=-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            next_id = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)
        ids = torch.cat([ids, next_id], dim=1)
    return ids
