"""main.py eval-length RUN [--factors 1,2,4] [--windows N] [--json]: held-out loss per position at
contexts longer than the run trained on (core/length_eval.py)."""

import json

from workbench.cli import Command, numbers


def _arguments(parser) -> None:
    parser.add_argument("run", help="a run folder of a causal LM")
    parser.add_argument("--factors", default="1,2,4", help="contexts to evaluate, as multiples of the training one")
    parser.add_argument("--windows", type=int, default=16, help="held-out windows averaged per length")
    parser.add_argument("--json", action="store_true", help="every position's loss, machine-readable")


def _eval_length(args) -> int:
    from workbench.core.length_eval import loss_by_position
    from workbench.core.lessons.lab_runs import load_project_length

    factors = numbers(args.factors, "factors")
    if not factors or min(factors) < 1 or args.windows < 1:
        raise ValueError("--factors takes whole numbers ≥ 1 and --windows at least 1")
    trained = load_project_length(args.run)
    curves = loss_by_position(args.run, [trained * f for f in factors], args.windows)
    if args.json:
        print(json.dumps([{"length": c.length, "trained_length": c.trained_length, "within": c.within,
                           "beyond": None if c.length <= c.trained_length else c.beyond, "losses": c.losses}
                          for c in curves]))
        return 0
    print(f"trained at {trained} tokens; held-out loss, mean of {args.windows} windows")
    print(f"{'context':>8}{'all':>9}{'within':>9}{'beyond':>9}")
    for c in curves:
        beyond = f"{c.beyond:9.3f}" if c.length > trained else f"{'—':>9}"
        print(f"{c.length:>8}{c.mean(0, c.length):9.3f}{c.within:9.3f}{beyond}")
    return 0


COMMANDS = (Command("eval-length", "held-out loss per position at 1×, 2×, 4× the training context",
                    _arguments, _eval_length),)
