"""Tiny models of every preset family with weights large enough that the next token is clear:
near-uniform logits (the default initialisation) would let rounding pick between near-ties."""

import torch

from workbench.core.architectures import FAMILIES as ZOO
from workbench.core.architectures import build_graph
from workbench.core.compiler import compile_graph

FAMILIES = {  # name -> (zoo family, changes); windows shorter than the sequences, so they matter
    "gpt2": ("gpt2", {}),
    "llama-gqa": ("llama", {}),
    "mistral-window": ("mistral", {"window": 4}),
    "t5": ("t5", {}),
    "bart": ("bart", {}),
    "alibi": ("gpt2", {"positions": "position.alibi", "window": 5}),
    "sinusoidal-mqa": ("gpt2", {"positions": "position.sinusoidal", "kv_heads": 1}),
    "t5-bias-decoder": ("gpt2", {"positions": "position.t5_bias"}),
}
SOURCE = [5, 6, 7, 8, 9]


def sharp_model(name: str, **more):
    """FAMILIES[name] at vocabulary 50, context 16, width 32, two layers (as tests/core/zoo), plus `more`."""
    family, changes = FAMILIES[name]
    tiny = ZOO[family].replace(vocab_size=50, context_length=16, width=32, layers=2)
    compiled = compile_graph(build_graph(tiny.replace(**changes, **more)))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in compiled.root.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    compiled.root.eval()
    return compiled


def is_encoder_decoder(name: str) -> bool:
    return FAMILIES[name][0] in ("t5", "bart")
