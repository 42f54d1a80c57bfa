"""Small versions of the zoo's graphs, and random inputs for them, so tests stay fast on two CPU cores."""

import torch

from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.compiler import compile_graph


def tiny(name: str, **changes):
    """FAMILIES[name] at width 32, context 16, two layers, plus `changes`."""
    return build_graph(FAMILIES[name].replace(vocab_size=50, context_length=16, width=32, layers=2, **changes))


def compiled_tiny(name: str, **changes):
    torch.manual_seed(0)
    graph = tiny(name, **changes)
    return graph, compile_graph(graph)


def example_inputs(graph, compiled, batch: int = 2, length: int = 16, seed: int = 0) -> dict:
    """Random values for every argument of the compiled forwards, by input node id."""
    generator = torch.Generator().manual_seed(seed)
    values = {}
    for name in dict.fromkeys(compiled.input_names + compiled.training_input_names):
        kind = graph.nodes[name].type_id
        if kind == "input.padding_mask":
            values[name] = torch.ones(batch, length, dtype=torch.long)
        elif kind == "input.token_types":
            values[name] = torch.randint(0, 2, (batch, length), generator=generator)
        else:
            values[name] = torch.randint(0, compiled.ctx.vocab_size, (batch, length), generator=generator)
    return values


def run(compiled, inputs: dict, training: bool = False):
    module = compiled.training_module if training else compiled.module
    names = compiled.training_input_names if training else compiled.input_names
    return module(*(inputs[n] for n in names))
