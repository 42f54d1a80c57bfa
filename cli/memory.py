"""main.py memory PROJECT: bytes per process for training the project, by component, and what fits a
device of a given size (issue #19's planner, core/training/memory_plan.py). Nothing is allocated."""

import json

from workbench.cli import Command


def _arguments(parser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument("--set", action="append", metavar="NAME=VALUE",
                        help="override a training setting, e.g. --set precision=bf16 "
                             "--set activation_checkpointing=true")
    parser.add_argument("--processes", type=int, default=1,
                        help="processes in all (torchrun's --nnodes × --nproc-per-node); data parallel takes "
                             "what --tensor-parallel × --pipeline-parallel leave")
    parser.add_argument("--tensor-parallel", type=int, metavar="TP",
                        help="processes splitting each repeated layer's linear weights (default: the "
                             "tensor_parallel setting)")
    parser.add_argument("--pipeline-parallel", type=int, metavar="PP",
                        help="stages splitting the repeated layers; grad_accumulation micro-batches flow "
                             "through them, GPipe order (default: the pipeline_parallel setting)")
    parser.add_argument("--zero", type=int, choices=(0, 1, 2, 3),
                        help="ZeRO stage to plan for (default: 3 with distributed=fsdp, else 0)")
    parser.add_argument("--context", type=int, help="sequence length (default: the graph's context)")
    parser.add_argument("--generate", type=int, metavar="TOKENS",
                        help="generation length for the KV cache (default: the context)")
    parser.add_argument("--gpu-gib", type=float, metavar="N", help="device memory: report the largest batch and "
                                                                   "context that fit in N GiB per process")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _memory(args) -> int:
    import dataclasses

    from workbench.cli.train import settings_from
    from workbench.core.project import Project
    from workbench.core.training.config import TrainConfig
    from workbench.core.training.memory_plan import GIB, Layout, Planner

    if args.processes < 1:
        raise ValueError(f"--processes must be at least 1, got {args.processes}")
    if args.gpu_gib is not None and not args.gpu_gib > 0:
        raise ValueError(f"--gpu-gib must be a positive number of GiB, got {args.gpu_gib}")
    project = Project.load(args.project)
    config = TrainConfig.from_dict({**project.train.to_dict(), **settings_from(args.set or [])})
    tensor = config.tensor_parallel if args.tensor_parallel is None else args.tensor_parallel
    pipeline = config.pipeline_parallel if args.pipeline_parallel is None else args.pipeline_parallel
    layout = Layout.from_config(config, args.processes, tensor, pipeline)
    if args.zero is not None:
        layout = dataclasses.replace(layout, zero_stage=args.zero)
    planner = Planner(project.graph)
    plan = planner.plan(config, layout, context=args.context, generation_length=args.generate)
    fits = None
    if args.gpu_gib is not None:
        limit = int(args.gpu_gib * GIB)
        fits = {"gpu_gib": args.gpu_gib, "fits": plan.training <= limit,
                "largest_batch_size": planner.largest_batch(config, layout, limit),
                "largest_context": planner.largest_context(config, layout, limit)}
    if args.json:
        print(json.dumps({"name": project.name, **plan.to_dict(), **({"device": fits} if fits else {})}, indent=2))
        return 0
    lay = plan.layout
    print(f"{project.name}: batch_size {plan.batch_size} at context {plan.context}, {config.precision}"
          f"{', activation checkpointing' if config.activation_checkpointing else ''}; {lay.processes} process(es) "
          f"= dp {lay.data} × tp {lay.tensor} × pp {lay.pipeline}, ZeRO {lay.zero_stage}"
          f"{', optimizer offloaded' if lay.offload else ''}; {plan.micro_batch} sequence(s) per forward")
    print(f"{'per process':<22}{'bytes':>16}{'':>12}")
    for name in (*plan.COMPONENTS, "training", "kv_cache", "host"):
        value = plan.training if name == "training" else getattr(plan, name)
        label = {"training": "total (training)", "kv_cache": f"KV cache (generate {args.generate or plan.context})",
                 "host": "CPU memory (offload)", "buffers": "communication"}.get(name, name)
        print(f"{label:<22}{value:>16,}{_human(value):>12}")
    if fits:
        verdict = "fits" if fits["fits"] else "does NOT fit"
        print(f"on {args.gpu_gib:g} GiB per process this {verdict}; largest batch_size "
              f"{fits['largest_batch_size']:,} at context {plan.context}, largest context "
              f"{fits['largest_context']:,} at batch_size {plan.batch_size} "
              f"(the graph's is {planner.shape.context_length})")
    return 0


def _human(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


COMMANDS = (Command("memory", "memory per process for training, by component, and what fits a device",
                    _arguments, _memory),)
