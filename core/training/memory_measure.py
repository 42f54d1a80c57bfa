"""What PyTorch really holds during one training step, by component: the measurement the memory
planner (core/training/memory_plan.py) is checked against (issue #19). On a CUDA device it also reads
the allocator's peak over a step, to hold the planner's total to.

Weights, gradients and optimizer state are the bytes of the tensors PyTorch keeps (each storage
once); activations are what autograd saved for backward during a real forward, counted per
storage with the same saved-tensor hooks the planner runs on fake tensors, so a difference between
the two is a difference between fake and real execution (kernel choice, autocast, shapes).
"""

import contextlib
from dataclasses import dataclass

import torch

from workbench.core.graph import Graph
from workbench.core.training.memory import recompute_layers
from workbench.core.training.memory_plan import AUTOCAST, SavedBytes, _forward_arguments
from workbench.core.training.optim import make_optimizer
from workbench.core.training.rank_memory import storage_bytes


@dataclass(frozen=True)
class MeasuredMemory:
    weights: int  # bytes of every parameter storage
    gradients: int  # bytes of every .grad after backward
    optimizer: int  # bytes of every tensor in the optimizer's state after one step
    activations: int  # bytes autograd kept for backward (checkpointed modules: their inputs)
    # On a CUDA device: the caching allocator's high-water mark (torch.cuda.max_memory_allocated) over a
    # second step that keeps the first step's gradients allocated, so weights, gradients, optimizer state
    # and activations are all alive at once, as the planner's sum assumes; None on the CPU.
    peak: int | None = None

    @property
    def training(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations


def measure_step(graph: Graph, config, batch: int, context: int, device: str = "cpu") -> MeasuredMemory:
    """Build the model for real, run one training step at (batch, context) and count what is held."""
    from workbench.core.compiler import compile_graph

    torch.manual_seed(config.seed)
    compiled = compile_graph(graph)
    device = torch.device(device)
    model = compiled.training_module.to(device)
    model.train()
    if config.activation_checkpointing:
        recompute_layers(model)
    optimizer = make_optimizer(model, config.optimizer, lr=config.learning_rate, betas=(config.beta1, config.beta2),
                               weight_decay=config.weight_decay, momentum=config.beta1)
    arguments = [a if a is None else a.to(device)
                 for a in _forward_arguments(compiled, graph, batch, context, config.objective)]
    dtype = AUTOCAST.get(config.precision)

    def autocast():
        return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()

    with SavedBytes(model, config.activation_checkpointing) as saved, autocast():
        _, loss = model(*arguments)
    loss.backward()
    gradients = storage_bytes(p.grad for p in model.parameters() if p.grad is not None)
    optimizer.step()
    state = [t for per_weight in optimizer.state.values() for t in per_weight.values() if isinstance(t, torch.Tensor)]
    peak = None
    if device.type == "cuda":
        optimizer.zero_grad(set_to_none=False)  # the gradients stay allocated through the next step
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        with autocast():
            _, loss = model(*arguments)
        loss.backward()
        optimizer.step()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
    return MeasuredMemory(storage_bytes(model.parameters()), gradients, storage_bytes(state), saved.result.total,
                          peak)

