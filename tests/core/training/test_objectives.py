"""Each objective builds its batches by the rules of its paper, refuses graphs it cannot serve with a
message naming what is missing, and trains end to end on a tiny graph, resuming exactly."""

import math
import subprocess
import sys

import pytest
import torch

from workbench.core.architectures import FAMILIES, build_graph
from workbench.core.data.tasks import classification_task
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.data.tokenizers import CharTokenizer, TokenizerError, tokenizer_from_dict
from workbench.core.project import ASSETS, DataSettings, Project, load_project
from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.training.corruption import infill, infilling_spans, mask_tokens, noise_spans, span_corrupt
from workbench.core.training.objectives import ObjectiveError, SpecialTokens, input_kinds, make_objective
from workbench.core.training.runs import RunFolder
from workbench.core.training.trainer import TrainingError, resume_run, start_run
from tests.conftest import REPO

PRESET_TOKENIZER = Project.load(ASSETS / "presets" / "t5-tiny.json").tokenizer  # corpus alphabet, digits, specials
SPECIALS = SpecialTokens(PRESET_TOKENIZER)
PAD, BOS, EOS, MASK = (SPECIALS.find(role) for role in ("pad", "bos", "eos", "mask"))
FAMILY = {"causal_lm": "gpt2", "masked_lm": "bert", "denoising": "bart", "span_corruption": "t5", "seq2seq": "t5",
          "classification": "bert"}
TASK = {"seq2seq": "reverse", "classification": "genre"}


def tiny_project(tmp_path, objective: str, family: str | None = None, tokenizer=PRESET_TOKENIZER, **arch) -> Project:
    """A one-layer, width-32 model of the objective's family with context 32, on 20 kB of Shakespeare."""
    family = family or FAMILY[objective]
    if objective == "classification":
        arch = {"head": "head.classify", "classes": 3, **arch}
    graph = build_graph(FAMILIES[family].replace(vocab_size=tokenizer.vocab_size, context_length=32, width=32,
                                                 layers=1, heads=2, **arch))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((ASSETS / "corpus" / "shakespeare.txt").read_text()[:20_000])
    train = TrainConfig(objective=objective, task=TASK.get(objective, ""), steps=6, batch_size=8, warmup_steps=2,
                        log_every=1, eval_every=3, eval_batches=2, checkpoint_every=3, sample_every=0)
    return Project(f"tiny {objective}", graph, tokenizer, DataSettings(corpus), train)


def objective_of(project: Project):
    return make_objective(project, project.train, project.compile())


# ----- special tokens -----


def test_a_char_tokenizer_puts_special_tokens_after_its_alphabet():
    tokenizer = CharTokenizer("ab", special_tokens=["[PAD]", "[MASK]"])
    assert tokenizer.vocab_size == 4 and tokenizer.special_ids() == {"[PAD]": 2, "[MASK]": 3}
    assert tokenizer.decode([0, 3, 1]) == "a[MASK]b"
    with pytest.raises(TokenizerError, match="character '\\[' is not in the tokenizer's alphabet"):
        tokenizer.encode("[MASK]")  # text never turns into special tokens
    assert tokenizer_from_dict(tokenizer.to_dict()).vocabulary() == ["a", "b", "[PAD]", "[MASK]"]
    assert "special_tokens" not in load_project().tokenizer.to_dict()  # projects without them read as before
    with pytest.raises(TokenizerError, match="special tokens must be distinct"):
        CharTokenizer("ab", special_tokens=["[PAD]", "[PAD]"])


def test_roles_are_found_by_their_usual_names():
    wordpiece = train_tokenizer("wordpiece", ["to be or not to be"] * 20, 28, ["[PAD]", "[CLS]", "[SEP]", "[MASK]"])
    found = SpecialTokens(wordpiece)
    assert [found.find(role) for role in ("pad", "bos", "eos", "mask")] == [0, 1, 2, 3]
    assert found.sentinels() == [] and not torch.isin(found.ordinary, found.all).any()
    assert SPECIALS.sentinels() == [PRESET_TOKENIZER.special_ids()[f"<extra_id_{i}>"] for i in range(16)]


# ----- batch construction, rule by rule -----


