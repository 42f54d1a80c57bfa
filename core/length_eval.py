"""Loss at every position, at contexts longer than the model trained on (length generalisation).

A model trained on windows of L tokens is evaluated on windows of k·L: the same weights compiled with
a longer context, fed held-out text, and the next-token loss averaged per position over many windows.
Position encodings with no table (sinusoidal, RoPE, ALiBi, none) run at any length, so the curve past
L shows how each extrapolates: ALiBi's recency bias keeps it flat, sinusoidal's unseen angles raise
it (Press et al. 2022, "Train Short, Test Long"). Learned positions have no vector past L: asking for
more says so instead of guessing.

    curve = loss_by_position(run_dir, [128, 256, 512])   # {length: [loss at position 0, 1, …]}
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from workbench.core.compiler import compile_graph
from workbench.core.project import Project
from workbench.core.training.objectives import input_kinds, model_arguments
from workbench.core.training.runs import RunFolder, RunFolderError, load_checkpoint


@dataclass(frozen=True)
class LengthCurve:
    trained_length: int  # the context the run trained at
    length: int  # the context evaluated at
    losses: list[float]  # mean next-token loss at each position 0 … length-1
    windows: int  # held-out windows averaged

    def mean(self, start: int, stop: int) -> float:
        return float(np.mean(self.losses[start:stop]))

    @property
    def within(self) -> float:
        """Mean loss over the positions training saw."""
        return self.mean(0, self.trained_length)

    @property
    def beyond(self) -> float:
        """Mean loss over the positions past the training length (nan when there are none)."""
        return self.mean(self.trained_length, self.length) if self.length > self.trained_length else float("nan")


@torch.no_grad()
def loss_by_position(run_path: str | Path, lengths: list[int], windows: int = 16) -> list[LengthCurve]:
    """Per-position loss of the run's latest checkpoint at each context length, on held-out text
    (the same evenly spaced windows for every length, so the curves compare). A causal LM only."""
    run = RunFolder.open(run_path)
    checkpoint = run.latest_checkpoint()
    if checkpoint is None:
        raise RunFolderError(run.no_good_checkpoint())
    project = Project.from_dict(run.info["project"])
    if project.train.objective != "causal_lm":
        raise ValueError(f"{run.path}: per-position loss is for causal LMs; this run trained {project.train.objective}")
    trained = project.graph.nodes_of_type("input.tokens")[0]
    trained_length = int(trained.get_param("context_length"))
    learned = [path for path, node in project.graph.walk() if getattr(node, "type_id", "") == "position.learned"]
    if learned and max(lengths) > trained_length:
        raise ValueError(f"{run.path}: learned positions ({learned[0]}) have no vector past position "
                         f"{trained_length}; evaluate at most {trained_length} or use sinusoidal, RoPE, ALiBi or none")
    _, held_out = project.token_splits()
    longest = max(lengths)
    if len(held_out) < longest + 1 + windows:
        raise ValueError(f"{run.path}: the held-out text has {len(held_out):,} tokens, too few for {windows} windows "
                         f"of {longest:,}")
    starts = np.linspace(0, len(held_out) - longest - 1, windows).astype(int)
    curves = []
    for length in lengths:
        project.graph.set_param(trained.id, "context_length", length)
        compiled = compile_graph(project.graph)
        load_checkpoint(checkpoint, compiled.training_module or compiled.root)
        module = compiled.module.eval()
        block = torch.tensor(np.stack([held_out[s:s + length + 1] for s in starts]).astype(np.int64))
        batch = {"tokens": block[:, :-1], "padding_mask": torch.ones_like(block[:, :-1])}
        logits = module(*model_arguments(batch, input_kinds(project.graph, compiled.input_names)))  # (B, T, V)
        loss = F.cross_entropy(logits.transpose(1, 2).float(), block[:, 1:], reduction="none")  # (B, T)
        curves.append(LengthCurve(trained_length, length, loss.mean(0).tolist(), windows))
    return curves
