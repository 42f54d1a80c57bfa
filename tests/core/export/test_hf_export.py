"""Hugging Face export: presets, a trained run and every imported family written with --hf, then
loaded by transformers (the oracle) and held to the app's logits within 1e-4; the tokenizer loads
with AutoTokenizer; import -> export -> import gives the same graph and tensors; a graph no family
computes is one line naming the block or setting."""

import dataclasses
import json

import pytest
import torch
from safetensors.torch import load_file

from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.compiler import compile_graph
from workbench.core.export.exporter import load_source, run_export
from workbench.core.export.hf_export import HFExportError, write_hf
from workbench.core.export.hf_import import import_hf, import_hf_project
from workbench.core.project import Project
from workbench.core.training.trainer import start_run
from tests.conftest import REPO
from tests.core.export.tiny import tiny_project
from tests.core.zoo.test_hf_import import _configs

transformers = pytest.importorskip("transformers")

AUTO = {"GPT2LMHeadModel": "AutoModelForCausalLM", "LlamaForCausalLM": "AutoModelForCausalLM",
        "MistralForCausalLM": "AutoModelForCausalLM", "BertForMaskedLM": "AutoModelForMaskedLM",
        "RoFormerForMaskedLM": "AutoModelForMaskedLM",
        "BertForSequenceClassification": "AutoModelForSequenceClassification",
        "BartForConditionalGeneration": "AutoModelForSeq2SeqLM", "T5ForConditionalGeneration": "AutoModelForSeq2SeqLM"}
HF_ARGUMENT = {"tokens": "input_ids", "mask": "attention_mask", "token_types": "token_type_ids",
               "dec_tokens": "decoder_input_ids", "dec_mask": "decoder_attention_mask"}


def _inputs(compiled, length=12):
    """Every input of the model: random ids; masks that pad the end of row 1 (right padding, which
    every family reads the same way); segment ids of both types."""
    generator = torch.Generator().manual_seed(0)
    values = {}
    for name in compiled.input_names:
        if name.endswith("mask"):
            values[name] = torch.ones(2, length, dtype=torch.long)
            values[name][1, -3:] = 0
        elif name == "token_types":
            values[name] = torch.randint(0, 2, (2, length), generator=generator)
        else:
            values[name] = torch.randint(0, compiled.ctx.vocab_size, (2, length), generator=generator)
    return values


def _max_logit_diff(compiled, folder) -> float:
    """The largest |difference| between transformers' logits from the folder and the app's, on real positions."""
    config = json.loads((folder / "config.json").read_text())
    model = getattr(transformers, AUTO[config["architectures"][0]]).from_pretrained(folder).eval()
    values = _inputs(compiled)
    compiled.root.eval()
    with torch.no_grad():
        ours = compiled.module(*values.values())
        theirs = model(**{HF_ARGUMENT[name]: value for name, value in values.items()}).logits
    assert theirs.shape == ours.shape
    mask = values.get("dec_mask", values.get("mask"))
    real = mask.bool() if mask is not None and ours.dim() == 3 else torch.ones(ours.shape[:-1], dtype=torch.bool)
    assert theirs[real].std() > 0.05  # not two near-zero tensors
    return (theirs[real] - ours[real]).abs().max().item()


PRESETS = ["gpt-tiny", "gpt2-tiny", "llama-tiny", "mistral-tiny", "bert-tiny", "bart-tiny", "t5-tiny", "bert",
           "bert-classifier"]


def _project(preset: str) -> Project:
    """A preset (bert-tiny has RoPE: it exports as RoFormer), or BERT as Hugging Face has it (learned
    positions) with the BERT presets' tokenizer."""
    if preset not in ("bert", "bert-classifier"):
        return Project.load(REPO / "assets/presets" / f"{preset}.json")
    project = Project.load(REPO / "assets/presets" / ("bert-genre-tiny.json" if preset == "bert-classifier"
                                                     else "bert-tiny.json"))
    changes = dict(head="head.classify", classes=3) if preset == "bert-classifier" else {}
    arch = FAMILIES["bert"].replace(vocab_size=project.tokenizer.vocab_size, layers=2, **changes)
    return dataclasses.replace(project, graph=build_graph(arch))


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_load_in_transformers_with_the_apps_logits(preset, tmp_path):
    project = _project(preset)
    torch.manual_seed(0)
    compiled = project.compile()
    if preset == "bert-classifier":  # a fresh classifier's logits are ~0.05: scale them well above 1e-4
        with torch.no_grad():
            compiled.root.get_parameter("classifier.classifier.weight").mul_(20)
    write_hf(project, compiled, tmp_path)
    diff = _max_logit_diff(compiled, tmp_path)
    print(f"{preset}: max |logit diff| {diff:.2e}")
    assert diff < 1e-4


