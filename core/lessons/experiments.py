"""Experiment kinds: how a lab turns its settings into evidence.

An experiment is data in the lab file: {"kind": KIND, ...settings}. Each kind is one function that
writes what it needs into the lab's folder and returns Evidence: named numbers the check reads
("adamw.val_loss", "bpe.chars_per_token"), and what the window shows beside the verdict (a table,
curves, a heatmap). Kinds:

    runs          training runs that differ in one setting, then measures on the finished runs
                  (core/lessons/lab_runs.py)
    tokenizers    char/BPE/WordPiece/Unigram trained on one corpus: characters per token, vocabulary,
                  unknown rate, and how words the training text never had are split
    attention_cost  time and memory of attention variants against sequence length, with the fitted
                  exponent of each (the slope of log cost on log length)
    model_facts   parameters (total and active), FLOPs and KV-cache bytes per token of several graphs,
                  their architectural features side by side, and their graph differences
                  (core/lessons/model_comparison.py)
"""

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from workbench.core.lessons.lab import ASSETS

Progress = Callable[[str], None]  # one line of progress ("training adamw: step 40/150")


class ExperimentError(ValueError):
    pass


@dataclass
class Evidence:
    values: dict[str, float] = field(default_factory=dict)  # named numbers the check reads
    columns: list[str] = field(default_factory=list)  # the evidence table's header
    rows: list[list] = field(default_factory=list)  # its rows, cells as shown
    curves: dict[str, list[list[float]]] = field(default_factory=dict)  # name -> [[x, y], ...]
    axes: tuple[str, str] = ("step", "validation loss")  # the curves' x and y labels
    log_axes: bool = False  # plot the curves on log-log axes (costs against length)
    heatmap: dict | None = None  # {"title", "matrix", "rows", "columns"}: one attention map
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run folder, to open in the window
    notes: list[str] = field(default_factory=list)  # lines printed under the table

    def to_dict(self) -> dict:
        return {"values": self.values, "columns": self.columns, "rows": self.rows, "curves": self.curves,
                "axes": list(self.axes), "log_axes": self.log_axes, "heatmap": self.heatmap, "runs": self.runs,
                "notes": self.notes}

    @classmethod
    def from_dict(cls, data: dict) -> "Evidence":
        return cls(dict(data.get("values", {})), list(data.get("columns", [])), list(data.get("rows", [])),
                   dict(data.get("curves", {})), tuple(data.get("axes", ("step", "validation loss"))),
                   bool(data.get("log_axes", False)), data.get("heatmap"), dict(data.get("runs", {})),
                   list(data.get("notes", [])))


def load_project(name: str, graph_edits: dict | None = None, where: str = "experiment"):
    """A bundled project (path relative to assets/) with graph edits {"path.param": value} applied,
    e.g. {"layers.repeat": 1, "layers/attn.kv_heads": 1, "positions.type": "position.rope"}."""
    from workbench.core.graph import GraphError
    from workbench.core.project import Project

    project = Project.load(ASSETS / name)
    for key, value in (graph_edits or {}).items():
        path, _, param = key.rpartition(".")
        if not path or not param:
            raise ExperimentError(f"{where}: graph edit {key!r} must read NODE_PATH.PARAM, e.g. layers/attn.heads")
        try:
            scope, node_id = project.graph.scope_of(path), path.split("/")[-1]
            if param == "type":  # swap the block for another of its kind: "positions.type": "position.alibi"
                scope.replace_node(node_id, value)
            else:
                scope.set_param(node_id, param, value)
        except (GraphError, KeyError) as exc:
            raise ExperimentError(f"{where}: graph edit {key!r}: {exc}") from None
    return project


# ----- tokenizers (week 5) -----


