"""The `model_facts` experiment (week 12, issues #22 and #25): recent LLMs side by side, every fact read
from their graphs. Per model: parameters and active parameters (a mixture of experts runs k of its E
experts per token), forward FLOPs and KV-cache bytes per token (core/summary.py), and the
architectural choices that tell the families apart, each found from the blocks and their wiring:

    norm, position, ffn, attention   the block variants (LayerNorm/RMSNorm, learned/RoPE/T5 bias, …)
    QK-norm          RMSNorm on each head's queries and keys (Qwen3; Dehghani et al. 2023)
    soft-cap         tanh capping of attention scores and/or final logits (Gemma 2)
    parallel block   attention and feed-forward read the same input and are summed (GPT-J, NeoX, Falcon)
    partial RoPE     only a share of each head's features rotate (GPT-NeoX rotary_pct)
    local/global     sliding-window and full-attention layers alternate (Gemma 2); all windowed: Mistral
    MoE              a routed mixture of experts in place of the MLP (Mixtral)
    fused gate-up    one stacked gate-and-up matmul (Phi-3)
    sandwich norm    a second norm on each sub-layer's output before the residual add (Gemma 2)
    biases           where the linear layers carry biases (GPT-2 everywhere, Qwen2 on QKV only, …)

and what it changes relative to a reference model (GPT-2 in the lab): the graph difference, node by
node, that the Training panel shows for two runs (core/training/compare.py), its rewired edges
counted in one line.
"""

from pathlib import Path

from workbench.core.graph import Graph, Group


def model_facts(settings: dict, folder: Path, progress) -> "Evidence":
    from workbench.core.budget import compile_shapes_only
    from workbench.core.lessons.experiments import Evidence, load_project
    from workbench.core.summary import summarize
    from workbench.core.training.compare import config_differences

    reference = settings.get("reference")
    projects = {}
    for model in settings["models"]:
        name = model["name"]
        progress(f"reading the {name} graph")
        projects[name] = load_project(model["project"], model.get("graph"), f"model {name}")
    if reference is not None and reference not in projects:
        from workbench.core.lessons.experiments import ExperimentError

        raise ExperimentError(f"model_facts: reference {reference!r} is not one of the models "
                              f"({', '.join(projects)}); name one of them")
    summaries = {name: summarize(p.graph, compile_shapes_only(p.graph)) for name, p in projects.items()}
    # Active parameters get a column only where some model leaves weights idle (a mixture of experts);
    # for dense models it would repeat the parameters column.
    sparse = any(s.active_params != s.total_params for s in summaries.values())
    evidence = Evidence(columns=["model", "parameters", *(["active parameters"] if sparse else []), "FLOPs / token",
                                 "KV bytes / token", "vocabulary", "tied", "norm", "position", "ffn", "attention",
                                 "features", *([f"changes vs {reference}"] if reference else [])])
    for name, project in projects.items():
        graph, summary = project.graph, summaries[name]
        found = block_features(graph)
        evidence.values.update({f"{name}.params": summary.total_params, f"{name}.active_params": summary.active_params,
                                f"{name}.flops": summary.flops_per_token,
                                f"{name}.kv_bytes": summary.kv_cache_bytes_per_token})
        row = [name, f"{summary.total_params:,}", *([f"{summary.active_params:,}"] if sparse else []),
               f"{summary.flops_per_token:,}", f"{summary.kv_cache_bytes_per_token:,}", summary.vocab_size,
               "yes" if _tied(graph) else "no", found["norm"], found["position"], found["ffn"], found["attention"],
               " · ".join(distinctive(graph)) or "—"]
        if reference:
            lines = architecture_changes(_differences(projects[reference], project, config_differences))
            evidence.values[f"diff.{reference}.{name}"] = len(lines)
            row.append("; ".join(lines) if name != reference else "(the reference)")
        evidence.rows.append(row)
    for a, b in settings.get("diffs", []):
        lines = _differences(projects[a], projects[b], config_differences)
        evidence.values[f"diff.{a}.{b}"] = len(lines)
        evidence.notes.append(f"{a} → {b}: " + ("; ".join(lines) if lines else "the same graph"))
    return evidence


def _differences(a, b, config_differences) -> list[str]:
    """How project b's graph differs from a's, one line per difference (the data and tokenizer too)."""
    return config_differences({"project": a.to_dict()}, {"project": b.to_dict()})


def architecture_changes(lines: list[str]) -> list[str]:
    """The graph differences a reader compares architectures by: the blocks and their settings, with the
    rewired edges counted in one line, and the tokenizer and data left out (the vocabulary column has the
    size; a tokenizer's alphabet or merges say nothing about the architecture)."""
    kept = [line for line in lines if not line.startswith(("connected ", "disconnected ", "tokenizer ", "data "))]
    rewired = sum(line.startswith(("connected ", "disconnected ")) for line in lines)
    return kept + ([f"rewired {rewired} connection{'s' * (rewired != 1)}"] if rewired else [])


def _tied(graph: Graph) -> bool:
    return any(node.type_id.startswith("head.") and "tie_weights" in node.params and node.get_param("tie_weights")
               for _, node in graph.walk())