def test_masked_lm_chooses_15_percent_then_80_10_10():
    generator = torch.Generator().manual_seed(0)
    tokens = SPECIALS.ordinary[torch.randint(len(SPECIALS.ordinary), (64, 256), generator=generator)]
    tokens[:, 0], tokens[:, -8:] = BOS, PAD  # special tokens, which are never chosen
    inputs, targets = mask_tokens(tokens, 0.15, mask_id=MASK, special_ids=SPECIALS.all,
                                  ordinary_ids=SPECIALS.ordinary, generator=torch.Generator().manual_seed(1))
    ordinary = ~torch.isin(tokens, SPECIALS.all)
    chosen = targets != -1
    assert not (chosen & ~ordinary).any()
    assert torch.equal(targets[chosen], tokens[chosen]) and torch.equal(inputs[~chosen], tokens[~chosen])
    count = chosen.sum().item()
    assert count / ordinary.sum().item() == pytest.approx(0.15, abs=0.01)
    masked = chosen & (inputs == MASK)
    replaced = chosen & (inputs != MASK) & (inputs != tokens)
    kept = chosen & (inputs == tokens)
    assert masked.sum().item() / count == pytest.approx(0.8, abs=0.03)
    # A random replacement is itself 1 time in |ordinary|; that share counts as kept.
    chance_same = 1 / len(SPECIALS.ordinary)
    assert replaced.sum().item() / count == pytest.approx(0.1 * (1 - chance_same), abs=0.025)
    assert kept.sum().item() / count == pytest.approx(0.1 + 0.1 * chance_same, abs=0.025)
    assert not torch.isin(inputs[replaced], SPECIALS.all).any()
    again, _ = mask_tokens(tokens, 0.15, mask_id=MASK, special_ids=SPECIALS.all, ordinary_ids=SPECIALS.ordinary,
                           generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, inputs)


def test_masked_lm_batches_start_with_cls_and_repeat_by_index(tmp_path):
    objective = objective_of(tiny_project(tmp_path, "masked_lm"))
    batch = objective.batch(3, "train")
    assert (batch["tokens"][:, 0] == BOS).all() and (batch["targets"][:, 0] == -1).all()
    assert batch["tokens"].shape == batch["targets"].shape == (8, 32)
    assert torch.equal(objective.batch(3, "train")["tokens"], batch["tokens"])
    assert not torch.equal(objective.batch(4, "train")["tokens"], batch["tokens"])
    assert not torch.equal(objective.batch(3, "val")["tokens"], batch["tokens"])


def test_bart_infilling_spans_have_poisson_3_lengths():
    generator = torch.Generator().manual_seed(0)
    lengths = []
    for _ in range(1000):
        spans = infilling_spans(128, 0.3, 3.0, generator)
        assert sum(length for _, length in spans) == round(128 * 0.3)
        ends = [start + length for start, length in spans]
        assert spans[0][0] >= 0 and ends[-1] <= 128
        assert all(end < start for end, (start, _) in zip(ends, spans[1:]))  # a kept token between spans
        lengths += [length for _, length in spans[:-1]]  # the last one is cut to the budget
    lengths = torch.tensor(lengths, dtype=torch.float)
    assert lengths.mean().item() == pytest.approx(3.0, abs=0.15)
    assert lengths.var().item() == pytest.approx(3.0, abs=0.3)  # Poisson: variance = mean
    assert (lengths == 0).float().mean().item() == pytest.approx(math.exp(-3), abs=0.01)  # empty spans insert


def test_bart_infilling_replaces_each_span_with_one_mask(tmp_path):
    text = list(range(100, 228))
    spans = infilling_spans(128, 0.3, 3.0, torch.Generator().manual_seed(5))
    corrupted = infill(text, spans, MASK)
    assert corrupted.count(MASK) == len(spans) and len(corrupted) == 128 - round(128 * 0.3) + len(spans)
    hidden = {i for start, length in spans for i in range(start, start + length)}
    assert [t for t in corrupted if t != MASK] == [t for i, t in enumerate(text) if i not in hidden]
    for i, (start, _) in enumerate(spans):  # the i-th [MASK] sits after the text kept before its span
        kept_before = start - sum(length for _, length in spans[:i])
        assert [j for j, t in enumerate(corrupted) if t == MASK][i] == kept_before + i

    batch = objective_of(tiny_project(tmp_path, "denoising")).batch(0, "train")
    tokens, mask, targets = batch["tokens"], batch["padding_mask"], batch["targets"]
    assert torch.equal(tokens[mask == 0], torch.full_like(tokens[mask == 0], PAD)) and (mask.sum(1) < 32).all()
    assert (batch["decoder_tokens"][:, 0] == BOS).all() and torch.equal(batch["decoder_tokens"][:, 1:], targets[:, :-1])
    assert not torch.isin(targets, SPECIALS.all).any()  # the decoder rebuilds the whole original text


def test_t5_span_corruption_uses_sentinels_in_order():
    text, sentinels = list(range(100, 227)), list(range(900, 908))
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        spans = noise_spans(127, 0.15, 3.0, generator)
        assert len(spans) == round(19 / 3) and sum(length for _, length in spans) == round(127 * 0.15)
        assert all(length >= 1 for _, length in spans) and spans[0][0] >= 1 and sum(spans[-1]) == 127
        assert all(sum(a) < b[0] for a, b in zip(spans, spans[1:]))
        inputs, targets = span_corrupt(text, spans, sentinels, EOS)
        assert [t for t in inputs if t >= 900] == sentinels[:6] and inputs[-1] == EOS
        hidden = dict(zip(sentinels, (text[start:start + length] for start, length in spans)))
        assert targets == [t for sentinel in sentinels[:6] for t in [sentinel, *hidden[sentinel]]] + [EOS]
        assert [t for u in inputs[:-1] for t in hidden.get(u, [u])] == text  # spans back in place of sentinels


