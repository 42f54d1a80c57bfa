"""Samples and attention snapshots while training sharded (FSDP2, tensor or pipeline parallel): no rank
holds the whole model, so on each sample step every rank hands in its shards (`gather`, a collective)
and rank 0 loads the gathered weights into a whole copy of the model on its CPU, which it samples and
probes exactly as an unsharded run samples its own model. The copy costs rank 0 one model's weights
in CPU memory and each sample step one gather, as a checkpoint does.
"""

from collections.abc import Callable

import torch

from workbench.core.compiler import CompiledModel


class WholeCopy:
    def __init__(self, project, gather: Callable[[], dict[str, torch.Tensor]], is_main: bool):
        self.project, self.gather, self.is_main = project, gather, is_main
        self.compiled: CompiledModel | None = None

    def refresh(self) -> CompiledModel | None:
        """The copy, holding the current weights, on rank 0; None on every other rank (which must call too)."""
        weights = self.gather()
        if not self.is_main:
            return None
        if self.compiled is None:
            with torch.random.fork_rng(devices=[]):  # building it must not move the training's random stream
                self.compiled = self.project.compile()
        self.compiled.training_module.load_state_dict({name: t.detach().cpu() for name, t in weights.items()})
        return self.compiled
