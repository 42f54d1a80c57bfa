"""Hugging Face import: tiny random models of each family, saved with save_pretrained, imported, and
held to transformers' logits (fp32, within 1e-4) on random batches with padding. transformers is
the oracle only; the import reads the folder with json and safetensors."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from workbench.core.compiler import compile_graph
from workbench.core.export.hf_import import HFImportError, import_hf, import_hf_project
from workbench.core.project import Project
from tests.conftest import REPO

transformers = pytest.importorskip("transformers")

VOCAB = 99
IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}  # a tiny vocabulary needs its special ids set
DECODER = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=64, **IDS)
T5 = dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, decoder_start_token_id=0, **IDS)


def _configs():
    t = transformers
    return {
        "gpt2": (t.GPT2LMHeadModel, t.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                                 **IDS)),
        "bert": (t.BertForMaskedLM, t.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                                 num_attention_heads=4, intermediate_size=37,
                                                 max_position_embeddings=64, **IDS)),
        "bert-classifier": (t.BertForSequenceClassification, t.BertConfig(
            vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, num_labels=3, initializer_range=0.2, **IDS)),  # logits well above 1e-4
        # BERT with rotary positions, as the BERT presets are
        "roformer": (t.RoFormerForMaskedLM, t.RoFormerConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                                             num_attention_heads=4, intermediate_size=37,
                                                             max_position_embeddings=64, **IDS)),
        "bart": (t.BartForConditionalGeneration, t.BartConfig(
            vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
            decoder_start_token_id=2, forced_eos_token_id=2, scale_embedding=True, **IDS)),
        "t5": (t.T5ForConditionalGeneration, t.T5Config(**T5)),
        # T5 v1.1: gated GELU, no output rescaling, and heads wider than d_model / heads
        "t5-v1.1": (t.T5ForConditionalGeneration, t.T5Config(**{**T5, "d_kv": 16}, feed_forward_proj="gated-gelu",
                                                               tie_word_embeddings=False)),
        "llama": (t.LlamaForCausalLM, t.LlamaConfig(**DECODER)),
        # tied head, biases, explicit head_dim and another RoPE base
        "llama-variant": (t.LlamaForCausalLM, t.LlamaConfig(**DECODER, tie_word_embeddings=True, attention_bias=True,
                                                            mlp_bias=True, head_dim=16, rope_theta=500.0)),
        # a window shorter than the test sequences, so it matters
        "mistral": (t.MistralForCausalLM, t.MistralConfig(**DECODER, sliding_window=4)),
    }


@pytest.fixture(scope="module")
def hf_models(tmp_path_factory):
    """name -> (model in eval mode, its save_pretrained folder)."""
    root = tmp_path_factory.mktemp("hf")
    models = {}
    for name, (model_class, config) in _configs().items():
        torch.manual_seed(0)
        model = model_class(config).eval()
        model.save_pretrained(root / name)
        models[name] = (model, root / name)
    return models


def _batch(seed=0, length=12):
    """Token ids and a padding mask: row 0 full, row 1 left-padded, row 2 right-padded."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (3, length), generator=generator)
    mask = torch.ones(3, length, dtype=torch.long)
    mask[1, :4] = 0
    mask[2, -3:] = 0
    return ids, mask


def _logits(name, hf, compiled):
    """(transformers' logits, ours, which positions are real) for one padded batch."""
    ids, mask = _batch()
    with torch.no_grad():
        if name.startswith(("bart", "t5")):
            dec_ids, dec_mask = _batch(seed=1, length=7)
            dec_mask[1] = 1  # decoders are right-padded
            theirs = hf(input_ids=ids, attention_mask=mask, decoder_input_ids=dec_ids, decoder_attention_mask=dec_mask)
            return theirs.logits, compiled.module(ids, dec_ids, mask, dec_mask), dec_mask.bool()
        if name.startswith(("bert", "roformer")):
            types = torch.randint(0, 2, ids.shape, generator=torch.Generator().manual_seed(2))
            theirs = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
            ours = compiled.module(ids, mask, types)
            real = mask.bool() if ours.dim() == 3 else torch.ones(3, dtype=torch.bool)
            return theirs, ours, real
        return hf(input_ids=ids, attention_mask=mask).logits, compiled.module(ids, mask), mask.bool()


def _import(folder):
    graph, weights, _ = import_hf(folder)
    compiled = compile_graph(graph)
    compiled.root.load_state_dict(weights)
    compiled.root.eval()
    return compiled


@pytest.mark.parametrize("name", list(_configs()))
def test_imported_logits_match_transformers(hf_models, name):
    hf, folder = hf_models[name]
    theirs, ours, real = _logits(name, hf, _import(folder))
    assert ours.shape == theirs.shape
    assert theirs[real].std() > 0.05  # the comparison is not between two near-zero tensors
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-4, rtol=0)


def test_the_sliding_window_is_what_makes_mistral_match(hf_models):
    hf, folder = hf_models["mistral"]
    graph, weights, _ = import_hf(folder)
    graph.nodes["layers"].graph.set_param("attn", "window", 0)
    compiled = compile_graph(graph)
    compiled.root.load_state_dict(weights)
    theirs, ours, real = _logits("mistral", hf, compiled)
    assert (ours[real] - theirs[real]).abs().max() > 1e-3


