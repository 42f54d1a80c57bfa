"""Week 12's comparison (issues #22, #25): the recent families' distinguishing features are found from
their graphs, MoE active parameters are fewer than the total, and each row says what changes vs GPT-2."""

import pytest

from workbench.core.lessons.experiments import ExperimentError, run_experiment
from workbench.core.lessons.lab import find_lab
from workbench.core.lessons.model_comparison import distinctive
from workbench.core.project import Project
from tests.conftest import REPO

PRESETS = REPO / "assets" / "presets"

FEATURES = {  # preset -> what sets it apart, in model_comparison's order
    "gpt2": ["biases: all linears"],
    "llama": ["biases: none"],
    "qwen2": ["biases: QKV only"],
    "qwen3": ["QK-norm", "biases: none"],
    "gemma2": ["soft-cap scores ±50, logits ±30", "local/global", "sandwich norm", "biases: none"],
    "phi3": ["fused gate-up", "biases: none"],
    "neox": ["parallel block", "partial RoPE 25%", "biases: all linears"],
    "opt": ["biases: all linears"],
    "falcon": ["parallel block", "biases: none"],
    "mixtral": ["MoE top-2 of 4", "biases: none"],
}


@pytest.mark.parametrize("preset", FEATURES)
def test_each_family_shows_what_sets_it_apart(preset):
    assert distinctive(Project.load(PRESETS / f"{preset}-tiny.json").graph) == FEATURES[preset]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    lab = find_lab("w12-llms-side-by-side")
    return run_experiment(lab.experiment, tmp_path_factory.mktemp("w12"), lambda line: None)


def test_the_table_covers_fourteen_families_with_active_parameters(evidence):
    names = [row[0] for row in evidence.rows]
    assert names == ["GPT-2", "BERT", "BART", "T5", "LLaMA", "Mistral", "Qwen2", "Qwen3", "Gemma 2", "Phi-3",
                     "Pythia", "OPT", "Falcon", "Mixtral"]
    values = evidence.values
    assert values["Mixtral.active_params"] < values["Mixtral.params"]
    assert values["LLaMA.active_params"] == values["LLaMA.params"]  # dense: every weight runs
    assert values["Falcon.kv_bytes"] * 4 == values["GPT-2.kv_bytes"]  # one key/value head of four
    column = evidence.columns.index("changes vs GPT-2")
    rows = dict(zip(names, evidence.rows))
    assert rows["GPT-2"][column] == "(the reference)"
    assert "layers/attn qk_norm: False → True" in rows["Qwen3"][column]
    assert values["diff.LLaMA.Qwen3"] == 1 and values["diff.LLaMA.Mistral"] == 1
    assert rows["Mixtral"][evidence.columns.index("features")] == "MoE top-2 of 4 · biases: none"


def test_a_reference_that_is_not_compared_says_so(tmp_path):
    spec = {"kind": "model_facts", "models": [{"name": "GPT-2", "project": "presets/gpt2-tiny.json"}],
            "reference": "LLaMA"}
    with pytest.raises(ExperimentError, match="reference 'LLaMA' is not one of the models \\(GPT-2\\)"):
        run_experiment(spec, tmp_path, lambda line: None)


def test_changes_vs_gpt2_count_rewiring_in_one_line_and_leave_the_tokenizer_out(evidence):
    column = evidence.columns.index("changes vs GPT-2")
    rows = {row[0]: row[column] for row in evidence.rows}
    assert rows["Pythia"] == ("positions: position.learned → position.rope; lm_head tie_weights: True → False; "
                              "layers/mlp activation: gelu_tanh → gelu; rewired 2 connections")
    assert "tokenizer" not in rows["BERT"] and "rewired" in rows["BERT"]
    assert evidence.values["diff.GPT-2.OPT"] == 1  # OPT's tiny preset: ReLU instead of GELU


def test_dense_models_get_no_active_parameters_column(tmp_path):
    """w8-kv-cache compares dense models only: the column would repeat the parameters."""
    found = run_experiment(find_lab("w8-kv-cache").experiment, tmp_path, lambda line: None)
    assert "active parameters" not in found.columns and found.columns[:4] == ["model", "parameters", "FLOPs / token",
                                                                             "KV bytes / token"]
