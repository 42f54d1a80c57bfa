"""Forked generation: take a different token at any step of a generated text and continue from it,
keeping every earlier branch, so the texts form a tree one can walk back through (issue #22; asked for
in SillyTavern#1734 and koboldcpp#975).

    tree = GenerationTree(prompt, source=None)
    root = tree.add(branch_from_result(tree, generate(compiled, prompt, config)))
    other = tree.add(fork(compiled, tree, root.id, step=3, token=alt_id, config=config))
    tree.path(other.id)  ->  [0, 1]: the branches from the first generation to this one

A branch holds its whole text from the prompt on: the steps it shares with the branch it left (copied,
they are a few records), the alternative taken at the fork step, then its own continuation. The
alternative keeps the probability and the candidate list the model gave at that step, so hovering it
still shows what the model preferred. Only one of the listed candidates can be taken: its probability
under the same settings is known without running the model again.
"""

from dataclasses import dataclass, field, replace

from workbench.core.compiler import CompiledModel
from workbench.core.decoding import GenerationConfig, GenerationResult, StepCallback, StepRecord, generate
from workbench.core.kv_cache import GenerationError


@dataclass
class Branch:
    id: int  # index in GenerationTree.branches; 0 is the first generation
    parent: int | None  # the branch this one left; None for the first generation
    fork_step: int  # index in steps of the token this branch chose differently (0 for the first generation)
    steps: list[StepRecord]  # every generated token from the prompt on, the shared ones included
    finish_reason: str  # as GenerationResult.finish_reason: stop, length, context or cancelled
    seconds: float = 0.0  # spent generating this branch's own continuation

    @property
    def tokens(self) -> list[int]:
        return [record.token for record in self.steps]


@dataclass
class GenerationTree:
    prompt: list[int]  # the ids every branch continues (an encoder-decoder: its decoder start)
    source: list[int] | None = None  # an encoder-decoder's source, read by every branch
    branches: list[Branch] = field(default_factory=list)

    def add(self, branch: Branch) -> Branch:
        if branch.id != len(self.branches):
            raise GenerationError(f"branch {branch.id} was made for a tree of {branch.id} branches; this one has "
                                  f"{len(self.branches)} (fork again from the current tree)")
        self.branches.append(branch)
        return branch

    def children(self, branch_id: int) -> list[Branch]:
        return [b for b in self.branches if b.parent == branch_id]

    def path(self, branch_id: int) -> list[int]:
        """Branch ids from the first generation to `branch_id`: the way back through the tree."""
        path = [branch_id]
        while self.branches[path[-1]].parent is not None:
            path.append(self.branches[path[-1]].parent)
        return path[::-1]

    def to_dict(self) -> dict:
        """JSON-ready, without attention weights."""
        return {"prompt_ids": self.prompt, "source_ids": self.source,
                "branches": [{"id": b.id, "parent": b.parent, "fork_step": b.fork_step, "token_ids": b.tokens,
                              "finish_reason": b.finish_reason,
                              "probabilities": [s.probability for s in b.steps]} for b in self.branches]}


def branch_from_result(tree: GenerationTree, result: GenerationResult) -> Branch:
    """The first generation (or any generation of the tree's prompt) as a branch of its own."""
    if result.prompt != tree.prompt:
        raise GenerationError("the generation continued another prompt than the tree's")
    return Branch(len(tree.branches), None, 0, list(result.steps), result.finish_reason, result.seconds)


def fork(compiled: CompiledModel, tree: GenerationTree, branch_id: int, step: int, token: int,
         config: GenerationConfig, on_step: StepCallback | None = None) -> Branch:
    """A new branch (not yet added to `tree`): branch `branch_id`'s first `step` tokens, then `token`
    instead of the one it chose, then a continuation under `config` until config.max_new_tokens tokens
    are generated in all, a stop token comes or the context fills. on_step streams the continuation."""
    if not 0 <= branch_id < len(tree.branches):
        raise GenerationError(f"branch {branch_id} does not exist (the tree has {len(tree.branches)})")
    parent = tree.branches[branch_id]
    if not 0 <= step < len(parent.steps):
        raise GenerationError(f"branch {branch_id} has steps 0 … {len(parent.steps) - 1}, not {step}")
    original = parent.steps[step]
    probabilities = dict(original.candidates)
    if token not in probabilities:
        listed = ", ".join(str(t) for t, _ in original.candidates)
        raise GenerationError(f"token {token} is not among the likeliest at step {step} ({listed}); fork with one "
                              f"of them, or generate with more candidates")
    if token == original.token:
        raise GenerationError(f"branch {branch_id} already chose token {token} at step {step}; pick another one")
    chosen = StepRecord(original.position, token, probabilities[token], list(original.candidates))
    prefix = list(parent.steps[:step]) + [chosen]
    remaining = config.max_new_tokens - len(prefix)
    room = compiled.ctx.context_length - len(tree.prompt) - len(prefix)
    ids = tree.prompt + [record.token for record in prefix]
    if token in config.stop_tokens:
        return Branch(len(tree.branches), branch_id, step, prefix, "stop")
    if remaining <= 0 or room <= 0:
        return Branch(len(tree.branches), branch_id, step, prefix, "length" if remaining <= 0 else "context")
    result = generate(compiled, ids, replace(config, max_new_tokens=remaining), source=tree.source, on_step=on_step)
    return Branch(len(tree.branches), branch_id, step, prefix + result.steps, result.finish_reason, result.seconds)
