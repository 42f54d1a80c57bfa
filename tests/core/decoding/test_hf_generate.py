"""Greedy and beam search hold to Hugging Face `generate` on tiny random models of each family,
saved with save_pretrained and imported (core.export.hf_import): the same token ids, and for beam
search the same n-best list with the same scores. transformers is the oracle only."""

import pytest
import torch

from workbench.core.compiler import compile_graph
from workbench.core.decoding import GenerationConfig, generate
from workbench.core.export.hf_import import import_hf

transformers = pytest.importorskip("transformers")

VOCAB = 99
IDS = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "forced_eos_token_id": None}
DECODER = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=64, **IDS)
PROMPT = [5, 17, 33, 8, 61]
NEW_TOKENS = 10


def _configs():
    t = transformers
    return {
        "gpt2": (t.GPT2LMHeadModel, t.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                                 **IDS)),
        "llama-gqa": (t.LlamaForCausalLM, t.LlamaConfig(**DECODER)),
        "mistral-window": (t.MistralForCausalLM, t.MistralConfig(**DECODER, sliding_window=4)),
        "t5": (t.T5ForConditionalGeneration, t.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                                        num_heads=4, decoder_start_token_id=0, **IDS)),
        "bart": (t.BartForConditionalGeneration, t.BartConfig(
            vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
            decoder_start_token_id=2, scale_embedding=True, **IDS)),
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (transformers model, ours compiled from its save_pretrained folder)."""
    root = tmp_path_factory.mktemp("hf")
    found = {}
    for name, (model_class, config) in _configs().items():
        torch.manual_seed(0)
        hf = model_class(config).eval()
        with torch.no_grad():  # weights larger than the initialisation's, so greedy search does not just repeat
            for p in hf.parameters():
                if p.dim() > 1:
                    p.normal_(0, 0.3)
        hf.save_pretrained(root / name)
        graph, weights, _ = import_hf(root / name)
        compiled = compile_graph(graph)
        compiled.root.load_state_dict(weights)
        found[name] = (hf, compiled)
    return found


def _both(hf, compiled, config: GenerationConfig, stop: int):
    """(theirs, ours): the returned sequences, generated ids only, ours padded as theirs are."""
    encoder_decoder = hf.config.is_encoder_decoder
    prompt = [hf.config.decoder_start_token_id] if encoder_decoder else PROMPT
    with torch.no_grad():
        out = hf.generate(torch.tensor([PROMPT]), max_new_tokens=NEW_TOKENS, do_sample=False,
                          num_beams=config.num_beams if config.strategy == "beam" else 1,
                          num_return_sequences=config.num_return,
                          length_penalty=config.length_penalty, early_stopping=config.early_stopping,
                          eos_token_id=stop, pad_token_id=0, output_scores=True, return_dict_in_generate=True)
    ours = generate(compiled, prompt, config, source=PROMPT if encoder_decoder else None)
    theirs = [row[len(prompt):].tolist() for row in out.sequences]
    # transformers fills ended sequences with `pad_token_id or eos_token_id`: the stop token, as pad is 0
    padded = [h.tokens + [stop] * (len(theirs[0]) - len(h.tokens)) for h in ours.hypotheses]
    return theirs, padded, out, ours


def _stop_token(hf, compiled) -> int:
    """The token greedy search reaches last for the first time within 4 steps, so stopping is exercised."""
    theirs, _, _, _ = _both(hf, compiled, GenerationConfig(max_new_tokens=NEW_TOKENS), stop=2)
    tokens = theirs[0][:4]
    return tokens[max(i for i, t in enumerate(tokens) if t not in tokens[:i])]


@pytest.mark.parametrize("name", list(_configs()))
def test_greedy_matches_transformers(models, name):
    hf, compiled = models[name]
    stop = _stop_token(hf, compiled)
    config = GenerationConfig(max_new_tokens=NEW_TOKENS, stop_tokens=(stop,))
    theirs, ours, _, result = _both(hf, compiled, config, stop)
    assert ours == theirs
    assert result.finish_reason == "stop" and result.tokens[-1] == stop


@pytest.mark.parametrize("length_penalty, early_stopping", [(1.0, False), (0.5, True), (2.0, False)])
@pytest.mark.parametrize("name", list(_configs()))
def test_beam_search_matches_transformers(models, name, length_penalty, early_stopping):
    hf, compiled = models[name]
    stop = _stop_token(hf, compiled)
    config = GenerationConfig(strategy="beam", num_beams=3, num_return=3, length_penalty=length_penalty,
                              early_stopping=early_stopping, max_new_tokens=NEW_TOKENS, stop_tokens=(stop,))
    theirs, ours, out, result = _both(hf, compiled, config, stop)
    assert ours == theirs
    torch.testing.assert_close(torch.tensor([h.score for h in result.hypotheses]), out.sequences_scores,
                               atol=1e-4, rtol=0)
    assert len({tuple(h.tokens) for h in result.hypotheses}) == 3