def test_t5_batches_need_no_padding_and_enough_sentinels(tmp_path):
    project = tiny_project(tmp_path, "span_corruption")
    batch = objective_of(project).batch(0, "train")
    # 31 text tokens: 5 hidden in 2 spans; inputs 31 - 5 + 2 + EOS, targets 2 sentinels + 5 + EOS
    assert batch["tokens"].shape == (8, 29) and batch["targets"].shape == (8, 8)
    assert (batch["targets"][:, -1] == EOS).all() and (batch["decoder_tokens"][:, 0] == BOS).all()
    assert torch.equal(batch["decoder_tokens"][:, 1:], batch["targets"][:, :-1])
    project.tokenizer = CharTokenizer(PRESET_TOKENIZER.alphabet, special_tokens=["[BOS]", "[EOS]", "<extra_id_0>"])
    project.graph.set_param("tokens", "vocab_size", project.tokenizer.vocab_size)
    with pytest.raises(ObjectiveError, match=r"hides 5 of 31 tokens in 2 spans, so it needs 2 sentinel tokens "
                                             r"<extra_id_0> \.\.\. <extra_id_1>; the tokenizer has 1"):
        objective_of(project)


def test_seq2seq_teacher_forcing_shifts_the_target(tmp_path):
    objective = objective_of(tiny_project(tmp_path, "seq2seq"))
    batch = objective.batch(0, "train")
    decode = PRESET_TOKENIZER.decode
    for row in range(8):
        source = decode(batch["tokens"][row][batch["padding_mask"][row] == 1].tolist())
        target = batch["targets"][row][batch["targets"][row] != -1].tolist()
        assert source.endswith("[EOS]") and decode(target) == source[:-5][::-1] + "[EOS]"
        assert batch["decoder_tokens"][row].tolist()[: len(target)] == [BOS, *target[:-1]]
    assert torch.equal(batch["decoder_padding_mask"], (batch["targets"] != -1).long())
    assert (batch["tokens"][batch["padding_mask"] == 0] == PAD).all()
    assert torch.equal(objective.batch(0, "train")["tokens"], batch["tokens"])


def test_classification_batches_hold_passages_and_their_genres(tmp_path):
    batch = objective_of(tiny_project(tmp_path, "classification")).batch(0, "val")
    val = classification_task("genre").val
    for row in range(8):
        ids = batch["tokens"][row][batch["padding_mask"][row] == 1].tolist()
        assert ids[0] == BOS and PRESET_TOKENIZER.decode(ids[1:]) == val[row][0][:31]  # [CLS] + 31: context 32
        assert batch["targets"][row].item() == val[row][1]


def test_input_kinds_tell_the_encoder_mask_from_the_decoder_mask(tmp_path):
    project = tiny_project(tmp_path, "seq2seq")
    compiled = project.compile()
    assert input_kinds(project.graph, compiled.training_input_names) == [
        "tokens", "decoder_tokens", "targets", "padding_mask", "decoder_padding_mask"]


# ----- what an objective cannot serve -----


@pytest.mark.parametrize("objective, family, arch, message", [
    ("seq2seq", "gpt2", {}, r"the seq2seq objective needs a decoder token input \(input.decoder_tokens\)"),
    ("causal_lm", "t5", {}, r"does not feed the graph's decoder token input \(input.decoder_tokens\); "
                            r"choose one of denoising, span_corruption, seq2seq"),
    ("classification", "bert", {"head": "head.mlm"}, r"the classification objective needs a classification head"),
    ("masked_lm", "bert", {"head": "head.classify", "classes": 3}, r"predicts tokens, but the graph ends in a "
                                                                   r"classification head"),
    ("classification", "bert", {"classes": 2}, r"the genre task has 3 classes \(comedy, tragedy, history\) but the "
                                               r"graph's classification head has classes = 2"),
])
def test_a_graph_the_objective_cannot_serve_is_explained(tmp_path, objective, family, arch, message):
    with pytest.raises(ObjectiveError, match=message):
        objective_of(tiny_project(tmp_path, objective, family, **arch))


