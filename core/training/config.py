"""Training settings: one frozen dataclass, saved in the project and in every run."""

import dataclasses
import math
from dataclasses import dataclass

from workbench.core.data.tasks import CLASSIFICATION_TASKS, MIXTURE, SEQ2SEQ_TASKS, TaskError, parse_mixture
from workbench.core.training.distributed import STRATEGIES
from workbench.core.training.objectives import OBJECTIVES
from workbench.core.training.optim import OPTIMIZERS
from workbench.core.training.schedule import SCHEDULES


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    objective: str = "causal_lm"  # causal_lm, masked_lm, denoising, span_corruption, seq2seq or classification
    task: str = ""  # seq2seq: copy, reverse, sort, add or mix (task_mixture); classification: genre; others: ""
    task_mixture: str = ""  # task mix only: tasks and sampling weights, e.g. copy=1,reverse=1,sort=2 (T5 prefixes)
    mask_probability: float = 0.15  # masked_lm: share of tokens chosen for prediction (BERT's 15 %)
    noise_density: float = 0.15  # denoising, span_corruption: share of tokens hidden in spans (BART used 0.3)
    mean_span_length: float = 3.0  # denoising: the Poisson λ of span lengths; span_corruption: their mean
    steps: int = 2000  # optimizer steps in the run
    batch_size: int = 32  # sequences per step; each is the graph's context length long
    optimizer: str = "adamw"  # adamw, adam, sgd (momentum = beta1) or lion
    schedule: str = "cosine"  # cosine, constant, inverse_sqrt or wsd (warmup-stable-decay)
    learning_rate: float = 2e-3  # peak learning rate, reached after warmup
    min_learning_rate: float = 2e-4  # cosine decays to this at the last step
    warmup_steps: int = 100  # linear warmup from 0 (avoids early Adam instability)
    weight_decay: float = 0.1  # AdamW decay on matrices (linear and embedding weights), never norms or biases
    beta1: float = 0.9
    beta2: float = 0.99  # a little lower than 0.999 because batches are small (nanoGPT's choice)
    decay_fraction: float = 0.2  # wsd only: the share of steps spent decaying at the end
    grad_clip: float = 1.0  # clip the global gradient norm to this; 0 turns clipping off
    grad_accumulation: int = 1  # cut each batch into k micro-batches: same gradient, 1/k of the activation memory
    precision: str = "fp32"  # fp32, bf16 (autocast, also on CPU) or fp16 (autocast + gradient scaling)
    activation_checkpointing: bool = False  # recompute each repeated layer in backward instead of storing it
    offload_optimizer: bool = False  # keep optimizer state and master weights in CPU memory (ZeRO-Offload)
    compile: bool = False  # torch.compile the model (slow first steps, faster later ones)
    distributed: str = "ddp"  # under torchrun: ddp (replicas) or fsdp (FSDP2, parameters sharded ZeRO-3 style)
    on_nonfinite: str = "stop"  # NaN/inf loss or gradient, or a spike: stop (last good checkpoint kept) or skip step
    # Default 3 leaves healthy runs alone and stops lr 9.9 at step 4 of 4.17, 4.91, 10.2, 15.8 (core/training/guard.py).
    spike_factor: float = 3.0  # a loss over factor × the median of the last 16 (and 1 nat over it) is a spike; 0: off
    max_skipped_steps: int = 5  # skip mode: a run that skips more steps than this ends "diverged"
    seed: int = 1337  # initial weights and the order of batches
    # Start from earlier weights (pre-train, then fine-tune): a run folder (its latest checkpoint), a
    # checkpoint folder or a .safetensors file. Tensors whose name and shape match load, the others keep
    # their initialisation, and log.txt lists both. A resumed run ignores it: its checkpoint wins.
    init_from: str = ""
    log_every: int = 10  # steps between lines in metrics.jsonl
    tensorboard: bool = False  # also write TensorBoard event files into the run folder (needs the tensorboard package)
    eval_every: int = 100  # steps between validation losses
    eval_batches: int = 8  # batches averaged for one validation loss
    sample_every: int = 200  # steps between samples and attention snapshots (also 10, 25, 50, 100, last); 0: off
    sample_length: int = 200  # tokens per sample
    checkpoint_every: int = 200  # steps between checkpoints (also written on stop and at the end)
    device: str = "auto"  # auto, cpu or cuda
    threads: int = 0  # CPU threads for torch; 0 lets torch decide

    def __post_init__(self):
        for f in dataclasses.fields(self):  # NaN passes every range check below (issue #24)
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"training setting {f.name} must be a finite number, got {value}")
        positive = ("steps", "batch_size", "grad_accumulation", "log_every", "eval_every", "eval_batches", "checkpoint_every", "sample_length")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"training setting {name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate < 10 or not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ConfigError(
                f"learning rates must satisfy 0 ≤ min ({self.min_learning_rate}) ≤ peak ({self.learning_rate}) < 10"
            )
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        tasks = {"seq2seq": SEQ2SEQ_TASKS, "classification": CLASSIFICATION_TASKS}.get(self.objective)
        if tasks is None and self.task:
            raise ConfigError(f"task is for the seq2seq and classification objectives; {self.objective} takes "
                              f"none, got {self.task!r}")
        mixes = self.objective == "seq2seq" and self.task == MIXTURE
        if tasks is not None and self.task not in tasks and not mixes:
            raise ConfigError(f"task must be one of {', '.join(tasks)} for the {self.objective} objective"
                              f"{f' (or {MIXTURE}, with task_mixture)' if self.objective == 'seq2seq' else ''}, "
                              f"got {self.task!r}")
        if mixes:
            try:
                parse_mixture(self.task_mixture)
            except TaskError as exc:
                raise ConfigError(str(exc)) from None
        elif self.task_mixture:
            raise ConfigError(f"task_mixture is read only when task is {MIXTURE}; clear it or set task={MIXTURE}")
        for name in ("mask_probability", "noise_density"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.mean_span_length < 1:
            raise ConfigError(f"mean_span_length must be at least 1, got {self.mean_span_length}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not 0 < self.decay_fraction <= 1:
            raise ConfigError(f"decay_fraction must be in (0, 1], got {self.decay_fraction}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"precision must be fp32, bf16 or fp16, got {self.precision!r}")
        if self.distributed not in STRATEGIES:
            raise ConfigError(f"distributed must be one of {', '.join(STRATEGIES)}, got {self.distributed!r}")
        if self.on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"on_nonfinite must be stop or skip, got {self.on_nonfinite!r}")
        if self.spike_factor < 0 or 0 < self.spike_factor <= 1:
            raise ConfigError(f"spike_factor must be 0 (off) or above 1, got {self.spike_factor}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay cannot be negative, got {self.weight_decay}")
        if min(self.warmup_steps, self.sample_every, self.threads, self.max_skipped_steps) < 0 or self.grad_clip < 0:
            raise ConfigError("warmup_steps, sample_every, threads, max_skipped_steps and grad_clip cannot be negative")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0]!r}")
        values = {}
        for name, value in data.items():
            expected = type(known[name].default)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(f"training setting {name} must be {expected.__name__}, got {value!r}")
            values[name] = value
        return cls(**values)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
