"""main.py sweep PROJECT --sizes ... --tokens ...: several model sizes and a fitted scaling law L(N, D)."""

import json
from pathlib import Path

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--sizes", required=True, help="model widths, e.g. 32,64,96,128")
    parser.add_argument("--tokens", required=True, help="training tokens per run, e.g. 200000,800000")
    parser.add_argument("--out", type=Path, help="sweep folder (default: sweep-NAME-TIME in the runs folder)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                        help="also vary a training setting, e.g. learning_rate=1e-3,3e-3 (repeatable); the fit "
                             "takes each size's best run")


def _sweep(args) -> int:
    from workbench.core.project import Project
    from workbench.core.training.runs import new_run_folder
    from workbench.core.training.sweep import run_sweep

    def numbers(text: str, what: str) -> list[int]:
        try:
            return [int(float(part)) for part in text.split(",") if part.strip()]
        except ValueError:
            raise ValueError(f"--{what} takes comma-separated numbers, got {text!r}") from None

    project = Project.load(args.project)
    settings = setting_grid(args.set)
    out = args.out or new_run_folder(project.name, prefix="sweep-")
    print(f"sweep folder: {out}\n{'width':>6}{'N (non-emb.)':>14}{'tokens':>12}{'val loss':>10}", flush=True)
    result = run_sweep(project, out, numbers(args.sizes, "sizes"), numbers(args.tokens, "tokens"),
                       lambda p: print(f"{p.width:>6}{p.params:>14,}{p.tokens:>12,}{p.val_loss:>10.4f}"
                                       + "".join(f"  {k}={v}" for k, v in p.settings.items()), flush=True),
                       settings)
    fit = result.get("fit")
    if fit:
        print(f"fit: L(N, D) = {fit['E']:.3f} + {fit['A']:.4g}/N^{fit['alpha']:.2f} + {fit['B']:.4g}/D^{fit['beta']:.2f}"
              f"  (rmse {fit['rmse']:.4f})")
    optimum = result.get("compute_optimal")
    if optimum:
        print(f"compute-optimal at {optimum['flops']:.3g} FLOPs: N ≈ {optimum['params']:,.0f} parameters, "
              f"D ≈ {optimum['tokens']:,.0f} tokens, loss ≈ {optimum['loss']:.3f}")
    return 0


def setting_grid(options: list[str]) -> dict[str, list]:
    """["learning_rate=1e-3,3e-3"] -> {"learning_rate": [0.001, 0.003]}: each value read as JSON, else as text."""
    grid = {}
    for option in options:
        name, equals, values = option.partition("=")
        if not equals or not name.strip() or not values.strip():
            raise ValueError(f"--set takes NAME=V1,V2 (e.g. learning_rate=1e-3,3e-3), got {option!r}")
        grid[name.strip()] = [_value(v.strip()) for v in values.split(",") if v.strip()]
    return grid


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


COMMANDS = (Command("sweep", "train several model sizes and fit a scaling law L(N, D)", _arguments, _sweep),)
