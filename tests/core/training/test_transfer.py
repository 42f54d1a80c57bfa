"""Starting from earlier weights: tensors load by name and shape, the rest is reported, a file that
fits nothing is an error, and a fine-tuning run (masked LM -> genre classifier) starts from the
pre-trained encoder and logs what it took."""

import shutil

import pytest
import torch
from safetensors.torch import save_file

from workbench.core.project import ASSETS, Project
from workbench.core.training.config import TrainConfig
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import TrainingError, resume_run, start_run
from workbench.core.training.transfer import TransferError, transfer_weights, weights_file

PRESETS = ASSETS / "presets"
SHORT = dict(steps=2, batch_size=4, warmup_steps=1, log_every=1, eval_every=2, eval_batches=1, checkpoint_every=2,
             sample_every=0)


def preset(name: str, tmp_path, **train) -> Project:
    """A bundled preset on 20 kB of the corpus, trained for two short steps."""
    project = Project.load(PRESETS / f"{name}-tiny.json")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((ASSETS / "corpus" / "shakespeare.txt").read_text()[:20_000])
    project.data.corpus = corpus
    project.train = project.train.replace(**SHORT, **train)
    return project


def shared_names(a: dict, b: dict) -> set[str]:
    return {name for name in a if name in b and a[name].shape == b[name].shape}


def test_bert_presets_share_every_tensor_but_their_heads():
    mlm = Project.load(PRESETS / "bert-tiny.json").compile().training_module.state_dict()
    genre = Project.load(PRESETS / "bert-genre-tiny.json").compile().training_module.state_dict()
    shared = shared_names(mlm, genre)  # RoPE: no position table among them
    assert {name for name in mlm if name not in shared} == {n for n in mlm if n.startswith("mlm_head.")}
    assert {name for name in genre if name not in shared} == {n for n in genre if n.startswith("classifier.")}
    assert len(shared) == 52 and any(name.startswith("layers.3.attn") for name in shared)


def test_matching_tensors_load_and_the_rest_is_reported(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    file = tmp_path / "w.safetensors"
    save_file({"0.weight": torch.ones(3, 4), "0.bias": torch.full((3,), 2.0), "1.weight": torch.ones(5, 3),
               "extra": torch.zeros(1)}, str(file))
    kept = model[1].bias.clone()
    report = transfer_weights(model, file)
    assert report.loaded == ("0.weight", "0.bias") and torch.equal(model[0].weight, torch.ones(3, 4))
    assert report.mismatched == (("1.weight", (5, 3), (2, 3)),) and report.missing == ("1.bias",)
    assert report.unused == ("extra",) and torch.equal(model[1].bias, kept)
    text = "\n".join(report.lines())
    assert f"initialised 2 tensors from {file}" in text and "1.weight (file [5, 3], model [2, 3])" in text
    assert "kept their initialisation: 1.bias" in text and "not in this model: extra" in text


def test_nothing_fitting_is_an_error_that_says_why(tmp_path):
    model = torch.nn.Linear(4, 3)
    other_names, other_shapes = tmp_path / "names.safetensors", tmp_path / "shapes.safetensors"
    save_file({"encoder.weight": torch.ones(3, 4)}, str(other_names))
    save_file({"weight": torch.ones(8, 4), "bias": torch.ones(8)}, str(other_shapes))
    with pytest.raises(TransferError, match=r"none of the 1 tensors in .*names.safetensors fits this graph.*"
                                            r"file holds e.g. encoder.weight; the model expects e.g. weight"):
        transfer_weights(model, other_names)
    with pytest.raises(TransferError, match=r"2 share a name but not a shape \(e.g. weight: file \[8, 4\], model "
                                            r"\[3, 4\]"):
        transfer_weights(model, other_shapes)
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(TransferError, match="broken.safetensors is not a readable safetensors file"):
        transfer_weights(model, tmp_path / "broken.safetensors")


def test_sources_resolve_to_a_weights_file(tmp_path):
    with pytest.raises(TransferError, match="does not exist"):
        weights_file(tmp_path / "nowhere")
    with pytest.raises(TransferError, match="is neither a run folder, a checkpoint folder nor a .safetensors file"):
        weights_file(tmp_path)
    RunFolder.create(tmp_path / "run", {"name": "x"}, {}, [])
    with pytest.raises(TransferError, match="has no checkpoint yet"):
        weights_file(tmp_path / "run")


def test_a_classifier_fine_tunes_from_a_masked_lm_run_and_resumes_without_it(tmp_path):
    pretrained = tmp_path / "mlm"
    start_run(preset("bert", tmp_path), pretrained, ["test"]).train()
    checkpoint = RunFolder.open(pretrained).latest_checkpoint()
    assert weights_file(pretrained) == checkpoint / "model.safetensors" == weights_file(checkpoint)
    copy = tmp_path / "pretrained.safetensors"
    shutil.copy(checkpoint / "model.safetensors", copy)

    fine = tmp_path / "genre"
    trainer = start_run(preset("bert-genre", tmp_path, init_from=str(copy)), fine, ["test"])
    mlm = Project.load(PRESETS / "bert-tiny.json").compile()
    mlm.load_weights(copy)
    theirs, ours = mlm.training_module.state_dict(), trainer.compiled.training_module.state_dict()
    for name in shared_names(theirs, ours):
        assert torch.equal(ours[name], theirs[name]), name
    log = (fine / "log.txt").read_text()
    assert "initialised 52 tensors from" in log
    assert "not in the file, kept their initialisation: classifier.pooler.0.weight" in log
    unused = log.split("in the file but not in this model: ")[1].splitlines()[0].split(", ")
    tied = "mlm_head.decoder.weight"  # the token embedding's table, stored once under tok_emb.weight
    assert sorted(unused) == sorted(name for name in theirs if name.startswith("mlm_head.") and name != tied)
    assert trainer.train() == "finished"
    assert 0 <= RunFolder.open(fine).metrics()[-1]["val_accuracy"] <= 1  # classification logs its accuracy

    copy.unlink()  # a resumed run reads its own checkpoint, never init_from
    resumed = resume_run(fine, steps=3)
    assert resumed.step == 2 and resumed.train() == "finished"


def test_a_run_whose_init_from_fits_nothing_fails_with_the_reason(tmp_path):
    gpt = tmp_path / "gpt.safetensors"
    save_file({"tok_emb.weight": torch.zeros(65, 128)}, str(gpt))
    with pytest.raises(TrainingError, match=r"none of the 1 tensors in .*gpt.safetensors fits this graph; 1 share a "
                                            r"name but not a shape \(e.g. tok_emb.weight: file \[65, 128\], model "
                                            r"\[2048, 128\]"):
        start_run(preset("bert", tmp_path, init_from=str(gpt)), tmp_path / "run", ["test"])
    assert "failed" == RunFolder.open(tmp_path / "run").status


def test_init_from_is_a_training_setting():
    assert TrainConfig.from_dict({"init_from": "runs/mlm"}).init_from == "runs/mlm"
