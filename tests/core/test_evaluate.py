"""Evaluation metrics against hand-computed values on tiny cases, and each task on real models."""

import json
import math
import shutil

import pytest
import sacrebleu
import torch
from safetensors.torch import save_model

from workbench.core.evaluate import (EvaluationError, accuracy, continuation_log_likelihood, evaluate, open_model,
                           pick_choices, save_result, scoring_windows, text_scores, token_nll)
from workbench.core.project import Project
from tests.conftest import REPO, shrink_project

# ----- metrics -----


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    logits = torch.zeros(2, 5, 8)  # every one of 8 tokens equally likely
    nll, count = token_nll(logits, torch.randint(8, (2, 5)))
    assert count == 10
    assert math.exp(nll / count) == pytest.approx(8.0)


def test_token_nll_of_a_known_distribution():
    q = torch.tensor([0.5, 0.25, 0.25])
    logits = q.log().expand(1, 4, 3)
    nll, count = token_nll(logits, torch.tensor([[0, 1, 2, 0]]))
    assert nll == pytest.approx(-(2 * math.log(0.5) + 2 * math.log(0.25)))  # = 6 ln 2
    assert math.exp(nll / count) == pytest.approx(2 ** 1.5)


def bigram_model(table: dict[int, dict[int, float]], vocab: int = 4):
    """A causal 'model' whose next-token probabilities (each row summing to 1) depend only on the last token."""
    log_probs = torch.full((vocab, vocab), 1e-9).log()
    for previous, row in table.items():
        for token, p in row.items():
            log_probs[previous, token] = math.log(p)
    return lambda ids: log_probs[ids]  # (B, T) -> (B, T, V)


def test_multiple_choice_picks_by_sum_and_by_length_normalised_sum():
    forward = bigram_model({0: {1: 0.5, 2: 0.4, 3: 0.1}, 2: {3: 0.9, 0: 0.1}})
    short = continuation_log_likelihood(forward, [0], [1], context_length=8)  # "a"
    long = continuation_log_likelihood(forward, [0], [2, 3], context_length=8)  # "bc"
    assert short == pytest.approx(math.log(0.5))
    assert long == pytest.approx(math.log(0.4 * 0.9))
    # Summed: ln 0.5 = -0.69 beats ln 0.36 = -1.02; per character: -0.69 / 1 loses to -1.02 / 2 = -0.51.
    assert pick_choices([short, long], ["a", "bc"]) == (0, 1)


def test_choices_longer_than_the_context_are_scored_in_windows_each_token_once():
    windows = scoring_windows([5, 6], [1, 2, 3, 4, 5], context_length=2)
    # (inputs, targets): input i predicts target i, the last window's inputs the ids just before its targets
    assert windows == [([5, 6], [1]), ([1, 2], [2, 3]), ([3, 4], [4, 5])]
    forward = bigram_model({6: {1: 0.5, 0: 0.5}, 1: {2: 0.5, 0: 0.5}, 2: {3: 0.25, 0: 0.75}}, vocab=7)
    # A bigram model needs one token of context, so every window size gives the same likelihood.
    values = [continuation_log_likelihood(forward, [6], [1, 2, 3], n) for n in (1, 2, 8)]
    assert values == pytest.approx([math.log(0.5 * 0.5 * 0.25)] * 3)


def test_accuracy():
    assert accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    with pytest.raises(EvaluationError):
        accuracy([], [])


