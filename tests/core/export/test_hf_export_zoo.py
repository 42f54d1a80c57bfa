"""Hugging Face export of issue #25's presets: each is written with --hf, loaded by transformers as
its own family (Qwen2, Qwen3, Gemma 2, Phi-3, GPT-NeoX, Falcon, Mixtral; OPT when it projects its
embeddings) and held to the app's logits within 1e-4; the folder imports back to the same graph."""

import json

import pytest
import torch

from workbench.core.export.hf_export import write_hf
from workbench.core.export.hf_import import import_hf
from workbench.core.project import Project
from tests.conftest import REPO
from tests.core.export.test_hf_export import _inputs

transformers = pytest.importorskip("transformers")

EXPECTED_CLASS = {"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM", "gemma2": "Gemma2ForCausalLM",
                  "phi3": "Phi3ForCausalLM", "neox": "GPTNeoXForCausalLM", "falcon": "FalconForCausalLM",
                  "mixtral": "MixtralForCausalLM", "opt-projected": "OPTForCausalLM"}


def _project(name: str) -> Project:
    if name != "opt-projected":
        return Project.load(REPO / "assets/presets" / f"{name}-tiny.json")
    from workbench.core.architectures import FAMILIES, build_graph
    project = Project.load(REPO / "assets/presets/opt-tiny.json")
    arch = FAMILIES["opt"].replace(vocab_size=project.tokenizer.vocab_size, embedding_width=64, layers=2)
    project.graph = build_graph(arch)
    return project


@pytest.mark.parametrize("name", list(EXPECTED_CLASS))
def test_zoo_presets_load_in_transformers_as_their_family_with_the_apps_logits(name, tmp_path):
    project = _project(name)
    torch.manual_seed(0)
    compiled = project.compile()
    with torch.no_grad():  # weights well above GPT-2's init, so the logits are not all near zero
        for p in compiled.root.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.1)
    write_hf(project, compiled, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == [EXPECTED_CLASS[name]]
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    values = _inputs(compiled)
    compiled.root.eval()
    with torch.no_grad():
        ours = compiled.module(*values.values())
        extra = {"position_ids": torch.arange(12).expand(2, 12)} if name.startswith("opt") else {}
        theirs = model(input_ids=values["tokens"], attention_mask=values["mask"], **extra).logits
    real = values["mask"].bool()
    assert theirs[real].std() > 0.05
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-4, rtol=0)
    _, weights, _ = import_hf(tmp_path)  # and back: the same tensors under the same names
    state = compiled.root.state_dict()
    assert sorted(weights) == sorted(state) and all(torch.equal(weights[n], state[n]) for n in state)
