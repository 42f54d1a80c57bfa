"""Training settings: one frozen dataclass, saved in the project and in every run."""

import dataclasses
from dataclasses import dataclass


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000  # optimizer steps in the run
    batch_size: int = 32  # sequences per step; each is the graph's context length long
    learning_rate: float = 2e-3  # peak learning rate, reached after warmup
    min_learning_rate: float = 2e-4  # cosine decays to this at the last step
    warmup_steps: int = 100  # linear warmup from 0 (avoids early Adam instability)
    weight_decay: float = 0.1  # AdamW decay on matrices (linear and embedding weights), never norms or biases
    beta1: float = 0.9
    beta2: float = 0.99  # a little lower than 0.999 because batches are small (nanoGPT's choice)
    grad_clip: float = 1.0  # clip the global gradient norm to this; 0 turns clipping off
    seed: int = 1337  # initial weights and the order of batches
    log_every: int = 10  # steps between lines in metrics.jsonl
    eval_every: int = 100  # steps between validation losses
    eval_batches: int = 8  # batches averaged for one validation loss
    sample_every: int = 200  # steps between text samples in samples.jsonl; 0 turns samples off
    sample_length: int = 200  # tokens per sample
    checkpoint_every: int = 200  # steps between checkpoints (also written on stop and at the end)
    device: str = "auto"  # auto, cpu or cuda
    threads: int = 0  # CPU threads for torch; 0 lets torch decide

    def __post_init__(self):
        positive = ("steps", "batch_size", "log_every", "eval_every", "eval_batches", "checkpoint_every", "sample_length")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"training setting {name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.learning_rate < 10 or not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ConfigError(
                f"learning rates must satisfy 0 ≤ min ({self.min_learning_rate}) ≤ peak ({self.learning_rate}) < 10"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if min(self.warmup_steps, self.sample_every, self.threads) < 0 or self.grad_clip < 0:
            raise ConfigError("warmup_steps, sample_every, threads and grad_clip cannot be negative")

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
