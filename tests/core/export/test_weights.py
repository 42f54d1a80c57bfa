"""safetensors with the graph in its metadata: every preset rebuilds from the weights file alone."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from workbench.core.export.onnx_export import input_tensor
from workbench.core.export.weights import project_from_safetensors, read_metadata, save_safetensors
from workbench.core.project import ProjectError

from .tiny import PRESETS, tiny_project


@pytest.mark.parametrize("name", PRESETS)
def test_a_project_rebuilds_from_its_weights_file_alone(name, tmp_path):
    project = tiny_project(name)
    compiled = project.compile()
    path = save_safetensors(project, compiled, tmp_path / "model.safetensors")

    rebuilt = project_from_safetensors(path)
    assert rebuilt.name == project.name and rebuilt.weights == path.resolve()
    assert rebuilt.graph.to_dict() == project.graph.to_dict()
    assert rebuilt.tokenizer.to_dict() == project.tokenizer.to_dict()
    again = rebuilt.compile()
    again.module.eval(), compiled.module.eval()  # the genre classifier has dropout
    inputs = [input_tensor(compiled, n, 2, 9) for n in compiled.input_names]
    with torch.no_grad():
        assert torch.equal(again.module(*inputs), compiled.module(*inputs))


def test_metadata_and_tied_weights_are_stored_once(tmp_path):
    project = tiny_project("gpt")
    compiled = project.compile()
    path = save_safetensors(project, compiled, tmp_path / "model.safetensors")
    metadata = read_metadata(path)
    assert metadata["format"] == "transformer-workbench" and metadata["version"] == "1"
    assert json.loads(metadata["graph"])["nodes"][0]["id"] == "tokens"
    with safe_open(str(path), framework="pt") as handle:
        names = set(handle.keys())
    assert len({"tok_emb.weight", "lm_head.linear.weight"} & names) == 1  # the head shares the embedding


def test_a_file_without_a_graph_says_so(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ProjectError, match="holds weights only; its metadata has no Transformer Workbench graph"):
        project_from_safetensors(plain)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(ProjectError, match="not a readable safetensors file"):
        project_from_safetensors(broken)
