"""Optimizers: SGD with momentum, Adam, AdamW from PyTorch, and Lion written out here.

All of them get the same parameter groups: matrices (linear and embedding weights) decay, norms
and biases do not, since shrinking a gain or an offset towards zero has no regularising meaning.
"""

import torch
from torch import nn

OPTIMIZERS = ("adamw", "adam", "sgd", "lion")


class Lion(torch.optim.Optimizer):
    """EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    update = sign(β1·m + (1−β1)·g); θ ← θ − lr·(update + λ·θ); m ← β2·m + (1−β2)·g.
    Every coordinate moves by exactly ±lr, so Lion wants a learning rate 3–10× smaller than AdamW
    and a proportionally larger weight decay.
    """

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
        if lr <= 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Lion needs lr > 0 and betas in [0, 1), got lr={lr}, betas={betas}")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                momentum = state["exp_avg"]
                update = (momentum * beta1 + p.grad * (1 - beta1)).sign_()
                p.mul_(1 - group["lr"] * group["weight_decay"])  # decoupled decay, as in AdamW
                p.add_(update, alpha=-group["lr"])
                momentum.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Only weights that train: a frozen weight (core/tuning.py) gets no optimizer state at all."""
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]  # all-frozen norms leave the second group empty


def make_optimizer(model: nn.Module, name: str, *, lr: float, betas: tuple[float, float], weight_decay: float,
                   momentum: float = 0.9, offload: bool = False):
    if offload:
        return OffloadedOptimizer(model, lambda groups: _build(name, groups, lr, betas, momentum), weight_decay)
    return _build(name, parameter_groups(model, weight_decay), lr, betas, momentum)


def _build(name: str, groups: list[dict], lr: float, betas: tuple[float, float], momentum: float):
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    if name == "adam":
        # Adam's weight decay is an L2 term in the gradient, the coupling AdamW removed
        # (Loshchilov & Hutter 2019); kept for comparison in the course.
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "lion":
        return Lion(groups, lr=lr, betas=betas)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


class OffloadedOptimizer:
    """ZeRO-Offload (Ren et al. 2021): optimizer state and an fp32 master copy of the weights live
    in CPU memory. Each step copies the gradients to the CPU, steps there, and copies the updated
    weights back, so the accelerator holds only weights, gradients and activations."""

    def __init__(self, model: nn.Module, build, weight_decay: float):
        self.device_params = list({id(p): p for p in model.parameters() if p.requires_grad}.values())
        self.master = [p.detach().to("cpu", torch.float32, copy=True).requires_grad_(True) for p in self.device_params]
        decay = [m for m in self.master if m.dim() >= 2]
        no_decay = [m for m in self.master if m.dim() < 2]
        self.inner = build([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}])

    @property
    def param_groups(self) -> list[dict]:
        return self.inner.param_groups

    @torch.no_grad()
    def step(self) -> None:
        for param, master in zip(self.device_params, self.master):
            master.grad = None if param.grad is None else param.grad.detach().to("cpu", torch.float32)
        self.inner.step()
        for param, master in zip(self.device_params, self.master):
            param.copy_(master.to(param.device, param.dtype))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.device_params:
            param.grad = None

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)
        with torch.no_grad():  # the master copies follow the weights just loaded into the model
            for param, master in zip(self.device_params, self.master):
                master.copy_(param.detach().float().cpu())