def test_a_trained_run_exports_with_its_model_card(trained_run, tmp_path):
    report = run_export(load_source(trained_run), {"hf": tmp_path / "hf"})
    assert report.ok, report.text()
    folder = tmp_path / "hf"
    source = load_source(trained_run)
    assert _max_logit_diff(source.compiled, folder) < 1e-4
    card = (folder / "README.md").read_text()
    last = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()][-1]
    assert "pipeline_tag: text-generation" in card and f"| loss | {last['loss']:.4g} |" in card
    assert "| parameters |" in card and "learning_rate" in card and "loss_curve.png" in card
    png = (folder / "loss_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


@pytest.mark.parametrize("preset", ["gpt-tiny", "bert"])
def test_auto_tokenizer_encodes_as_the_app_does(preset, tmp_path):
    project = _project(preset)
    write_hf(project, project.compile(), tmp_path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = "ROMEO:\nBut, soft! what light through yonder window breaks?\n\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == project.tokenizer.encode(text)
    assert tokenizer.decode(ids) == project.tokenizer.decode(ids)


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf-families")
    folders = {}
    for name, (model_class, config) in _configs().items():
        torch.manual_seed(0)
        model_class(config).save_pretrained(root / name)
        folders[name] = root / name
    return folders


@pytest.mark.parametrize("name", list(_configs()))
def test_import_export_import_is_identical(hf_folders, name, tmp_path):
    project = import_hf_project(hf_folders[name], tmp_path / "first.json")
    first = project.compile()
    write_hf(project, first, tmp_path / "exported")
    assert _max_logit_diff(first, tmp_path / "exported") < 1e-4
    graph, weights, _ = import_hf(tmp_path / "exported")
    assert graph.to_dict() == project.graph.to_dict()
    original = load_file(project.weights)
    state = compile_graph(graph).root.state_dict()
    again = {key: weights[key] for key in state}
    assert original.keys() <= again.keys()
    assert all(torch.equal(original[key], again[key]) for key in original)
    second = import_hf_project(tmp_path / "exported", tmp_path / "second.json")
    # An ids-only tokenizer (a folder without tokenizer.json) names its folder in its reason; the rest is equal.
    assert _without_reason(second.tokenizer.to_dict()) == _without_reason(project.tokenizer.to_dict())


def _gpt():
    return Project.load(REPO / "assets/presets/gpt2-tiny.json")


def test_alibi_positions_name_the_position_block(tmp_path):
    project = _gpt()
    project.graph.replace_node("positions", "position.alibi")
    with pytest.raises(HFExportError, match=r"^positions \(position\.alibi\): no Hugging Face family") as caught:
        write_hf(project, project.compile(), tmp_path)
    assert "\n" not in str(caught.value)


def test_performer_attention_names_the_attention_block(tmp_path):
    project = _gpt()
    project.graph.nodes["layers"].graph.replace_node("attn", "attention.performer")
    with pytest.raises(HFExportError, match=r"^layers/attn \(attention\.performer\)"):
        write_hf(project, project.compile(), tmp_path)


def test_a_setting_the_family_lacks_is_named(tmp_path):
    project = _gpt()
    project.graph.nodes["layers"].graph.set_param("attn", "window", 8)
    with pytest.raises(HFExportError, match=r"^attn window: window = 8, but GPT-2 has 0"):
        write_hf(project, project.compile(), tmp_path)
    assert not (tmp_path / "model.safetensors").exists()


def test_the_genre_classifier_preset_names_what_no_family_has(tmp_path):
    """RoPE with a mean-pooled classifier: RoFormer's classification head reads [CLS] through its own layers."""
    project = Project.load(REPO / "assets/presets/bert-genre-tiny.json")
    with pytest.raises(HFExportError, match=r"^the head: head = 'head.classify', but RoFormer has 'head.mlm'"):
        write_hf(project, project.compile(), tmp_path)


@pytest.mark.parametrize("preset", ["llama", "bert"])
def test_presets_trained_a_few_steps_export_with_the_runs_logits(preset, tmp_path):
    """The GPT preset is trained_run's; LLaMA and the BERT preset (masked LM, RoPE: RoFormer) here."""
    project = tiny_project(preset, layers=1)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:20_000])
    project.data.corpus = corpus
    project.train = project.train.replace(steps=3, batch_size=4, warmup_steps=1, log_every=1, eval_every=3,
                                          eval_batches=1, checkpoint_every=3, sample_every=0, threads=1)
    start_run(project, tmp_path / "run", ["test"]).train()
    report = run_export(load_source(tmp_path / "run"), {"hf": tmp_path / "hf"})
    assert report.ok, report.text()
    assert _max_logit_diff(load_source(tmp_path / "run").compiled, tmp_path / "hf") < 1e-4
    assert "After 3 steps:" in (tmp_path / "hf/README.md").read_text()


def test_cli_writes_the_folder_and_prints_its_check(trained_run, tmp_path, capsys):
    import workbench.main as main

    assert main.main(["export", str(trained_run), "--hf", str(tmp_path / "hf")]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith("Hugging Face") and "the folder imported again vs the app" in row and row.endswith("ok")
    config = json.loads((tmp_path / "hf/config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"]
    assert config["eos_token_id"] is None  # no special tokens: not GPT-2's 50256, outside 63 characters


def _without_reason(tokenizer: dict) -> dict:
    return {key: value for key, value in tokenizer.items() if key != "reason"}
