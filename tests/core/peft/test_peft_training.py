"""Training a fine-tuned project with the real trainer: only the fine-tuning weights move, the run
says how many parameters train, and a fully frozen project is refused with a reason."""

import pytest
import torch

import workbench.main as main
from workbench.core.project import Project
from workbench.core.training.trainer import TrainingError, start_run
from workbench.core.tuning import Tuning, add_lora, add_prompt_tuning, freeze_all_but_head

PEFT_NAMES = (".lora_", "prefix_keys", "prefix_values", ".prompt", ".up_weight", ".up_bias", ".down.")


def _train(project, run_dir):
    project.train = project.train.replace(sample_every=0, eval_batches=1)
    trainer = start_run(project, run_dir, ["pytest"], steps=3)
    before = {name: t.clone() for name, t in trainer.compiled.root.state_dict().items()}
    trainer.train()
    after = trainer.compiled.root.state_dict()
    return trainer, [name for name in before if not torch.equal(before[name], after[name])]


def test_lora_and_prefix_training_changes_only_their_own_weights(tiny_project, tmp_path):
    add_lora(tiny_project.graph, rank=2)
    tiny_project.graph.nodes["layers"].graph.set_tuning("attn", Tuning(lora_rank=2, prefix_length=2))
    trainer, changed = _train(tiny_project, tmp_path / "run")
    assert changed and all(any(mark in name for mark in PEFT_NAMES) for name in changed), changed
    assert any("lora_q_B" in name for name in changed) and any("prefix_keys" in name for name in changed)
    # LoRA: 2 layers × (q, v) × (A 2×32 + B 32×2); prefix: 2 layers × (keys, values) × 2 heads × 2 × 16
    assert "training 768 of 29,280 parameters (2.62%)" in (trainer.run.path / "log.txt").read_text()


def test_prompt_tuning_and_an_adapter_train_alone_in_a_frozen_model(tiny_project, tmp_path):
    graph = tiny_project.graph
    add_prompt_tuning(graph, length=4)
    inner = graph.nodes["layers"].graph
    adapter = inner.add_node("peft.adapter", {"bottleneck": 4})
    edge = next(e for e in inner.edges if e.src == "mlp")
    inner.disconnect(edge)
    inner.connect("mlp", "out", adapter, "x")
    inner.connect(adapter, "out", edge.dst, edge.dst_port)
    _, changed = _train(tiny_project, tmp_path / "run")
    assert changed and all(any(mark in name for mark in PEFT_NAMES) for name in changed), changed
    assert any(name.endswith(".prompt") for name in changed) and any("up_weight" in name for name in changed)


def test_a_project_with_every_weight_frozen_is_refused(tiny_project, tmp_path):
    freeze_all_but_head(tiny_project.graph)  # the LM head is tied to the frozen embedding
    with pytest.raises(TrainingError, match="every weight is frozen"):
        start_run(tiny_project, tmp_path / "run", ["pytest"])


def test_the_cli_trains_a_saved_lora_project_and_info_shows_the_trainable_share(tiny_project, tmp_path, capsys):
    add_lora(tiny_project.graph, rank=2)
    path = tiny_project.save()
    assert Project.load(path).graph.nodes["layers"].graph.nodes["attn"].tuning == Tuning(lora_rank=2)
    assert main.main(["info", str(path)]) == 0
    assert "trainable: 512 of 29,024 parameters (1.76%); 28,512 frozen" in capsys.readouterr().out
    assert main.main(["train", str(path), "--steps", "2", "--run-dir", str(tmp_path / "run")]) == 0
