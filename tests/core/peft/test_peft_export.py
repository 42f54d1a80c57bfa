"""Exporting a LoRA model writes merged plain weights: the files hold no LoRA tensors and compute what
the LoRA model computes."""

import torch
from safetensors import safe_open

from workbench.core.export.exporter import ExportSource, run_export, targets_in
from workbench.core.export.weights import project_from_safetensors
from workbench.core.tuning import add_lora
from tests.core.export.tiny import tiny_project


def test_export_with_lora_writes_merged_weights_with_parity(tmp_path):
    project = tiny_project("gpt")
    add_lora(project.graph, rank=2, targets=("q", "v", "proj"))
    compiled = project.compile()
    with torch.no_grad():  # a trained update, not B = 0, so merging has something to fold in
        for name, p in compiled.root.named_parameters():
            if "lora_" in name:
                p.normal_(std=0.5)
    report = run_export(ExportSource(project, compiled, "test"), targets_in(tmp_path, ["safetensors"]))
    assert report.ok, report.text()
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as handle:
        names = set(handle.keys())
    assert names and not [n for n in names if "lora" in n] and "layers.0.attn.qkv.weight" in names
    rebuilt = project_from_safetensors(tmp_path / "model.safetensors")
    assert not any(node.tuning.has_lora for _, node in rebuilt.graph.walk())
    assert rebuilt.graph.nodes["layers"].tuning.frozen  # the other settings stay with the graph
    tokens = torch.randint(0, compiled.ctx.vocab_size, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.compile().module(tokens), compiled.module(tokens), rtol=1e-5, atol=1e-5)
    assert any(".lora_" in name for name, _ in compiled.root.named_parameters())  # the source is left as it was