def test_import_hf_writes_a_project_that_info_and_train_load(hf_models, tmp_path):
    hf, folder = hf_models["llama"]
    out = tmp_path / "llama.json"
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "import-hf", str(folder), "--out", str(out)],
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "llama.weights.safetensors").is_file()
    assert "has no tokenizer.json, so the project's tokenizer is ids only" in done.stdout  # said, not invented
    project = Project.load(out)
    project.check()  # the ids-only tokenizer fits the vocabulary
    theirs, ours, real = _logits("llama", hf, project.compile())
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-4, rtol=0)
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "info", str(out), "--json"],
                          check=False, capture_output=True, text=True, timeout=300)
    assert json.loads(done.stdout)["total_params"] == sum(p.numel() for p in hf.parameters())


def _edited_copy(folder, tmp_path, config_changes=None, extra_tensor=None):
    copy = tmp_path / "edited"
    copy.mkdir()
    config = json.loads((folder / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, **(config_changes or {})}))
    tensors = load_file(folder / "model.safetensors")
    if extra_tensor:
        tensors[extra_tensor] = torch.zeros(2)
    save_file(tensors, copy / "model.safetensors")
    return copy


@pytest.mark.parametrize("family, changes, message", [
    ("gpt2", {"scale_attn_by_inverse_layer_idx": True},
     "GPT-2: config field 'scale_attn_by_inverse_layer_idx' = True is not modelled"),
    ("gpt2", {"n_head_groups": 2}, "GPT-2: config field 'n_head_groups' = 2 is not modelled"),
    ("llama", {"rope_parameters": {"rope_type": "llama3", "rope_theta": 10000.0}},
     "LLaMA: config field 'rope_parameters.rope_type' = 'llama3' is not modelled"),
    ("bert", {"position_embedding_type": "relative_key"},
     "BERT: config field 'position_embedding_type' = 'relative_key' is not modelled"),
    ("gpt2", {"architectures": ["GPTJForCausalLM"]}, "architecture 'GPTJForCausalLM' is not supported"),
])
def test_what_we_do_not_model_is_an_error_naming_it(hf_models, tmp_path, family, changes, message):
    with pytest.raises(HFImportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_hf(_edited_copy(hf_models[family][1], tmp_path, config_changes=changes))


def test_an_unexpected_tensor_is_an_error_naming_it(hf_models, tmp_path):
    extra = "encoder.block.0.layer.0.SelfAttention.q.bias"
    folder = _edited_copy(hf_models["t5"][1], tmp_path, extra_tensor=extra)
    with pytest.raises(HFImportError, match=f"T5: model.safetensors holds '{extra}', which this model does not have"):
        import_hf(folder)


def test_a_tokenizer_in_the_folder_comes_along(hf_models, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder = _edited_copy(hf_models["gpt2"][1], tmp_path)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["to be or not to be"] * 4, trainers.BpeTrainer(vocab_size=40, special_tokens=["<unk>"]))
    tokenizer.save(str(folder / "tokenizer.json"))
    project = import_hf_project(folder, tmp_path / "project.json")
    assert project.tokenizer.kind == "bpe" and project.tokenizer.encode("to be") == tokenizer.encode("to be").ids


def test_without_tokenizer_files_the_project_shows_ids_not_invented_characters(hf_models, tmp_path):
    """#23: a made-up alphabet of private-use characters showed boxes; now the ids are shown as ids."""
    folder = _edited_copy(hf_models["gpt2"][1], tmp_path)
    project = import_hf_project(folder, tmp_path / "project.json")
    tokenizer = Project.load(tmp_path / "project.json").tokenizer
    assert tokenizer.kind == "ids" and tokenizer.vocab_size == project.tokenizer.vocab_size
    assert tokenizer.decode([17, 4]) == "⟨17⟩⟨4⟩" and tokenizer.encode("⟨17⟩⟨4⟩") == tokenizer.encode("17, 4") == [17, 4]
    with pytest.raises(ValueError, match=r"cannot encode 'to be': this project's tokenizer is ids only \(edited has "
                                         r"no tokenizer.json\); type token ids .* --tokenizer DIR"):
        tokenizer.encode("to be")


def test_tokenizer_dir_gives_the_model_its_text(hf_models, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    folder = _edited_copy(hf_models["gpt2"][1], tmp_path)
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(["to be or not to be"] * 4, trainers.BpeTrainer(vocab_size=40, special_tokens=["<unk>"]))
    elsewhere = tmp_path / "tok"
    elsewhere.mkdir()
    tokenizer.save(str(elsewhere / "tokenizer.json"))
    project = import_hf_project(folder, tmp_path / "project.json", tokenizer=elsewhere)
    assert project.tokenizer.kind == "bpe" and project.tokenizer.encode("to be") == tokenizer.encode("to be").ids
    with pytest.raises(HFImportError, match=r"--tokenizer .*empty: no tokenizer.json there"):
        (tmp_path / "empty").mkdir()
        import_hf_project(folder, tmp_path / "other.json", tokenizer=tmp_path / "empty")
