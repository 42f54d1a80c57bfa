"""Forked generation as data: a fork keeps the shared steps, takes the alternative with the probability
the model gave it, and continues exactly as generating from that prefix would; branches form a tree."""

import pytest

from workbench.core.decoding import GenerationConfig, generate
from workbench.core.generation_tree import GenerationTree, branch_from_result, fork
from workbench.core.kv_cache import GenerationError
from tests.core.decoding.helpers import SOURCE, sharp_model

PROMPT = [3, 9, 4]
CONFIG = GenerationConfig(strategy="greedy", max_new_tokens=8)


def _tree(compiled, prompt=PROMPT, source=None, config=CONFIG) -> GenerationTree:
    tree = GenerationTree(prompt, source)
    tree.add(branch_from_result(tree, generate(compiled, prompt, config, source=source)))
    return tree


@pytest.mark.parametrize("name", ["gpt2", "t5"])
def test_a_fork_continues_from_the_alternative_as_generate_would(name):
    compiled = sharp_model(name)
    source, prompt = (SOURCE, [0]) if name == "t5" else (None, PROMPT)
    tree = _tree(compiled, prompt, source)
    root = tree.branches[0]
    step = 2
    alternative, p = root.steps[step].candidates[1]
    streamed = []
    branch = tree.add(fork(compiled, tree, 0, step, alternative, CONFIG, on_step=streamed.append))
    assert branch.tokens[:step] == root.tokens[:step] and branch.tokens[step] == alternative
    assert branch.steps[step].probability == p and branch.steps[step].candidates == root.steps[step].candidates
    expected = generate(compiled, prompt + branch.tokens[:step + 1],
                        GenerationConfig(strategy="greedy", max_new_tokens=CONFIG.max_new_tokens - step - 1),
                        source=source)
    assert branch.tokens[step + 1:] == expected.tokens and streamed == expected.steps
    assert len(branch.tokens) == CONFIG.max_new_tokens and branch.finish_reason == "length"
    assert [s.position for s in branch.steps] == [len(prompt) + i for i in range(len(branch.steps))]


def test_branches_form_a_tree_that_can_be_walked_back():
    compiled = sharp_model("gpt2")
    tree = _tree(compiled)
    first = tree.add(fork(compiled, tree, 0, 1, tree.branches[0].steps[1].candidates[1][0], CONFIG))
    second = tree.add(fork(compiled, tree, first.id, 4, first.steps[4].candidates[2][0], CONFIG))
    sibling = tree.add(fork(compiled, tree, 0, 5, tree.branches[0].steps[5].candidates[1][0], CONFIG))
    assert tree.path(second.id) == [0, 1, 2] and tree.path(sibling.id) == [0, 3]
    assert [b.id for b in tree.children(0)] == [1, 3] and tree.branches[0].tokens == _tree(compiled).branches[0].tokens
    saved = tree.to_dict()
    assert [b["parent"] for b in saved["branches"]] == [None, 0, 1, 0]
    assert saved["branches"][2]["token_ids"] == second.tokens


def test_forking_at_the_last_step_or_onto_a_stop_token_generates_nothing_more():
    compiled = sharp_model("gpt2")
    tree = _tree(compiled)
    last = len(tree.branches[0].steps) - 1
    end = fork(compiled, tree, 0, last, tree.branches[0].steps[last].candidates[1][0], CONFIG)
    assert len(end.steps) == CONFIG.max_new_tokens and end.finish_reason == "length"
    stop = tree.branches[0].steps[2].candidates[1][0]
    stopped = fork(compiled, tree, 0, 2, stop, GenerationConfig(max_new_tokens=8, stop_tokens=(stop,)))
    assert stopped.tokens[-1] == stop and len(stopped.steps) == 3 and stopped.finish_reason == "stop"


def test_bad_forks_say_what_to_do():
    compiled = sharp_model("gpt2")
    tree = _tree(compiled)
    record = tree.branches[0].steps[1]
    listed = {t for t, _ in record.candidates}
    outside = next(t for t in range(100) if t not in listed)
    with pytest.raises(GenerationError, match="not among the likeliest at step 1"):
        fork(compiled, tree, 0, 1, outside, CONFIG)
    with pytest.raises(GenerationError, match="already chose"):
        fork(compiled, tree, 0, 1, record.token, CONFIG)
    with pytest.raises(GenerationError, match="has steps 0 … 7, not 8"):
        fork(compiled, tree, 0, 8, record.token, CONFIG)
    with pytest.raises(GenerationError, match="branch 4 does not exist"):
        fork(compiled, tree, 4, 1, record.token, CONFIG)
    stale = fork(compiled, tree, 0, 1, record.candidates[1][0], CONFIG)
    tree.add(fork(compiled, tree, 0, 2, tree.branches[0].steps[2].candidates[1][0], CONFIG))
    with pytest.raises(GenerationError, match="fork again"):
        tree.add(stale)
