"""The generated PyTorch file of every preset, and of the blocks no preset uses, run in a fresh
Python that cannot import the app, reproduces the app's logits."""

import ast

import torch

from workbench.core.export.onnx_export import input_tensor, portable_attention
from workbench.core.export.python_code import TOLERANCE, run_in_fresh_python, write_python
from workbench.core.export.weights import save_safetensors

from .tiny import PRESETS, tiny_project

# (preset, node path, block type): blocks the presets leave out, swapped in where they fit.
SWAPS = [("gpt2", "positions", "position.alibi"), ("gpt2", "positions", "position.sinusoidal"),
         ("gpt2", "positions", "position.none"), ("gpt2", "ln_f", "norm.batch"), ("llama", "layers/mlp", "ffn.geglu")]


def swapped(name: str, path: str, type_id: str):
    project = tiny_project(name)
    *group, node = path.split("/")
    graph = project.graph.nodes[group[0]].graph if group else project.graph
    graph.replace_node(node, type_id)
    return project


def test_every_preset_and_block_runs_on_torch_alone_with_the_apps_logits(tmp_path):
    projects = {name: tiny_project(name) for name in PRESETS}
    projects |= {f"{name}:{type_id}": swapped(name, path, type_id) for name, path, type_id in SWAPS}
    jobs, expected = [], []
    for key, project in projects.items():
        compiled = project.compile()
        code = write_python(project, compiled, tmp_path / f"{key.replace(':', '_')}.py")
        weights = save_safetensors(project, compiled, code.with_suffix(".safetensors"))
        inputs = [[input_tensor(compiled, n, batch, length, seed=length) for n in compiled.input_names]
                  for length, batch in ((1, 1), (7, 3), (16, 2))]
        with portable_attention(compiled.root, compiled.module), torch.no_grad():
            expected.append([compiled.module(*args) for args in inputs])
        jobs.append((code, weights, inputs))
    results = run_in_fresh_python(jobs)  # one process for all: starting torch takes seconds
    for key, wanted, got in zip(projects, expected, results):
        differences = [(a - b).abs().max().item() for a, b in zip(wanted, got)]
        assert max(differences) <= TOLERANCE, (key, differences)


def test_the_file_reads_top_to_bottom(tmp_path):
    project = tiny_project("llama")
    compiled = project.compile()
    text = write_python(project, compiled, tmp_path / "model.py").read_text()
    tree = ast.parse(text)
    imports = {name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for name in ([node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])}
    assert imports <= {"torch", "dataclasses", "json", "math", "struct"}
    classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
    assert classes[0] == "Config" and classes[-2:] == ["TransformerLayer", "Model"]
    assert {"SelfAttention", "RMSNorm", "GatedMLP", "RotaryPositions", "LMHead"} <= set(classes)
    assert "    layers: int = 2  # repeats of 'Transformer layer'" in text
    assert "self.attn = SelfAttention(config.width, heads=2, causal=True, bias=False, dropout=0.0, " \
           "backend='sdpa', kv_heads=1)" in text
    assert "attn = self.attn(ln_1, positions, mask)  # (B, T, 16)" in text
    assert "for block in self.layers:  # × 2" in text
    assert "def load(path: str, config: Config = Config()) -> Model:" in text
