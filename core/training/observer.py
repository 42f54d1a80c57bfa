"""What a run shows besides its curves, on the sample schedule (core/training/cadence.py): a text sample
from a fixed seed, so samples compare across steps, and an attention snapshot of one validation row
(core.inspect), for every objective.

Under FSDP2, tensor or pipeline parallel no rank holds the whole model, so on each sample step every
rank hands in its shards (`gather`, a collective) and rank 0 loads the gathered weights into a whole
copy of the model on its CPU, which it samples and probes exactly as an unsharded run samples its own
model. The copy costs rank 0 one model's weights in CPU memory and each sample step one gather, as a
checkpoint does.
"""

from collections.abc import Callable

import torch

from workbench.core.compiler import CompiledModel
from workbench.core.decoding import sample
from workbench.core.inspect import write_attention_snapshot
from workbench.core.training.cadence import sample_due
from workbench.core.training.objectives import input_kinds, model_arguments


class Observer:
    def __init__(self, project, compiled: CompiledModel, objective, config, is_main: bool,
                 gather: Callable[[], dict[str, torch.Tensor]] | None = None):
        """`gather`: every weight, unsharded (a collective), when no rank holds the whole model; else None."""
        self.project, self.compiled, self.objective, self.config = project, compiled, objective, config
        self.is_main, self.gather = is_main, gather
        self.copy: CompiledModel | None = None  # the whole copy rank 0 observes under sharded training

    def observe(self, step: int, run, board, autocast: Callable) -> None:
        """Write this step's sample and snapshot if the schedule asks for them (every rank must call it)."""
        if not sample_due(step, self.config.sample_every, self.config.steps):
            return
        compiled = self.model()
        if not self.is_main:
            return
        if self.objective.generates_text:
            row = {"step": step, "text": self.sample_text(compiled, autocast)}
            run.append_sample(row)
            board.sample(row)
        probe = model_arguments(self.objective.batch(0, "val"), input_kinds(self.project.graph, compiled.input_names))
        write_attention_snapshot(run.path, compiled, probe, step)
        board.attention(run.path, step)

    def model(self) -> CompiledModel | None:
        """The model to observe, holding the current weights: the training one, or rank 0's whole copy."""
        if self.gather is None:
            return self.compiled
        weights = self.gather()
        if not self.is_main:
            return None
        if self.copy is None:
            with torch.random.fork_rng(devices=[]):  # building it must not move the training's random stream
                self.copy = self.project.compile()
        self.copy.training_module.load_state_dict({name: t.detach().cpu() for name, t in weights.items()})
        return self.copy

    def sample_text(self, compiled: CompiledModel, autocast: Callable) -> str:
        """A fixed-seed sample from the first validation token."""
        compiled.module.eval()
        prompt = self.objective.prompt().to(next(compiled.module.parameters()).device)
        generator = torch.Generator().manual_seed(self.config.seed)
        with autocast():
            ids = sample(compiled.module, prompt, self.config.sample_length,
                         context_length=compiled.ctx.context_length, temperature=0.8, generator=generator)
        return self.project.tokenizer.decode(ids[0].tolist())