def tokenizers(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.data.tokenizer_report import measure_tokenizer, train_for_comparison

    project = load_project(settings["project"])
    vocab_size = int(settings["vocab_size"])
    evidence = Evidence(columns=["tokenizer", "vocabulary", "chars / token", "unknown %", "unseen words split as"])
    words = [w for text in project.tokenizer_texts(held_out=False) for w in text.split()]
    known = {w for w, _ in Counter(words).most_common(vocab_size)}
    held_out = [w for text in project.tokenizer_texts(held_out=True) for w in text.split()]
    word_unknown = sum(w not in known for w in held_out) / len(held_out)
    evidence.values["word.unknown_rate"] = word_unknown
    evidence.rows.append([f"whole words (the {vocab_size:,} commonest)", vocab_size,
                          round(sum(map(len, held_out)) / len(held_out), 3), f"{100 * word_unknown:.1f}",
                          " ".join(w if w in known else "[UNK]" for w in settings["unseen"])])
    for kind in settings["kinds"]:
        progress(f"training the {kind} tokenizer ({vocab_size:,} tokens)")
        tokenizer = train_for_comparison(kind, project.tokenizer_texts(held_out=False), vocab_size)
        report = measure_tokenizer(tokenizer, project.tokenizer_texts(held_out=True))
        pieces = [tokenizer.segment(word) for word in settings["unseen"]]
        unseen_unknown = sum(s.unknown for p in pieces for s in p) / max(1, sum(len(p) for p in pieces))
        evidence.values.update({f"{kind}.chars_per_token": report.chars_per_token, f"{kind}.vocab": report.vocab_size,
                                f"{kind}.unknown_rate": report.unknown_rate, f"{kind}.unseen_unknown": unseen_unknown})
        shown = "  ".join("·".join(s.text.strip() or s.text for s in p) for p in pieces)
        evidence.rows.append([kind, report.vocab_size, round(report.chars_per_token, 3),
                              f"{100 * report.unknown_rate:.2f}", shown])
    seen = sorted(set(settings["unseen"]) & set(words))
    evidence.notes.append(f"unseen words: {', '.join(settings['unseen'])} ("
                          + (f"but {', '.join(seen)} occur in the training text" if seen else
                             "none occurs in the training text") + ")")
    return evidence


# ----- attention cost (week 8) -----


def _attention_module(variant: dict, width: int, heads: int, length: int) -> torch.nn.Module:
    from workbench.core.nn.attention import SelfAttention
    from workbench.core.nn.efficient_attention import KernelAttention, LinformerAttention

    kind = variant["kind"]
    if kind in ("full", "local"):  # backend: "reference" is the paper's math, "sdpa" PyTorch's fused kernel
        return SelfAttention(width, heads, causal=True, bias=False, dropout=0.0, backend=variant.get("backend", "auto"),
                             window=variant.get("window") if kind == "local" else None)
    if kind == "linformer":
        return LinformerAttention(width, heads, length, variant["rank"], bias=False, dropout=0.0)
    if kind == "performer":
        return KernelAttention(width, heads, causal=False, features=variant["features"], seed=0, kernel="favor",
                               bias=False, dropout=0.0)
    raise ExperimentError(f"unknown attention variant kind {kind!r}: full, local, linformer or performer")


def _saved_bytes(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes the forward keeps for backward: attention's training memory, measured on any device."""
    total = 0

    def pack(tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(x.requires_grad_(True))
    return total


def fit_exponent(lengths: list[int], costs: list[float]) -> float:
    """Least-squares slope of log(cost) on log(length): cost ∝ length ** slope."""
    xs, ys = [math.log(v) for v in lengths], [math.log(max(c, 1e-12)) for c in costs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def attention_cost(settings: dict, folder: Path, progress: Progress) -> Evidence:
    lengths, width, heads = [int(t) for t in settings["lengths"]], int(settings["width"]), int(settings["heads"])
    repeats = int(settings.get("repeats", 5))
    evidence = Evidence(columns=["attention", *(f"T={t} ms" for t in lengths), "time exponent", "memory exponent"],
                        axes=("sequence length", "forward ms"), log_axes=True)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread's CPU time: what the attention costs, whatever else the machine runs
    try:
        for name, variant in settings["variants"].items():
            _measure_variant(name, variant, lengths, width, heads, repeats, evidence, progress)
    finally:
        torch.set_num_threads(threads)
    evidence.notes.append(f"width {width}, {heads} heads, batch 1, forward, one thread; CPU time, the least of "
                          f"{repeats}; memory is what the forward keeps for backward")
    return evidence


def _measure_variant(name: str, variant: dict, lengths: list[int], width: int, heads: int, repeats: int,
                     evidence: Evidence, progress: Progress) -> None:
    times, memory = [], []
    for length in lengths:
        progress(f"timing {name} attention at {length} positions")
        module = _attention_module(variant, width, heads, length).eval()
        x = torch.randn(1, length, width)
        with torch.no_grad():
            module(x)  # warm-up: allocator growth, first-call dispatch
            best = math.inf
            for _ in range(repeats):  # process CPU time: a busy machine delays the work but does not add to it
                start = time.process_time()
                module(x)
                best = min(best, time.process_time() - start)
        times.append(best * 1e3)
        memory.append(_saved_bytes(module.train(), x))
    exponent, memory_exponent = fit_exponent(lengths, times), fit_exponent(lengths, memory)
    evidence.values.update({f"{name}.time_exponent": exponent, f"{name}.memory_exponent": memory_exponent})
    evidence.curves[name] = [[t, ms] for t, ms in zip(lengths, times)]
    evidence.rows.append([name, *(f"{ms:.2f}" for ms in times), round(exponent, 2), round(memory_exponent, 2)])


# ----- model facts (weeks 8 and 12) -----

def model_facts(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.lessons.model_comparison import model_facts as compare_models

    return compare_models(settings, folder, progress)


def _runs(settings: dict, folder: Path, progress: Progress) -> Evidence:
    from workbench.core.lessons.lab_runs import train_runs

    return train_runs(settings, folder, progress)


def _lazy(module: str, name: str) -> Callable[[dict, Path, Progress], Evidence]:
    """An experiment kind whose code lives in its own module of core/lessons/, imported when a lab runs."""
    def run(settings: dict, folder: Path, progress: Progress) -> Evidence:
        import importlib

        return getattr(importlib.import_module(f"workbench.core.lessons.{module}"), name)(settings, folder, progress)
    return run


EXPERIMENTS: dict[str, tuple[tuple[str, ...], Callable[[dict, Path, Progress], Evidence]]] = {
    # kind -> (the settings it needs, the function)
    "runs": (("runs",), _runs),
    "tokenizers": (("project", "kinds", "vocab_size", "unseen"), tokenizers),
    "attention_cost": (("lengths", "width", "heads", "variants"), attention_cost),
    "model_facts": (("models",), model_facts),
    "sweep": (("project", "widths", "token_budgets"), _lazy("sweep_lab", "sweep")),
    "training_cost": (("project", "variants"), _lazy("cost_lab", "training_cost")),
    "distributed_memory": (("project",), _lazy("distributed_lab", "distributed_memory")),  # + strategies or layouts
    "clean_data": (("project", "clean", "train"), _lazy("clean_data_lab", "clean_data")),
}


def validate_experiment(spec: dict, where: str) -> None:
    kind = spec["kind"]
    if kind not in EXPERIMENTS:
        raise ExperimentError(f"{where}: unknown experiment kind {kind!r}; choose one of {', '.join(EXPERIMENTS)}")
    missing = [name for name in EXPERIMENTS[kind][0] if name not in spec]
    if missing:
        raise ExperimentError(f"{where}: a {kind!r} experiment needs {', '.join(missing)}")
    if kind == "runs":
        from workbench.core.lessons.lab_runs import validate_runs

        validate_runs(spec, where)


def run_experiment(spec: dict, folder: Path, progress: Progress) -> Evidence:
    return EXPERIMENTS[spec["kind"]][1](spec, folder, progress)