BLOCK_KINDS = {"norm": ("norm.",), "position": ("position.",), "ffn": ("ffn.",), "attention": ("attention.self",)}


def block_features(graph: Graph) -> dict[str, str]:
    """The block variant of each kind ('layer, rms'), and the attention's heads layout and window."""
    found: dict[str, set] = {name: set() for name in BLOCK_KINDS}
    attention = set()
    for _, node in graph.walk():
        type_id = getattr(node, "type_id", "")
        for name, prefixes in BLOCK_KINDS.items():
            if type_id.startswith(prefixes):
                found[name].add(type_id.split(".", 1)[1])
        if type_id == "attention.self":
            heads, kv = node.get_param("heads"), node.get_param("kv_heads") or node.get_param("heads")
            window = node.get_param("window")
            kind = "MHA" if kv == heads else "MQA" if kv == 1 else f"GQA {heads}/{kv}"
            attention.add(kind + (f", window {window}" if window else ""))
    found["attention"] = attention
    # Gemma 2's layers differ in the window: "GQA 4/2; GQA 4/2, window 32" keeps each layer's kind whole.
    return {name: ("; " if name == "attention" else ", ").join(sorted(values)) or "—" for name, values in found.items()}


def distinctive(graph: Graph) -> list[str]:
    """The choices in the module docstring's list that this graph makes, in that order."""
    nodes = [node for _, node in graph.walk() if not isinstance(node, Group)]
    attention = [n for n in nodes if n.type_id == "attention.self"]
    heads = [n for n in nodes if n.type_id.startswith("head.")]
    features = []
    if any(_param(n, "qk_norm", False) for n in attention):
        features.append("QK-norm")
    caps = [f"scores ±{_param(n, 'softcap', 0):g}" for n in attention[:1] if _param(n, "softcap", 0)]
    caps += [f"logits ±{_param(n, 'softcap', 0):g}" for n in heads if _param(n, "softcap", 0)]
    if caps:
        features.append("soft-cap " + ", ".join(caps))
    if any(_parallel(group) for group in _layer_groups(graph)):
        features.append("parallel block")
    fractions = [_param(n, "fraction", 1.0) for n in nodes if n.type_id == "position.rope"]
    if any(f < 1 for f in fractions):
        features.append(f"partial RoPE {min(fractions):.0%}")
    windows = {bool(_param(n, "window", 0)) for n in attention if _param(n, "causal", True)}
    if windows == {True, False}:
        features.append("local/global")
    moe = [n for n in nodes if n.type_id == "ffn.moe"]
    if moe:
        features.append(f"MoE top-{moe[0].get_param('top_k')} of {moe[0].get_param('experts')}")
    if any(n.type_id.startswith("ffn.") and _param(n, "fused", False) for n in nodes):
        features.append("fused gate-up")
    if any(_sandwich(group) for group in _layer_groups(graph)):
        features.append("sandwich norm")
    features.append(f"biases: {_biases(nodes)}")
    return features


def _param(node, name: str, default):
    """A parameter the block may not have (older blocks, other variants): its default here."""
    return node.get_param(name) if name in node.params or name in node.block.default_params() else default


def _layer_groups(graph: Graph) -> list[Graph]:
    return [node.graph for _, node in graph.walk() if isinstance(node, Group)]


def _parallel(scope: Graph) -> bool:
    """Attention and feed-forward in one layer, neither reachable from the other: they run side by side
    on the same input and their outputs are summed (GPT-J's parallel residual)."""
    import networkx as nx

    g = scope.nx()
    attention = [i for i, n in scope.nodes.items() if getattr(n, "type_id", "") == "attention.self"]
    ffns = [i for i, n in scope.nodes.items() if getattr(n, "type_id", "").startswith("ffn.")]
    return any(a not in nx.ancestors(g, f) and f not in nx.ancestors(g, a) for a in attention for f in ffns)


def _sandwich(scope: Graph) -> bool:
    """A norm fed directly by attention or a feed-forward: it normalises the sub-layer's output before
    the residual add (Gemma 2's post-norms), on top of the usual pre-norm."""
    sublayers = {i for i, n in scope.nodes.items()
                 if getattr(n, "type_id", "").startswith(("attention.", "ffn."))}
    return any(edge.src in sublayers and getattr(scope.nodes[edge.dst], "type_id", "").startswith("norm.")
               for edge in scope.edges)


def _biases(nodes) -> str:
    """Where linear layers carry biases: everywhere, on QKV only, or nowhere (norm shifts aside)."""
    attention = [n for n in nodes if n.type_id.startswith("attention.")]
    ffns = [n for n in nodes if n.type_id.startswith("ffn.")]
    qkv = any(_param(n, "bias", False) for n in attention)
    out = any(_param(n, "bias", False) and _param(n, "output_bias", True) for n in attention)
    ffn = any(_param(n, "bias", False) for n in ffns)
    if qkv and out and ffn:
        return "all linears"
    if qkv and not out and not ffn:
        return "QKV only"
    if not (qkv or out or ffn):
        return "none"
    return ", ".join(part for part, on in (("QKV", qkv), ("attention out", out), ("FFN", ffn)) if on)
