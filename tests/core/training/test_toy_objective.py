"""A new objective is one class and one registration (issue #17): this module writes one, registers
it, and trains with it; its setting is validated, saved in run.json and offered by `train --set`
without a change anywhere else."""

import json
from dataclasses import dataclass

import pytest
import torch

from workbench.cli.train import settings_from
from workbench.core.settings import param
from workbench.core.training.config import ConfigError, TrainConfig, shown_settings
from workbench.core.training.objectives import Objective, Setup, make_objective, register, unregister
from workbench.core.training.trainer import start_run


class SkipLM(Objective):
    """Predict the token `skip_stride` positions ahead instead of the next one: a causal LM whose
    targets are shifted further (multi-token prediction in its simplest form, Gloeckle et al. 2024)."""

    id = "toy_skip_lm"
    title = "the token skip_stride positions ahead"
    provides = ("tokens", "targets")
    metrics = ("loss", "val_loss")

    @dataclass(frozen=True)
    class Settings:
        skip_stride: int = param(2, min=1, max=8, units="tokens", help="toy_skip_lm: how far ahead the target is")

    def __init__(self, samplers, stride: int):
        self.samplers, self.stride = samplers, stride
        self.tokens_per_batch = samplers["train"].batch_size * samplers["train"].block_size

    @classmethod
    def create(cls, setup: Setup) -> "SkipLM":
        return cls(setup.samplers, setup.settings.skip_stride)

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        tokens, _ = self.samplers[split].batch(index)
        targets = torch.full_like(tokens, -1)  # the last positions have nothing that far ahead: not counted
        targets[:, : -self.stride] = tokens[:, self.stride:]
        return {"tokens": tokens, "targets": targets}


@pytest.fixture
def skip_lm():
    register(SkipLM)  # the one registration line a real objective module has at its class
    yield SkipLM
    unregister(SkipLM.id)


def test_a_registered_objective_trains_with_its_own_setting(skip_lm, tiny_project, tmp_path):
    tiny_project.train = tiny_project.train.replace(objective="toy_skip_lm", skip_stride=3, steps=1, eval_every=1,
                                                    eval_batches=1, sample_every=0, checkpoint_every=1)
    objective = make_objective(tiny_project, tiny_project.train, tiny_project.compile())
    batch = objective.batch(0, "train")
    assert torch.equal(batch["targets"][:, :-3], batch["tokens"][:, 3:]) and (batch["targets"][:, -3:] == -1).all()
    trainer = start_run(tiny_project, tmp_path / "run", ["test"])
    assert trainer.train() == "finished" and trainer.step == 1
    saved = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert saved["objective"] == "toy_skip_lm" and saved["skip_stride"] == 3
    assert TrainConfig.from_dict(saved) == tiny_project.train


def test_its_setting_is_validated_offered_and_shown_only_for_it(skip_lm):
    with pytest.raises(ConfigError, match="training setting skip_stride must be from 1 to 8, got 9"):
        TrainConfig(objective="toy_skip_lm", skip_stride=9)
    assert settings_from(["objective=toy_skip_lm", "skip_stride=4"]) == {"objective": "toy_skip_lm",
                                                                         "skip_stride": 4}
    with pytest.raises(ConfigError, match="--set: training setting skip_stride must be a whole number, got 'far'"):
        settings_from(["skip_stride=far"])
    assert "skip_stride" in [s.name for s in shown_settings(TrainConfig(objective="toy_skip_lm"))]
    assert "skip_stride" not in [s.name for s in shown_settings(TrainConfig())]


def test_an_unregistered_objective_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown training setting 'skip_stride'"):
        TrainConfig(skip_stride=2)
    with pytest.raises(ConfigError, match="objective must be one of causal_lm, .*, got 'toy_skip_lm'"):
        TrainConfig(objective="toy_skip_lm")
