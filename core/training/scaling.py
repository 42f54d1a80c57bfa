"""Scaling laws: fit L(N, D) = E + A / N^α + B / D^β to (parameters, tokens, loss) points
(Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", approach 3), and the
compute-optimal split of a budget C ≈ 6·N·D between model size and data.

Given α and β the law is linear in (E, A, B), so the fit scans a grid of exponents and solves a
small non-negative least-squares problem for each: no optimizer to tune, and the same answer on
every machine.
"""

import itertools
import math
from dataclasses import dataclass

import torch

TIE = 1e-9  # relative rmse difference below which two fits count as equal (see fit_scaling_law)


@dataclass(frozen=True)
class ScalingFit:
    E: float  # irreducible loss: what infinite data and parameters would still leave
    A: float  # scale of the parameter-limited term
    alpha: float  # exponent of N
    B: float  # scale of the data-limited term
    beta: float  # exponent of D
    rmse: float  # root-mean-square error of the fit, in loss units

    def loss(self, n: float, d: float) -> float:
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def compute_optimal(self, flops: float) -> tuple[float, float]:
        """(N, D) minimising the loss at C = 6·N·D (Hoffmann et al. 2022, eq. 4)."""
        if self.B <= 0 or self.beta <= 0:
            raise ValueError("the compute-optimal split needs runs at two or more token budgets")
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        n = g * (flops / 6) ** (self.beta / (self.alpha + self.beta))
        return n, flops / (6 * n)

    def to_dict(self) -> dict:
        return dict(vars(self))


def fit_scaling_law(points: list[tuple[float, float, float]]) -> ScalingFit:
    """points: (N parameters, D tokens, final loss). Needs at least 3 points with 2 distinct N."""
    if len(points) < 3 or len({n for n, _, _ in points}) < 2:
        raise ValueError("a scaling fit needs at least 3 runs covering at least 2 model sizes")
    n, d, loss = (torch.tensor(column, dtype=torch.float64) for column in zip(*points))
    single_budget = len({tokens for _, tokens, _ in points}) == 1
    alphas = [a / 100 for a in range(5, 151, 5)]
    betas = [0.0] if single_budget else [b / 100 for b in range(5, 151, 5)]
    best = None
    for alpha, beta in itertools.product(alphas, betas):
        columns = [torch.ones_like(n), n ** -alpha] + ([] if single_budget else [d ** -beta])
        coefficients = _nonnegative_least_squares(torch.stack(columns, dim=1), loss)
        residual = torch.stack(columns, dim=1) @ coefficients - loss
        rmse = residual.pow(2).mean().sqrt().item()
        # Near-ties keep the first exponents in grid order: with two token budgets every beta fits the two
        # budgets exactly, and which of those equal fits won used to follow LAPACK's last-bit noise, so the
        # window's refit of a sweep could print another law than the CLI's for the same points.
        if best is None or rmse < best[0] * (1 - TIE) - 1e-15:
            best = (rmse, alpha, beta, coefficients.tolist())
    rmse, alpha, beta, coefficients = best
    e, a = coefficients[0], coefficients[1]
    b = 0.0 if single_budget else coefficients[2]
    return ScalingFit(E=e, A=a, alpha=alpha, B=b, beta=beta if not single_budget else 0.0, rmse=rmse)


def _nonnegative_least_squares(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Least squares over the subsets of columns, keeping the best solution with no negative
    coefficient (at most 3 columns, so at most 7 subsets)."""
    best, best_error = torch.zeros(x.shape[1], dtype=x.dtype), math.inf
    for size in range(1, x.shape[1] + 1):
        for subset in itertools.combinations(range(x.shape[1]), size):
            solution = torch.linalg.lstsq(x[:, subset], y.unsqueeze(1)).solution.squeeze(1)
            if (solution < 0).any():
                continue
            full = torch.zeros(x.shape[1], dtype=x.dtype)
            full[list(subset)] = solution
            error = (x @ full - y).pow(2).sum().item()
            if error < best_error:
                best, best_error = full, error
    return best