def test_bleu_and_chrf_match_sacrebleu():
    same = text_scores(["abcde", "edcba"], ["abcde", "edcba"])
    assert same == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0), "exact_match": 1.0}
    disjoint = text_scores(["abcde"], ["fghij"])
    assert disjoint["bleu"] == 0.0 and disjoint["chrf"] == 0.0 and disjoint["exact_match"] == 0.0
    hypotheses, references = ["abcdeg", "aabbcc", "jihgf"], ["abcdef", "abcabc", "jihgf"]
    partial = text_scores(hypotheses, references)
    assert partial["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [references], tokenize="char").score)
    assert partial["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hypotheses, [references]).score)
    assert 0 < partial["bleu"] < 100 and partial["exact_match"] == pytest.approx(1 / 3)


# ----- tasks on real models -----


@pytest.fixture
def run_copy(trained_run, tmp_path):
    return shutil.copytree(trained_run, tmp_path / "run")


def test_perplexity_is_the_mean_nll_of_the_held_out_blocks(run_copy):
    model = open_model(run_copy)
    context = model.compiled.ctx.context_length
    result = evaluate(model, "perplexity", limit=2 * context)
    assert result.examples == 2 * context and result.step == 12
    _, held_out = model.project.token_splits()  # the trainer's split: the corpus's last 10 %
    window = torch.as_tensor(held_out[: 2 * context + 1]).long()
    blocks = torch.stack([window[:context + 1], window[context:]])
    with torch.no_grad():
        expected = torch.nn.functional.cross_entropy(model.compiled.module(blocks[:, :-1]).flatten(0, 1),
                                                     blocks[:, 1:].flatten())
    assert result.mean_nll == pytest.approx(float(expected), rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(result.mean_nll))


def test_multiple_choice_on_a_run_and_saved_in_it(run_copy):
    model = open_model(run_copy)
    result = evaluate(model, "next_line", limit=6)
    assert result.examples == 6 and 0 <= result.acc <= 1 and 0 <= result.acc_norm <= 1
    saved = json.loads(save_result(run_copy, result).read_text())
    assert saved["task"] == "next_line" and saved["step"] == 12 and saved["examples"] == 6
    assert saved["metrics"] == {"acc": result.acc, "acc_norm": result.acc_norm}


def test_tasks_that_do_not_fit_say_which_and_why(run_copy):
    model = open_model(run_copy)
    with pytest.raises(EvaluationError, match="task genre needs a classifier.*classification head"):
        evaluate(model, "genre")
    with pytest.raises(EvaluationError, match="task reverse needs an encoder-decoder"):
        evaluate(model, "reverse")
    with pytest.raises(EvaluationError, match="unknown task 'squad'"):
        evaluate(model, "squad")
    with pytest.raises(EvaluationError, match="at least 1"):
        evaluate(model, "next_line", limit=0)


def project_with_weights(preset: str, tmp_path, shrink: bool = True) -> Project:
    """A preset (made smaller, if it is laid out as the GPT one) with random weights saved beside it:
    a model to evaluate without training."""
    project = Project.load(REPO / "assets/presets" / preset)
    project = shrink_project(project) if shrink else project
    weights = tmp_path / "weights.safetensors"
    save_model(project.compile().root, str(weights))
    project.weights = weights
    project.save(tmp_path / "project.json")
    return project


def test_genre_accuracy_equals_one_passage_at_a_time(tmp_path):
    project = project_with_weights("bert-genre-tiny.json", tmp_path)
    model = open_model(project.path)
    result = evaluate(model, "genre", limit=9)
    assert model.run_dir is None and result.step is None and result.examples == 9
    with pytest.raises(EvaluationError, match="task perplexity scores next-token predictions.*classification"):
        evaluate(model, "perplexity")
    # Unpadded, one at a time: batching and padding must not change a prediction. The limit spreads
    # the 9 passages over the 300 held-out ones, so all three genres are in.
    from workbench.core.data.tasks import classification_task

    task = classification_task("genre")
    picks = [task.val[i * len(task.val) // 9] for i in range(9)]
    assert len({label for _, label in picks}) == 3
    cls, context = project.tokenizer.special_ids()["[BOS]"], model.compiled.ctx.context_length
    right = 0
    with torch.no_grad():
        for text, label in picks:
            ids = torch.tensor([([cls] + project.tokenizer.encode(text))[:context]])  # as fine-tuning cuts it
            right += int(model.compiled.module(ids, torch.ones_like(ids)).argmax()) == label
    assert result.accuracy == pytest.approx(right / 9)


def test_seq2seq_scores_greedy_answers(tmp_path):
    model = open_model(project_with_weights("t5-tiny.json", tmp_path, shrink=False).path)
    result = evaluate(model, "copy", limit=3)
    assert result.examples == 3 and 0 <= result.bleu <= 100 and 0 <= result.chrf <= 100
    assert result.exact_match in (0, 1 / 3, 2 / 3, 1)
    with pytest.raises(EvaluationError, match="task next_line scores next-token predictions.*seq2seq"):
        evaluate(model, "next_line")


def test_broken_weights_are_named_not_ranked(run_copy):
    model = open_model(run_copy)
    with torch.no_grad():
        next(model.compiled.root.parameters()).fill_(float("nan"))
    for task in ("perplexity", "next_line"):
        with pytest.raises(EvaluationError, match=f"task {task}: run run at step 12 gives a log-likelihood of nan"):
            evaluate(model, task, limit=4)


def test_choice_ids_move_the_contexts_trailing_whitespace_into_the_choice_as_lm_eval_does():
    from workbench.core.data.tokenizers import CharTokenizer
    from workbench.core.evaluate import choice_ids

    tokenizer = CharTokenizer("\n abc")
    context, continuation = choice_ids(tokenizer, "ab \n", "ca")
    assert context == tokenizer.encode("ab") and continuation == tokenizer.encode(" \nca")
