"""main.py info PROJECT: parameters, shapes, FLOPs and KV cache per node, without building weights."""

import json

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _info(args) -> int:
    from workbench.core.budget import check_weights_fit, compile_shapes_only, describe, model_budget
    from workbench.core.project import Project
    from workbench.core.summary import summarize
    from workbench.core.tuning import parameter_counts

    project = Project.load(args.project)
    budget = model_budget(project.graph)
    if budget is not None:  # before anything is built: a 50 GB model is refused with its size, not attempted
        check_weights_fit(budget)
    # Without a weights file nothing needs values: the meta device gives every shape and count.
    compiled = project.compile() if project.weights else compile_shapes_only(project.graph)
    summary = summarize(project.graph, compiled)
    trainable, every = parameter_counts(compiled.root)  # frozen weights count in `every` only
    if args.json:
        print(json.dumps({"name": project.name, **summary.to_dict(), "trainable_params": trainable,
                          "all_params": every}, indent=2))
        return 0
    print(f"{project.name}: vocabulary {summary.vocab_size}, context {summary.context_length}")
    print(f"{'node':<22}{'block':<20}{'×':>3}{'parameters':>13}{'FLOPs/token':>14}{'KV B/token':>11}  output")
    for row in summary.rows:
        shapes = ", ".join(f"{port} {shape}" for port, shape in row.outputs.items())
        cache = f"{row.kv_cache_bytes_per_token:,}" if row.kv_cache_bytes_per_token else ""
        print(f"{row.path:<22}{row.title:<20}{row.instances or '':>3}{row.params:>13,}{row.flops_per_token:>14,}"
              f"{cache:>11}  {shapes}")
    print(f"total: {summary.total_params:,} parameters, {summary.flops_per_token:,} forward FLOPs/token, "
          f"{summary.training_flops_per_token:,} training FLOPs/token (≈ 6N = {6 * summary.total_params:,}), "
          f"KV cache {summary.kv_cache_bytes_per_token:,} bytes/token")
    frozen = f"; {every - trainable:,} frozen" if trainable < every else ""
    print(f"trainable: {trainable:,} of {every:,} parameters ({trainable / every:.2%}){frozen}")
    print(describe(budget, project.train))
    return 0


COMMANDS = (Command("info", "parameters, shapes and FLOPs per node", _arguments, _info),)
