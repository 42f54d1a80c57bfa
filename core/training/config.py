"""Training settings: one frozen dataclass, saved in the project and in every run.

Every field is declared with core.settings `param` (help, range, choices, units, advanced): the
training form, `train --set` and validation read that declaration. The objective's own settings
(mask_probability, task, ...) are declared by the objective (core/training/objectives.py) and kept
flat beside these in JSON, as run.json and project files have always held them; `config.task` reads
them like fields.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.core.settings import Setting, SettingError, check_value, param, renamed, settings_of
from workbench.core.settings_versions import VERSION_KEY, stamped, upgrade
from workbench.core.training.distributed import STRATEGIES
from workbench.core.training.objectives import (get_objective, objective_ids, objective_settings, settings_for,
                                                users_of)
from workbench.core.training.optim import OPTIMIZERS
from workbench.core.training.schedule import SCHEDULES

WHERE = "training setting "  # how messages name one of these settings


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, init=False)
class TrainConfig:
    version: ClassVar[int] = 1  # of its JSON shape; older files are upgraded by `migrations` (core/settings_versions.py)
    migrations: ClassVar[dict] = {}  # version N: a function from N's dict to N + 1's
    objective: str = param("causal_lm", choices=objective_ids, help="what the model learns to predict, as the "
                           "batches it is shown (core/training/objectives.py)")
    steps: int = param(2000, min=1, units="steps", help="optimizer steps in the run")
    batch_size: int = param(32, min=1, help="sequences per step; each is the graph's context length long")
    optimizer: str = param("adamw", choices=OPTIMIZERS, help="adamw, adam, sgd (momentum = beta1) or lion")
    schedule: str = param("cosine", choices=SCHEDULES, help="cosine, constant, inverse_sqrt or wsd "
                          "(warmup-stable-decay)")
    learning_rate: float = param(2e-3, above=0, below=10, help="peak learning rate, reached after warmup")
    min_learning_rate: float = param(2e-4, min=0, below=10, help="cosine decays to this at the last step")
    warmup_steps: int = param(100, min=0, units="steps", help="linear warmup from 0 (avoids early Adam "
                              "instability)")
    weight_decay: float = param(0.1, min=0, advanced=True, help="AdamW decay on matrices (linear and embedding "
                                "weights), never norms or biases")
    beta1: float = param(0.9, min=0, below=1, advanced=True, help="Adam's first-moment decay (SGD's momentum)")
    beta2: float = param(0.99, min=0, below=1, advanced=True, help="a little lower than 0.999 because batches "
                         "are small (nanoGPT's choice)")
    decay_fraction: float = param(0.2, above=0, max=1, advanced=True, visible_when={"schedule": ("wsd",)},
                                  help="wsd only: the share of steps spent decaying at the end")
    grad_clip: float = param(1.0, min=0, advanced=True, help="clip the global gradient norm to this; 0 turns "
                             "clipping off")
    grad_accumulation: int = param(1, min=1, help="cut each batch into k micro-batches: same gradient, 1/k of "
                                   "the activation memory")
    precision: str = param("fp32", choices=("fp32", "bf16", "fp16"), help="fp32, bf16 (autocast, also on CPU) or "
                           "fp16 (autocast + gradient scaling)")
    activation_checkpointing: bool = param(False, help="recompute each repeated layer in backward instead of "
                                           "storing it")
    offload_optimizer: bool = param(False, advanced=True, help="keep optimizer state and master weights in CPU "
                                    "memory (ZeRO-Offload)")
    compile: bool = param(False, advanced=True, help="torch.compile the model (slow first steps, faster later "
                          "ones)")
    distributed: str = param("ddp", choices=STRATEGIES, advanced=True, help="under torchrun: ddp (replicas) or "
                             "fsdp (FSDP2, parameters sharded ZeRO-3 style)")
    tensor_parallel: int = param(1, min=1, advanced=True, help="under torchrun: processes that split each "
                                 "attention and MLP layer by heads and hidden units (Megatron-style); heads and "
                                 "kv_heads must divide by it")
    pipeline_parallel: int = param(1, min=1, advanced=True, help="under torchrun: processes that each hold a "
                                   "consecutive share of the repeated layers (pipeline stages, GPipe schedule)")
    pipeline_microbatches: int = param(0, min=0, advanced=True, help="micro-batches each batch is cut into for "
                                       "the pipeline; 0 = as many as pipeline stages")
    on_nonfinite: str = param("stop", choices=("stop", "skip"), advanced=True, help="NaN/inf loss or gradient, "
                              "or a spike: stop (last good checkpoint kept) or skip the step")
    # Default 3 leaves healthy runs alone and stops lr 9.9 at step 4 of 4.17, 4.91, 10.2, 15.8 (core/training/guard.py).
    spike_factor: float = param(3.0, min=0, advanced=True, help="a loss over factor × the median of the last 16 "
                                "(and 1 nat over it) is a spike; 0: off, else above 1")
    max_skipped_steps: int = param(5, min=0, advanced=True, visible_when={"on_nonfinite": ("skip",)},
                                   help="skip mode: a run that skips more steps than this ends \"diverged\"")
    seed: int = param(1337, advanced=True, help="initial weights and the order of batches")
    init_from: str = param("", advanced=True, help="start from earlier weights: a run folder (its latest "
                           "checkpoint), a checkpoint folder or a .safetensors file; tensors whose name and shape "
                           "match load, log.txt lists the others; a resumed run ignores it")
    log_every: int = param(10, min=1, advanced=True, units="steps", help="steps between lines in metrics.jsonl")
    tensorboard: bool = param(False, advanced=True, help="also write TensorBoard event files into the run folder "
                              "(needs the tensorboard package)")
    eval_every: int = param(100, min=1, advanced=True, units="steps", help="steps between validation losses")
    eval_batches: int = param(8, min=1, advanced=True, help="batches averaged for one validation loss")
    sample_every: int = param(200, min=0, advanced=True, units="steps", help="steps between samples and "
                              "attention snapshots (also 10, 25, 50, 100, last); 0: off")
    sample_length: int = param(200, min=1, advanced=True, units="tokens", help="tokens per sample")
    checkpoint_every: int = param(200, min=1, advanced=True, units="steps", help="steps between checkpoints "
                                  "(also written on stop and at the end)")
    device: str = param("auto", choices=("auto", "cpu", "cuda"), help="auto, cpu or cuda")
    threads: int = param(0, min=0, advanced=True, help="CPU threads for torch; 0 lets torch decide")
    # The registered objectives' own settings, (name, value) sorted by name; read them as attributes.
    objective_values: tuple = dataclasses.field(default=(), init=False, repr=False)

    def __init__(self, **values: Any):
        own = {s.name: s for s in settings_of(TrainConfig)}
        extra = objective_settings()
        unknown = sorted(set(values) - set(own) - set(extra))
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0]!r}")
        for name, setting in own.items():
            object.__setattr__(self, name, values.get(name, setting.default))
        chosen = values.get("objective", own["objective"].default)
        active = {s.name: s for s in _declared(chosen)}
        # The chosen objective's defaults are its own (classification's task is genre, seq2seq's copy);
        # a text setting of another objective (a task) is empty until its objective is chosen.
        stored = {name: values.get(name, active[name].default if name in active
                                   else "" if setting.kind is str else setting.default)
                  for name, setting in extra.items()}
        object.__setattr__(self, "objective_values", tuple(sorted(stored.items())))
        self._check()

    def __getattr__(self, name: str) -> Any:
        if name != "objective_values":  # unpickling asks before the field exists
            for key, value in self.__dict__.get("objective_values", ()):
                if key == name:
                    return value
        raise AttributeError(f"TrainConfig has no setting {name!r}")

    def _check(self) -> None:
        try:
            for setting in settings_of(TrainConfig):
                object.__setattr__(self, setting.name, check_value(WHERE, setting, getattr(self, setting.name)))
            objective = get_objective(self.objective)
            values = dict(self.objective_values)
            active = {s.name: s for s in settings_of(objective.Settings)}
            for name, setting in objective_settings().items():
                value = values[name]
                if name in active:
                    values[name] = check_value(WHERE, active[name], value)
                elif setting.kind is str:
                    if value:  # another objective's text (a task): meaningless here, so refused
                        users = users_of(name)
                        raise ConfigError(f"{name} is for the {' and '.join(users)} "
                                          f"objective{'s' * (len(users) > 1)}; {self.objective} takes none, "
                                          f"got {value!r}")
                elif value != setting.default:
                    values[name] = check_value(WHERE, setting, value)
            object.__setattr__(self, "objective_values", tuple(sorted(values.items())))
            message = objective.check_settings(settings_for(objective, self))
        except SettingError as exc:
            raise ConfigError(str(exc)) from None
        if message:
            raise ConfigError(message)
        if self.min_learning_rate > self.learning_rate:
            raise ConfigError(f"learning rates must satisfy 0 ≤ min ({self.min_learning_rate}) ≤ peak "
                              f"({self.learning_rate}) < 10")
        if 0 < self.spike_factor <= 1:
            raise ConfigError(f"training setting spike_factor must be 0 (off) or above 1, got {self.spike_factor}")

    def to_dict(self) -> dict:
        general = [(s.name, getattr(self, s.name)) for s in settings_of(TrainConfig)]
        stored = dict(self.objective_values)
        # The objective's settings right after it, as files have always listed them.
        return stamped(TrainConfig, dict([general[0], *((name, stored[name]) for name in objective_settings()
                                                        if name in stored), *general[1:]]))

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Settings from JSON: every value checked by its declaration, so a wrong type says so by name."""
        known = all_settings()
        data = upgrade(TrainConfig, data, "training settings", ConfigError)  # files of older versions still load
        data = renamed(known.values(), data)  # older names of a setting still load
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training setting {unknown[0]!r}")
        values = {}
        for name, value in data.items():
            expected = known[name].kind
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(f"training setting {name} must be {expected.__name__}, got {value!r}")
            values[name] = value
        return cls(**values)

    def _values(self) -> dict:
        """Every setting by name, as keyword arguments (to_dict without the file's version)."""
        return {name: value for name, value in self.to_dict().items() if name != VERSION_KEY}

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig(**{**self._values(), **changes})

    def edit(self, name: str, value: Any) -> "TrainConfig":
        """One setting changed as a form changes it: the objective brings its own settings, and the
        objective settles what follows from the edit (choosing a task mix starts a mixture)."""
        if name == "objective" and value != self.objective:
            return self.with_objective(value)
        data = {**self.to_dict(), name: value}
        try:
            data = get_objective(self.objective).settle(data, name)
        except ValueError:
            pass  # an unknown objective: building names it
        return TrainConfig.from_dict(data)

    def with_objective(self, objective: str) -> "TrainConfig":
        """Switch objective the way the form does: text settings of the old one are cleared, the new
        one's take their declared defaults (its first task)."""
        data = self._values()
        for name, setting in objective_settings().items():
            if setting.kind is str:
                data[name] = ""
        for setting in _declared(objective):
            if setting.kind is str:
                data[setting.name] = setting.default
        return TrainConfig(**{**data, "objective": objective})


def _declared(objective: str) -> list[Setting]:
    try:
        return settings_of(get_objective(objective).Settings)
    except ValueError:
        return []  # an unknown objective: _check names it


def all_settings() -> dict[str, Setting]:
    """Every training setting a TrainConfig holds, its general ones first, then the objectives'."""
    return {**{s.name: s for s in settings_of(TrainConfig)}, **objective_settings()}


def shown_settings(config: TrainConfig) -> list[Setting]:
    """The settings a form shows for `config`: the general ones and its objective's own, right after
    the objective, each when its visible_when holds."""
    general = settings_of(TrainConfig)
    own = [s for s in _declared(config.objective)]
    ordered = general[:1] + own + general[1:]
    values = config.to_dict()
    return [s for s in ordered if s.shown(values)]
