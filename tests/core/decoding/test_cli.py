"""`main.py generate` from a project with weights or a run folder's checkpoint, and the clear errors
for what cannot generate: empty or too long prompts, bad settings, untrained or mismatched weights."""

import json
import re

import pytest
import torch
from safetensors.torch import save_model

import workbench.main as main
from workbench.core.decoding import GenerationConfig, generate, load_generation_model
from workbench.core.kv_cache import GenerationError
from workbench.core.training.runs import RunFolder
from tests.core.decoding.helpers import sharp_model


@pytest.fixture
def weighted_project(tiny_project, tmp_path):
    """The tiny default project (char tokenizer, context 32) with a weights file."""
    torch.manual_seed(0)
    weights = tmp_path / "tiny.weights.safetensors"
    save_model(tiny_project.compile().root, str(weights))
    tiny_project.weights = weights
    tiny_project.save()
    return tiny_project


def _run_folder(project, path, weights: dict | None):
    run = RunFolder.create(path, project.to_dict(), project.train.to_dict(), ["test"])
    if weights is not None:
        run.save_checkpoint(3, weights, {}, {})
    return path


def _distinct(module: torch.nn.Module) -> dict:
    """The state dict with each tied tensor once, as the trainer saves checkpoints."""
    seen, kept = set(), {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        if id(tensor) not in seen:
            kept[name] = tensor.detach()
        seen.add(id(tensor))
    return kept


def _generate(capsys, *args) -> tuple[int, str, str]:
    code = main.main(["generate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generate_prints_token_ids_and_text(weighted_project, capsys):
    code, out, _ = _generate(capsys, weighted_project.path, "--prompt", "To be", "--max-new-tokens", "6", "--json")
    shown = json.loads(out)
    assert code == 0 and len(shown["token_ids"]) == 6
    assert [s["token"] for s in shown["steps"]] == shown["token_ids"] and shown["steps"][0]["candidates"]
    assert shown["text"] == weighted_project.tokenizer.decode(shown["token_ids"])
    compiled, _ = load_generation_model(weighted_project.path)
    prompt = weighted_project.tokenizer.encode("To be")
    assert shown["token_ids"] == generate(compiled, prompt, GenerationConfig(max_new_tokens=6)).tokens
    code, again, _ = _generate(capsys, weighted_project.path, "--token-ids", ",".join(map(str, prompt)),
                               "--max-new-tokens", "6", "--no-cache", "--json")
    assert json.loads(again)["token_ids"] == shown["token_ids"]


def test_generate_beam_and_sample_from_a_run_folder(weighted_project, tmp_path, capsys):
    compiled = weighted_project.compile()
    run = _run_folder(weighted_project, tmp_path / "run", _distinct(compiled.training_module))
    code, out, _ = _generate(capsys, run, "--token-ids", "1,2,3", "--strategy", "beam", "--num-beams", "3",
                             "--max-new-tokens", "5", "--json")
    assert code == 0
    assert json.loads(out)["token_ids"] == generate(compiled, [1, 2, 3], GenerationConfig(
        strategy="beam", num_beams=3, max_new_tokens=5)).tokens
    args = ("--token-ids", "1,2,3", "--strategy", "sample", "--top-k", "5", "--top-p", "0.9", "--temperature",
            "0.8", "--seed", "4", "--max-new-tokens", "5", "--json")
    first, second = (json.loads(_generate(capsys, run, *args)[1])["token_ids"] for _ in range(2))
    assert first == second and len(first) == 5
    code, out, err = _generate(capsys, run, "--prompt", "The", "--max-new-tokens", "3")
    assert code == 0 and "3 tokens" in err and "tokens/s" in err


@pytest.mark.parametrize("args, message", [
    (("--prompt", ""), "the prompt is empty"),
    (("--token-ids", ",".join(["1"] * 32)), "the prompt has 32 tokens, but at most 31 fit"),
    (("--token-ids", "1,2,999"), "token id 999 is outside the vocabulary"),
    (("--token-ids", "1,x"), "--token-ids takes comma-separated whole numbers"),
    (("--token-ids", "1", "--strategy", "sample", "--top-p", "0"), "top_p must be above 0 and at most 1, got 0.0"),
    (("--token-ids", "1", "--strategy", "sample", "--top-p", "1.5"), "top_p must be above 0 and at most 1, got 1.5"),
    (("--token-ids", "1", "--strategy", "beam", "--num-beams", "500"), "num_beams must be between 1 and the "
                                                                        "vocabulary size"),
    (("--token-ids", "1", "--max-new-tokens", "0"), "max_new_tokens must be at least 1"),
])
def test_bad_settings_are_clear_errors(weighted_project, capsys, args, message):
    code, _, err = _generate(capsys, weighted_project.path, *args)
    assert code == 1 and err.startswith("error: ")
    assert re.search(message, err), err


def test_untrained_and_mismatched_weights_are_clear_errors(weighted_project, tmp_path, capsys):
    weighted_project.weights = None
    weighted_project.save(tmp_path / "untrained.json")
    code, _, err = _generate(capsys, tmp_path / "untrained.json", "--token-ids", "1")
    assert code == 1 and "the project has no weights" in err
    run = _run_folder(weighted_project, tmp_path / "fresh", None)
    code, _, err = _generate(capsys, run, "--token-ids", "1")
    assert code == 1 and "the run has no checkpoint yet" in err
    weights = _distinct(weighted_project.compile().training_module)
    weights.pop(next(iter(weights)))
    run = _run_folder(weighted_project, tmp_path / "partial", weights)
    code, _, err = _generate(capsys, run, "--token-ids", "1")
    assert code == 1 and "checkpoint does not fit the model" in err
    weights = {name: torch.zeros(3, 3) if "qkv.weight" in name else t for name, t in _distinct(
        weighted_project.compile().training_module).items()}
    run = _run_folder(weighted_project, tmp_path / "reshaped", weights)
    code, _, err = _generate(capsys, run, "--token-ids", "1")
    assert code == 1 and "does not fit the run's graph" in err


def test_models_that_cannot_generate_say_why():
    bert = sharp_model("gpt2")  # the graph of a decoder, but made bidirectional below
    for m in bert.root.modules():
        if hasattr(m, "causal"):
            m.causal = False
    with pytest.raises(GenerationError, match="generation needs a causal model, but self-attention 'layers/attn'"):
        generate(bert, [1], GenerationConfig(max_new_tokens=2))
    with pytest.raises(GenerationError, match="an encoder-decoder model needs a source"):
        generate(sharp_model("t5"), [0], GenerationConfig(max_new_tokens=2))
    with pytest.raises(GenerationError, match="a sequence classifier scores whole sequences"):
        generate(sharp_model("gpt2", head="head.classify"), [1], GenerationConfig(max_new_tokens=2))
    with pytest.raises(GenerationError, match="attention records follow one sequence"):
        generate(sharp_model("gpt2"), [1], GenerationConfig(strategy="beam", record_attention=True))


def test_generate_stops_at_the_tokenizers_end_of_sequence_as_the_window_does(tiny_project, tmp_path, capsys):
    """#23: the CLI ignored [EOS] unless given --stop-ids; it now uses the tokenizer's, like the panel."""
    from workbench.core.data.tokenizers import tokenizer_from_dict

    tiny_project.tokenizer = tokenizer_from_dict({**tiny_project.tokenizer.to_dict(), "special_tokens": ["[EOS]"]})
    tiny_project.graph.set_param("tokens", "vocab_size", tiny_project.tokenizer.vocab_size)
    eos = tiny_project.tokenizer.special_ids()["[EOS]"]
    module = tiny_project.compile().root
    with torch.no_grad():  # every position's final hidden state points at [EOS]'s output row
        module.lm_head.linear.weight[eos] = 1.0
        module.ln_f.weight.zero_()
        module.ln_f.bias.copy_(module.lm_head.linear.weight[eos])
    weights = tmp_path / "eos.safetensors"
    save_model(module, str(weights))
    tiny_project.weights = weights
    tiny_project.save(tmp_path / "eos.json")
    code, out, _ = _generate(capsys, tmp_path / "eos.json", "--prompt", "To be", "--max-new-tokens", "6", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["token_ids"] == [eos] and shown["finish_reason"] == "stop"
    code, out, _ = _generate(capsys, tmp_path / "eos.json", "--prompt", "To be", "--max-new-tokens", "6",
                             "--stop-ids", "", "--json")
    assert json.loads(out)["token_ids"] == [eos] * 6  # '' asks for no stop token
