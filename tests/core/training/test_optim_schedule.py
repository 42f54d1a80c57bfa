"""Optimizers and schedules against values computed by hand from their papers' update rules."""

import math

import pytest
import torch

from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.training.optim import Lion, make_optimizer, parameter_groups
from workbench.core.training.schedule import learning_rate


def test_lion_follows_the_paper_update_rule():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    grads = [torch.tensor([0.3, -0.1, 0.0]), torch.tensor([-1.0, 0.2, 0.4])]
    theta, m = p.detach().clone(), torch.zeros(3)
    for g in grads:
        p.grad = g.clone()
        opt.step()
        update = torch.sign(0.9 * m + 0.1 * g)
        theta = theta * (1 - 0.1 * 0.5) - 0.1 * update
        m = 0.99 * m + 0.01 * g
        torch.testing.assert_close(p.detach(), theta)
    # by hand for the first coordinate: step 1: 1·0.95 − 0.1·sign(0.03) = 0.85;
    # m = 0.003; step 2: 0.85·0.95 − 0.1·sign(0.0027 − 0.1) = 0.9075
    assert p[0].item() == pytest.approx(0.9075)


def test_sgd_with_momentum_two_steps():
    w = torch.nn.Linear(1, 1, bias=False)
    w.weight.data.fill_(1.0)
    opt = make_optimizer(w, "sgd", lr=0.1, betas=(0.9, 0.99), weight_decay=0.0, momentum=0.9)
    for _ in range(2):
        w.weight.grad = torch.ones_like(w.weight)
        opt.step()
    # buffer 1, then 0.9·1 + 1 = 1.9: 1 − 0.1 − 0.19 = 0.71
    assert w.weight.item() == pytest.approx(0.71)


def test_adamw_first_step_moves_by_lr_and_decays():
    w = torch.nn.Linear(1, 1, bias=False)
    w.weight.data.fill_(2.0)
    opt = make_optimizer(w, "adamw", lr=0.1, betas=(0.9, 0.999), weight_decay=0.5)
    w.weight.grad = torch.full_like(w.weight, 3.0)
    opt.step()
    # decoupled decay 2·(1 − 0.05) = 1.9, then the bias-corrected Adam step is lr·sign(g) = 0.1
    assert w.weight.item() == pytest.approx(1.8, abs=1e-6)


def test_norms_and_biases_do_not_decay():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    decay, no_decay = parameter_groups(model, 0.1)
    assert [p.shape for p in decay["params"]] == [(4, 4)]
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0


def lr(step, schedule, **kw):
    args = dict(schedule=schedule, peak=1.0, floor=0.1, warmup=10, total=110, decay_fraction=0.2) | kw
    return learning_rate(step, **args)


def test_schedules_by_hand():
    assert lr(0, "cosine") == pytest.approx(0.1) and lr(9, "cosine") == pytest.approx(1.0)
    assert lr(60, "cosine") == pytest.approx(0.55)  # halfway through the cosine
    assert lr(110, "cosine") == pytest.approx(0.1)
    assert lr(50, "constant") == 1.0
    assert lr(39, "inverse_sqrt") == pytest.approx(math.sqrt(10 / 40))
    assert lr(10_000, "inverse_sqrt") == pytest.approx(0.1)  # never below the floor
    assert lr(87, "wsd") == 1.0  # decay starts at 110 − 22 = 88
    assert lr(99, "wsd") == pytest.approx(1.0 + (11 / 22) * (0.1 - 1.0))
    assert lr(110, "wsd") == pytest.approx(0.1)


def test_config_rejects_unknown_choices():
    with pytest.raises(ConfigError, match="optimizer must be one of adamw, adam, sgd, lion"):
        TrainConfig(optimizer="adagrad")
    with pytest.raises(ConfigError, match="schedule must be one of"):
        TrainConfig.from_dict({"schedule": "step"})
    with pytest.raises(ConfigError, match="unknown training setting 'epochs'"):
        TrainConfig.from_dict({"epochs": 3})