def test_missing_special_tokens_and_characters_are_named(tmp_path):
    plain = CharTokenizer(PRESET_TOKENIZER.alphabet)
    with pytest.raises(TrainingError, match=r"the masked_lm objective needs a mask token: add one of \[MASK\], "
                                            r"<mask> to the tokenizer's special_tokens"):
        start_run(tiny_project(tmp_path, "masked_lm", tokenizer=plain), tmp_path / "run", ["test"])
    letters_only = CharTokenizer("abcdefghij", special_tokens=["[PAD]", "[BOS]", "[EOS]"])
    project = tiny_project(tmp_path, "seq2seq", tokenizer=letters_only)
    project.train = project.train.replace(task="add")
    with pytest.raises(ObjectiveError, match="the add task writes text the tokenizer cannot encode: character '0'"):
        objective_of(project)


def test_objective_settings_are_checked_by_name():
    with pytest.raises(ConfigError, match="objective must be one of causal_lm, masked_lm, denoising, "
                                          "span_corruption, seq2seq, classification, got 'mlm'"):
        TrainConfig(objective="mlm")
    with pytest.raises(ConfigError, match="training setting task must be one of copy, reverse, sort, add, mix, got ''"):
        TrainConfig(objective="seq2seq", task="")
    assert TrainConfig(objective="seq2seq").task == "copy"  # the objective's declared default
    with pytest.raises(ConfigError, match="task is for the seq2seq and classification objectives; masked_lm takes"):
        TrainConfig(objective="masked_lm", task="genre")
    with pytest.raises(ConfigError, match="noise_density must be between 0 and 1, got 1.5"):
        TrainConfig(noise_density=1.5)


# ----- training end to end -----


@pytest.mark.parametrize("objective", list(FAMILY))
def test_every_objective_trains_and_evaluates(tmp_path, objective):
    trainer = start_run(tiny_project(tmp_path, objective), tmp_path / "run", ["test"])
    assert trainer.train() == "finished"
    rows = RunFolder.open(tmp_path / "run").metrics()
    assert [row["step"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert all(math.isfinite(row["loss"]) for row in rows) and math.isfinite(rows[-1]["val_loss"])


@pytest.mark.parametrize("objective", ["masked_lm", "seq2seq"])
def test_stop_then_resume_gives_the_uninterrupted_curve(tmp_path, objective):
    project = tiny_project(tmp_path, objective)
    start_run(project, tmp_path / "whole", ["test"]).train()
    trainer = start_run(project, tmp_path / "split", ["test"])

    def stop_after_four(report):
        if report.step == 4:
            trainer.run.request_stop()

    assert trainer.train(stop_after_four) == "stopped"
    assert resume_run(tmp_path / "split").train() == "finished"
    assert ([row["loss"] for row in RunFolder.open(tmp_path / "split").metrics()]
            == [row["loss"] for row in RunFolder.open(tmp_path / "whole").metrics()])


def test_a_tiny_t5_loss_falls_on_reverse(tmp_path):
    project = tiny_project(tmp_path, "seq2seq")
    project.train = project.train.replace(steps=100, batch_size=32, learning_rate=1e-2, warmup_steps=10,
                                          log_every=1, eval_every=50, checkpoint_every=100)
    start_run(project, tmp_path / "run", ["test"]).train()
    rows = RunFolder.open(tmp_path / "run").metrics()
    assert rows[0]["loss"] > 4.0  # at least ln(94) = 4.54 at the first step (T5's init starts above it): nothing learned
    assert rows[-1]["val_loss"] < 2.6  # the letters and EOS of a reversal, about ln(11) = 2.4, and falling


@pytest.mark.parametrize("positions, learns", [("preset", True), ("position.learned", False)])
def test_a_tiny_bert_uses_its_neighbours_with_the_presets_positions(tmp_path, positions, learns):
    # Only the neighbours of a [MASK] say what it hid: guessing from character frequencies (and
    # copying the 10 % of chosen tokens left visible) holds the loss near 3.0 on this text. BERT's
    # learned positions stay there for hundreds of steps, Hugging Face's BertForMaskedLM too.
    if positions == "preset":
        positions = Project.load(ASSETS / "presets" / "bert-tiny.json").graph.nodes["positions"].type_id
    project = tiny_project(tmp_path, "masked_lm", positions=positions)
    project.train = project.train.replace(steps=400, batch_size=32, learning_rate=1e-2, warmup_steps=10,
                                          eval_every=400, eval_batches=4, checkpoint_every=400)
    torch.manual_seed(0)
    start_run(project, tmp_path / "run", ["test"]).train()
    val_loss = RunFolder.open(tmp_path / "run").metrics()[-1]["val_loss"]
    assert (val_loss < 2.75) == learns, val_loss


def test_the_cli_picks_an_objective_and_task(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "main.py"), "train", str(ASSETS / "presets" / "t5-tiny.json"),
                           "--steps", "2", "--run-dir", str(tmp_path / "run"), "--set", "task=copy",
                           "--set", "batch_size=4", "--set", "eval_every=2", "--set", "eval_batches=1"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    assert RunFolder.open(tmp_path / "run").info["config"]["task"] == "copy"
