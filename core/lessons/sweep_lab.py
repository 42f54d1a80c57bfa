"""The `sweep` experiment (week 10): one project trained at several widths and token budgets by the
same sweep as `main.py sweep` (core/training/sweep.py), then its scaling law and compute-optimal point.

    {"kind": "sweep", "project": "presets/gpt-tiny.json", "widths": [32, 64, 96, 128],
     "token_budgets": [163840, 327680], "train": {"batch_size": 16, "learning_rate": 0.002, ...}}

Evidence, for the check: W{width}.T{tokens}.val_loss per run; smallest.val_loss and largest.val_loss
(the smallest and largest width at the largest budget); falls_with_size, the share of neighbouring
widths (at each budget) where the wider model ends lower; the fit's alpha, beta, E and rmse
(L = E + A/N^α + B/D^β, Hoffmann et al. 2022, approach 3); and with two budgets or more
optimal.params (0 when there is none) and optimal.tokens, the compute-optimal split of ten times the largest run's compute.
The curves are loss against non-embedding parameters, one per budget, on log-log axes.
"""

from pathlib import Path

from workbench.core.lessons.experiments import Evidence, ExperimentError, Progress, load_project


def sweep(settings: dict, folder: Path, progress: Progress) -> Evidence:
    import shutil

    from workbench.core.training.config import TrainConfig
    from workbench.core.training.sweep import run_sweep

    project = load_project(settings["project"], settings.get("graph"), "sweep experiment")
    try:
        project.train = TrainConfig.from_dict({**project.train.to_dict(), **settings.get("train", {})})
    except ValueError as exc:
        raise ExperimentError(f"sweep experiment: {exc}") from None
    widths, budgets = [int(w) for w in settings["widths"]], [int(t) for t in settings["token_budgets"]]
    out = folder / "sweep"
    if out.exists():  # a lab sweep starts afresh: its check reads these runs and no others
        shutil.rmtree(out)
    try:
        result = run_sweep(project, out, widths, budgets,
                           lambda p: progress(f"width {p.width} ({p.params:,} parameters), {p.tokens:,} tokens: "
                                              f"validation loss {p.val_loss:.3f}"))
    except ValueError as exc:
        raise ExperimentError(f"sweep experiment: {exc}") from None
    return sweep_evidence(result, widths, budgets)


def sweep_evidence(result: dict, widths: list[int], budgets: list[int]) -> Evidence:
    """The numbers, table and curves of a finished sweep (sweep.json's content)."""
    evidence = Evidence(columns=["width", "non-embedding params", "tokens", "steps", "val loss", "fit predicts"],
                        axes=("non-embedding parameters", "validation loss"), log_axes=True)
    points = {(p["width"], p["tokens"]): p for p in result["points"]}
    fit = result.get("fit")
    for (width, tokens), point in sorted(points.items()):
        evidence.values[f"W{width}.T{tokens}.val_loss"] = point["val_loss"]
        predicted = (fit["E"] + fit["A"] / point["params"] ** fit["alpha"]
                     + (fit["B"] / point["tokens"] ** fit["beta"] if fit["B"] else 0.0)) if fit else None
        evidence.rows.append([width, f"{point['params']:,}", f"{point['tokens']:,}", point["steps"],
                              f"{point['val_loss']:.3f}", "—" if predicted is None else f"{predicted:.3f}"])
        evidence.runs[f"width {width}, {tokens:,} tokens"] = point["run"]
    for tokens in budgets:
        evidence.curves[f"{tokens:,} tokens"] = [[points[(w, tokens)]["params"], points[(w, tokens)]["val_loss"]]
                                                 for w in widths if (w, tokens) in points]
    top = max(budgets)
    evidence.values["smallest.val_loss"] = points[(min(widths), top)]["val_loss"]
    evidence.values["largest.val_loss"] = points[(max(widths), top)]["val_loss"]
    ordered = sorted(widths)
    pairs = [(points[(a, t)]["val_loss"], points[(b, t)]["val_loss"]) for t in budgets
             for a, b in zip(ordered, ordered[1:]) if (a, t) in points and (b, t) in points]
    evidence.values["falls_with_size"] = sum(wide < narrow for narrow, wide in pairs) / max(len(pairs), 1)
    if fit:
        evidence.values.update({"alpha": fit["alpha"], "beta": fit["beta"], "E": fit["E"], "rmse": fit["rmse"]})
        evidence.notes.append(f"fit: L = {fit['E']:.3f} + {fit['A']:.3g} / N^{fit['alpha']:.2f}"
                              + (f" + {fit['B']:.3g} / D^{fit['beta']:.2f}" if fit["B"] else "")
                              + f" (rmse {fit['rmse']:.4f} nats)")
    optimal = result.get("compute_optimal")
    evidence.values["optimal.params"] = 0.0  # stays 0 when the fit gives no split (one budget, or no data term)
    if optimal:
        evidence.values.update({"optimal.params": optimal["params"], "optimal.tokens": optimal["tokens"],
                                "optimal.tokens_per_param": optimal["tokens"] / optimal["params"]})
        evidence.notes.append(f"compute-optimal at {optimal['flops']:.3g} FLOPs (10× the largest run): "
                              f"{optimal['params']:,.0f} parameters on {optimal['tokens']:,.0f} tokens, "
                              f"{optimal['tokens'] / optimal['params']:.1f} tokens per parameter, "
                              f"predicted loss {optimal['loss']:.3f}")
    return evidence
