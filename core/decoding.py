"""Generating tokens: greedy, beam search and sampling (temperature, top-k, top-p), with a KV cache.

    result = generate(compiled, prompt_ids, GenerationConfig(strategy="beam", num_beams=4))
    result.tokens, result.hypotheses (n-best), result.steps (per token), result.beam_tree

Each step asks one question, the logits of the next token given the ids so far, of
core.kv_cache.NextTokenModel: with a cache each step feeds only the new column, without one it
re-reads every id; both give the same tokens. Logits are adjusted in Hugging Face's order: the
repetition penalty, then temperature, top-k and top-p. `generate_batch` decodes prompts of
different lengths together on a paged cache (core.paged_cache). `sample` is the plain uncached
sampler the trainer uses for its text samples. `load_generation_model` opens a project or a run.

Streaming: `generate(..., on_step=show)` calls `show(record)` as each token is chosen (greedy and
sampling: exactly the records of the result, in order); `show` returning True cancels. Beam search
cannot stream its answer, since the beam leading at one step may be pruned at the next: it calls
`show` once per step with the leading beam's newest token, as progress, and a cancel there makes the
next step the last, so the n-best list is always full.

Letters: B rows (prompts or beams), L ids so far, V vocabulary.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from workbench.core.compiler import CompiledModel
from workbench.core.data.tokenizers import ProjectTokenizer
from workbench.core.inspect import AttentionMap, checkpoint_model
from workbench.core.kv_cache import ContiguousKVCache, GenerationError, KVCache, NextTokenModel, reads_a_source
from workbench.core.paged_cache import PagedKVCache, PagedMemory
from workbench.core.project import Project
from workbench.core.generation_settings import STRATEGIES, GenerationConfig  # noqa: F401 (re-exported)
from workbench.core.training.guard import nonfinite_count
from workbench.core.training.objectives import SpecialTokens

def decoding_tokens(compiled: CompiledModel, tokenizer: ProjectTokenizer) -> tuple[int | None, tuple[int, ...]]:
    """The decoder's first token (an encoder-decoder's BOS, else 0; None for a decoder-only model) and the
    tokens that end generation (the tokenizer's EOS, when it has one): what the window and the CLI use."""
    specials = SpecialTokens(tokenizer)
    eos, bos = specials.find("eos"), specials.find("bos")
    start = (0 if bos is None else bos) if reads_a_source(compiled) else None
    return start, () if eos is None else (eos,)


@dataclass
class StepRecord:
    """One generated token, for hovering in the window: what was chosen and what else was likely."""

    position: int  # index of the token in the sequence, prompt included
    token: int
    probability: float  # of the chosen token, after the repetition penalty and temperature
    candidates: list[tuple[int, float]]  # the likeliest tokens with their probabilities, best first
    attention: list[AttentionMap] = field(default_factory=list)  # weights (1, H, 1, S) per module, on request


@dataclass
class BeamNode:
    """A beam after one step; node 0 is the prompt. Every node a search kept, finished or running."""

    id: int
    parent: int | None
    token: int | None
    log_prob: float  # of this token after the parent
    score: float  # running: sum of log-probs from the prompt; finished: that / length ** length_penalty
    finished: bool
    candidates: list[tuple[int, float]] = field(default_factory=list)  # the likeliest next tokens from here


@dataclass
class Hypothesis:
    tokens: list[int]  # generated ids, prompt excluded
    score: float  # beam: sum of log-probs / length ** length_penalty; otherwise the sum of log-probs


@dataclass
class GenerationResult:
    prompt: list[int]
    hypotheses: list[Hypothesis]  # best first: one, or beam search's n-best list
    steps: list[StepRecord]  # the best hypothesis, token by token
    finish_reason: str  # "stop" (a stop token), "length" (max_new_tokens), "context" (the context is full)
    #                     or "cancelled" (the on_step callback asked to stop)
    seconds: float
    cache_bytes: int = 0  # keys and values held at the end
    beam_tree: list[BeamNode] = field(default_factory=list)

    @property
    def tokens(self) -> list[int]:
        return self.hypotheses[0].tokens

    @property
    def tokens_per_s(self) -> float:
        return len(self.tokens) / max(self.seconds, 1e-9)

    def to_dict(self) -> dict:
        """JSON-ready (what `main.py generate --json` prints), without attention weights or the tree."""
        return {"prompt_ids": self.prompt, "token_ids": self.tokens, "finish_reason": self.finish_reason,
                "hypotheses": [{"token_ids": h.tokens, "score": h.score} for h in self.hypotheses],
                "tokens_per_s": self.tokens_per_s, "cache_bytes": self.cache_bytes,
                "steps": [{"position": s.position, "token": s.token, "probability": s.probability,
                           "candidates": s.candidates} for s in self.steps]}


# ----- entry points -----


StepCallback = Callable[[StepRecord], bool | None]  # sees each step's record; True cancels


@torch.no_grad()
def generate(compiled: CompiledModel, prompt: list[int], config: GenerationConfig = GenerationConfig(), *,
             source: list[int] | None = None, on_step: StepCallback | None = None) -> GenerationResult:
    """Continue `prompt`; an encoder-decoder reads `source` and `prompt` starts its decoder (e.g. [0]).
    `on_step` streams the tokens as they come and can cancel (see the module's docstring)."""
    ctx = compiled.ctx
    config.check(ctx.vocab_size)
    _check_ids("prompt", prompt, ctx.vocab_size, ctx.context_length - 1)
    if source is not None:
        _check_ids("source", source, ctx.vocab_size, ctx.context_length)
    device = next(compiled.root.parameters()).device
    ids = torch.tensor([prompt], device=device)
    budget = min(config.max_new_tokens, ctx.context_length - len(prompt))
    cache = ContiguousKVCache() if config.use_cache else None
    started = time.perf_counter()
    with NextTokenModel(compiled, cache, None if source is None else torch.tensor([source], device=device)) as model:
        if config.strategy == "beam":
            hypotheses, tree, steps, cancelled = _beam_search(model, ids, config, budget, on_step)
            best = hypotheses[0].tokens
            stopped = bool(best) and best[-1] in config.stop_tokens
        else:
            (hypothesis,), (steps,), (stopped,), cancelled = _decode(model, ids, [0], config, budget, on_step)
            hypotheses, tree = [hypothesis], []
    reason = "cancelled" if cancelled and not stopped else _finish_reason(stopped, budget, config)
    return GenerationResult(list(prompt), hypotheses, steps, reason, time.perf_counter() - started,
                            cache.memory_bytes() if cache else 0, tree)


@torch.no_grad()
def generate_batch(compiled: CompiledModel, prompts: list[list[int]], config: GenerationConfig = GenerationConfig(),
                   *, paged: bool = True, block_size: int = 16) -> tuple[list[GenerationResult], PagedMemory | int]:
    """Greedy or sampled continuations of prompts of different lengths, decoded together: left-padded
    rows on a paged cache (or a contiguous one). Returns the results and the cache's memory."""
    ctx = compiled.ctx
    config.check(ctx.vocab_size)
    if config.strategy == "beam":
        raise GenerationError("batched generation is greedy or sampled; beam search takes one prompt")
    if not prompts:
        raise GenerationError("the batch has no prompts")
    for prompt in prompts:
        _check_ids("prompt", prompt, ctx.vocab_size, ctx.context_length - 1)
    lengths = [len(p) for p in prompts]
    if not config.use_cache and len(set(lengths)) > 1:
        raise GenerationError("prompts of different lengths need the cache: it keeps each row's own positions")
    longest = max(lengths)
    budget = min(config.max_new_tokens, ctx.context_length - longest)
    device = next(compiled.root.parameters()).device
    ids = torch.tensor([[0] * (longest - len(p)) + p for p in prompts], device=device)  # (B, L), left-padded
    pads = [longest - n for n in lengths]
    cache: KVCache | None = None
    if config.use_cache:
        cache = PagedKVCache(lengths, budget, block_size) if paged else ContiguousKVCache(pads)
    started = time.perf_counter()
    with NextTokenModel(compiled, cache) as model:
        hypotheses, steps, stopped, _ = _decode(model, ids, pads, config, budget)
    seconds = time.perf_counter() - started
    memory = cache.memory() if isinstance(cache, PagedKVCache) else cache.memory_bytes() if cache else 0
    results = [GenerationResult(p, [h], s, _finish_reason(done, budget, config), seconds,
                                cache.memory_bytes() if cache else 0)
               for p, h, s, done in zip(prompts, hypotheses, steps, stopped)]
    return results, memory


def load_generation_model(path: str | Path) -> tuple[CompiledModel, ProjectTokenizer]:
    """The model and tokenizer of a project file with weights (e.g. imported), or of a run folder with
    its last good checkpoint; a model without trained weights, or with non-finite ones, is an error."""
    path = Path(path)
    if not path.is_dir():
        project = Project.load(path)
        if project.weights is None:
            raise GenerationError(f"{path}: the project has no weights, so it would generate from random ones; "
                                  "generate from a run folder of it, or a project with imported weights")
        compiled, tokenizer = project.compile(), project.tokenizer
    else:
        compiled, project = checkpoint_model(path)
        tokenizer = project.tokenizer
    bad, total = nonfinite_count(compiled.root.parameters())
    if bad:  # every token would come out as id 0 with probability NaN
        raise GenerationError(f"{path}: {bad:,} of {total:,} weights are NaN or infinite, so the model cannot "
                              f"generate; use a run's earlier checkpoint or train again with a lower learning_rate")
    return compiled, tokenizer


# ----- strategies -----


def _decode(model: NextTokenModel, ids: torch.Tensor, pads: list[int], config: GenerationConfig, budget: int,
            on_step: StepCallback | None = None):
    """Greedy or sampling for every row of ids (B, L0) at once. Per row: the hypothesis, its step
    records and whether a stop token ended it (a finished row keeps being fed, but nothing is kept);
    then whether on_step cancelled. on_step streams the records of row 0, which generate's one row is."""
    rows, vocab = ids.shape[0], model.vocab_size
    generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
    present = _present(ids, pads, vocab)
    stop = torch.tensor(config.stop_tokens, dtype=torch.long, device=ids.device)
    done = torch.zeros(rows, dtype=torch.bool, device=ids.device)
    steps: list[list[StepRecord]] = [[] for _ in range(rows)]
    scores = [0.0] * rows  # sum of log-probs
    cancelled = False
    if model.cache is not None:
        model.cache.record = config.record_attention
    for _ in range(budget):
        logits = _adjust(model(ids), present, config)  # (B, V)
        probs, log_probs = torch.softmax(logits, dim=-1), torch.log_softmax(logits, dim=-1)
        if config.strategy == "greedy":
            chosen = logits.argmax(dim=-1)  # (B,)
        else:
            kept = torch.softmax(truncate(logits, config.top_k, config.top_p), dim=-1)
            chosen = torch.multinomial(kept.cpu(), 1, generator=generator).squeeze(1).to(ids.device)
        maps = model.attention() if config.record_attention else []
        top = probs.topk(min(config.candidates, vocab))
        for b in (~done).nonzero().flatten().tolist():
            scores[b] += float(log_probs[b, chosen[b]])
            steps[b].append(StepRecord(ids.shape[1] - pads[b], int(chosen[b]), float(probs[b, chosen[b]]),
                                       list(zip(top.indices[b].tolist(), top.values[b].tolist())),
                                       [AttentionMap(path, r, kind, w[b:b + 1, :, -1:].cpu())
                                        for path, r, kind, w in maps]))
        ids = torch.cat([ids, chosen[:, None]], dim=1)
        present[torch.arange(rows), chosen] = True
        done |= torch.isin(chosen, stop)
        cancelled = on_step is not None and bool(on_step(steps[0][-1]))
        if done.all() or cancelled:
            break
    hypotheses = [Hypothesis([s.token for s in row], score) for row, score in zip(steps, scores)]
    stopped = [bool(row) and row[-1].token in config.stop_tokens for row in steps]
    return hypotheses, steps, stopped, cancelled


def _beam_search(model: NextTokenModel, ids: torch.Tensor, config: GenerationConfig, budget: int,
                 on_step: StepCallback | None = None):
    """Beam search over one prompt (1, L0), step for step as Hugging Face's: every step the best 2·n
    continuations of all n beams are scored; those among the best n that end (a stop token, or the
    last step) join the finished list, scored sum of log-probs / generated length ** length_penalty;
    the best n that do not end carry on. It stops when the finished list is full and no running beam
    can still beat it (or, with early_stopping, as soon as it is full). Returns the n-best list, the
    beam tree, the best hypothesis's step records and whether on_step cancelled (it sees the leading
    running beam's newest token each step; a cancel ends every beam at the next step). (The repetition
    penalty acts on logits, as in greedy search and sampling; Hugging Face's beam search applies it to
    log-probabilities.)"""
    n, vocab, start = config.num_beams, model.vocab_size, ids.shape[1]
    model.expand(n)
    ids = ids.repeat(n, 1)  # (n, L)
    present = _present(ids, [0] * n, vocab)
    keep = max(2, 1 + len(config.stop_tokens)) * n
    stop = torch.tensor(config.stop_tokens, dtype=torch.long, device=ids.device)
    scores = torch.full((n,), -1e9, device=ids.device)
    scores[0] = 0.0  # the beams start as copies of the prompt: only the first may extend it
    tree = [BeamNode(0, None, None, 0.0, 0.0, False)]
    nodes = [0] * n  # the tree node of each running beam
    finished: list[tuple[float, list[int], int]] = []  # (score, tokens, node), best first
    improvable, cancelled = True, False
    for step in range(budget):
        log_probs = torch.log_softmax(_adjust(model(ids), present, config), dim=-1)  # (n, V)
        top = log_probs.exp().topk(min(config.candidates, vocab))
        for beam in dict.fromkeys(nodes):  # distinct nodes: at first every beam is the prompt
            row = nodes.index(beam)
            tree[beam].candidates = list(zip(top.indices[row].tolist(), top.values[row].tolist()))
        total = (log_probs + scores[:, None]).view(-1)  # (n·V)
        best, index = total.topk(keep)  # (2n,)
        parents, tokens = index // vocab, index % vocab
        ends = torch.isin(tokens, stop) | (step + 1 == budget or cancelled)
        # (tree node it continues, token, its log-prob) of each candidate
        grown = [(nodes[p], t, float(log_probs[p, t])) for p, t in zip(parents.tolist(), tokens.tolist())]
        if improvable and not (len(finished) == n and config.early_stopping):
            for j in range(n):
                if ends[j]:
                    score = float(best[j]) / (step + 1) ** config.length_penalty
                    sequence = ids[parents[j], start:].tolist() + [int(tokens[j])]
                    finished.append((score, sequence, _add_node(tree, *grown[j], score, True)))
            finished = sorted(finished, key=lambda f: -f[0])[:n]
        if bool(ends.all()):
            break
        carried, order = (best - 1e9 * ends.float()).topk(n)  # the best n that did not end
        rows = parents[order]
        nodes = [_add_node(tree, *grown[j], float(score), False) for j, score in zip(order.tolist(), carried)]
        ids = torch.cat([ids[rows], tokens[order][:, None]], dim=1)
        present = present[rows]
        present[torch.arange(n), tokens[order]] = True
        model.reorder(rows)
        scores = carried
        if on_step is not None:
            leader = tree[nodes[0]]  # topk sorts: beam 0 carries the best score
            cancelled = bool(on_step(StepRecord(start + step, leader.token, math.exp(leader.log_prob),
                                                tree[leader.parent].candidates)))
        if len(finished) == n:
            improvable = improvable and float(scores[0]) / (step + 1) ** config.length_penalty > finished[-1][0]
        if not improvable or (len(finished) == n and config.early_stopping):
            break
    hypotheses = [Hypothesis(tokens, score) for score, tokens, _ in finished[:config.num_return]]
    return hypotheses, tree, _path_steps(tree, finished[0][2], start), cancelled


def _add_node(tree: list[BeamNode], parent: int, token: int, log_prob: float, score: float, finished: bool) -> int:
    tree.append(BeamNode(len(tree), parent, token, log_prob, score, finished))
    return len(tree) - 1


def _path_steps(tree: list[BeamNode], leaf: int, start: int) -> list[StepRecord]:
    """The step records of the hypothesis ending at node `leaf`."""
    path = []
    while tree[leaf].parent is not None:
        path.append(tree[leaf])
        leaf = tree[leaf].parent
    return [StepRecord(start + i, node.token, math.exp(node.log_prob), tree[node.parent].candidates)
            for i, node in enumerate(reversed(path))]


# ----- logits -----


def _adjust(logits: torch.Tensor, present: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    """The repetition penalty on tokens already present (Keskar et al. 2019, CTRL), then temperature."""
    if config.repetition_penalty != 1.0:
        penalized = torch.where(logits > 0, logits / config.repetition_penalty, logits * config.repetition_penalty)
        logits = torch.where(present, penalized, logits)
    if config.strategy == "sample" and config.temperature != 1.0:
        logits = logits / config.temperature
    return logits


def truncate(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Logits (B, V) with every token outside the k likeliest (ties kept), then outside the nucleus,
    set to -inf. The nucleus is the fewest likeliest tokens whose probabilities add up to top_p
    (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration"); the likeliest always stays."""
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # probability of the likelier tokens
        logits = logits.masked_fill((before >= top_p).scatter(-1, order, before >= top_p), float("-inf"))
    return logits


def _present(ids: torch.Tensor, pads: list[int], vocab: int) -> torch.Tensor:
    """(B, V): which tokens each row's real (unpadded) ids contain."""
    present = torch.zeros(ids.shape[0], vocab, dtype=torch.bool, device=ids.device)
    for b, pad in enumerate(pads):
        present[b, ids[b, pad:]] = True
    return present


def _finish_reason(stopped: bool, budget: int, config: GenerationConfig) -> str:
    return "stop" if stopped else "length" if budget == config.max_new_tokens else "context"


def _check_ids(what: str, ids: list[int], vocab_size: int, longest: int) -> None:
    """Non-empty, at most `longest` ids (a prompt leaves room for one more in the context), all in the vocabulary."""
    if not ids:
        raise GenerationError(f"the {what} is empty: give at least one token")
    if len(ids) > longest:
        room = " and leave room to generate" if what == "prompt" else ""
        raise GenerationError(f"the {what} has {len(ids)} tokens, but at most {longest} fit the model's context{room}")
    outside = [i for i in ids if not 0 <= i < vocab_size]
    if outside:
        raise GenerationError(f"{what}: token id {outside[0]} is outside the vocabulary (0 … {vocab_size - 1})")


# ----- the trainer's sampler -----


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: torch.Tensor,
    max_new_tokens: int,
    *,
    context_length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Autoregressive sampling without a cache: each step re-reads the last `context_length` ids, so it
    runs past the context (a window sliding over the text). prompt: [B, T0] ids; returns
    [B, T0 + max_new_tokens]. temperature 0 picks the argmax (greedy)."""
    ids = prompt
    for _ in range(max_new_tokens):
        logits = model(ids[:, -context_length:])[:, -1, :].float()  # (B, V)
        if temperature == 0:
            next_id = logits.argmax(dim=-1, keepdim=True)
        else:
            probs = torch.softmax(truncate(logits / temperature, top_k or 0), dim=-1)
            next_id = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)
        ids = torch.cat([ids, next_id], dim=1)
    return ids
