"""Training objectives: what the model is asked to predict, as the batches it is shown.

    causal_lm        each next token of a block of text (GPT)
    masked_lm        the originals of 15 % of tokens, most of them hidden behind [MASK] (BERT)
    denoising        the whole text from a copy whose spans became single [MASK]s (BART)
    span_corruption  the spans hidden behind sentinel tokens, each after its sentinel (T5)
    seq2seq          a synthetic task's target from its source (copy, reverse, sort, add, or a mix)
    classification   the class of a passage (the play-genre task), for downstream fine-tuning

An objective turns a batch index and a split ("train" or "val") into tensors keyed by input kind:
tokens, decoder_tokens, targets, padding_mask, decoder_padding_mask (the decoder's own padding), and
token_types. `input_kinds` names the kind of each argument of a compiled training forward, so the
trainer passes a batch to any graph. Batch k of a split comes from generators seeded by (seed, k)
alone, as core.data.batching.BlockSampler's do, so a resumed run sees the batches an uninterrupted
one would. Sequences of different lengths are padded with [PAD] on the right, their padding mask is
0 there, and a target of -1 does not count.

Special tokens come from the tokenizer (core.data.tokenizers `special_ids`): a role is filled by the
first of its usual names the tokenizer has, e.g. [MASK] or <mask>; T5's sentinels are <extra_id_0>,
<extra_id_1>, ... A char tokenizer declares them in its spec and gives them the ids after its alphabet.
"""

import random
from typing import Protocol

import networkx as nx
import torch

from workbench.core.compiler import CompiledModel
from workbench.core.data.batching import BlockSampler
from workbench.core.data.tasks import (MIXTURE, TaskMixture, classification_task, parse_mixture, seq2seq_example,
                             seq2seq_lengths, task_characters)
from workbench.core.data.tokenizers import TokenizerError
from workbench.core.graph import Graph
from workbench.core.training.corruption import (infill, infilling_spans, mask_tokens, noise_span_count, noise_spans,
                                      span_corrupt)

OBJECTIVES = ("causal_lm", "masked_lm", "denoising", "span_corruption", "seq2seq", "classification")
SPLITS = ("train", "val")

ROLES = {  # special-token role -> the names it goes by, in order of preference
    "pad": ("[PAD]", "<pad>"),
    "bos": ("[BOS]", "[CLS]", "<s>"),  # starts a decoder's input; BERT's [CLS] in front of an encoder's
    "eos": ("[EOS]", "[SEP]", "</s>"),
    "mask": ("[MASK]", "<mask>"),
}
KIND_OF_BLOCK = {"input.tokens": "tokens", "input.decoder_tokens": "decoder_tokens", "input.targets": "targets",
                 "input.padding_mask": "padding_mask", "input.token_types": "token_types"}
REQUIRED_KINDS = {  # the forward cannot run without these
    "tokens": "token input (input.tokens)",
    "decoder_tokens": "decoder token input (input.decoder_tokens)",
    "targets": "target input (input.targets)",
}


class ObjectiveError(ValueError):
    pass


class Objective(Protocol):
    provides: tuple[str, ...]  # the input kinds its batches hold
    generates_text: bool  # True when samples of generated text show progress (causal LM); it has prompt()
    tokens_per_batch: int  # tokens read per training batch, for the tokens/s figure

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]: ...


# ----- special tokens -----


# The special tokens each objective's batches are made with, by role (its constructor asks for them):
# what `check_special_tokens` looks for before a run starts.
SPECIAL_ROLES = {"causal_lm": (), "masked_lm": ("mask",), "denoising": ("mask", "bos", "pad"),
                 "span_corruption": ("eos", "bos"), "seq2seq": ("bos", "eos", "pad"), "classification": ("pad",)}


def check_special_tokens(tokenizer, objective: str) -> None:
    """ObjectiveError naming the first special token `objective` needs and `tokenizer` lacks, so the
    Train button says so at once rather than the trainer after loading the data."""
    specials = SpecialTokens(tokenizer)
    for role in SPECIAL_ROLES[objective]:
        specials.need(role, objective)


class SpecialTokens:
    """The tokenizer's special tokens by role, and the ids that are not special."""

    def __init__(self, tokenizer):
        self.ids = tokenizer.special_ids()  # token text -> id
        self.all = torch.tensor(sorted(self.ids.values()), dtype=torch.long)  # never masked or corrupted
        # Ordinary ids: what BERT's random replacement draws from.
        self.ordinary = torch.tensor([i for i in range(tokenizer.vocab_size) if i not in self.ids.values()])

    def find(self, role: str) -> int | None:
        return next((self.ids[name] for name in ROLES[role] if name in self.ids), None)

    def need(self, role: str, objective: str) -> int:
        found = self.find(role)
        if found is None:
            raise ObjectiveError(f"the {objective} objective needs a {role} token: add one of "
                                 f"{', '.join(ROLES[role])} to the tokenizer's special_tokens")
        return found

    def sentinels(self) -> list[int]:
        """T5's sentinel ids in order, as far as <extra_id_0>, <extra_id_1>, ... run unbroken."""
        found = []
        while f"<extra_id_{len(found)}>" in self.ids:
            found.append(self.ids[f"<extra_id_{len(found)}>"])
        return found


# ----- graph inputs -----


def input_kinds(graph: Graph, names: list[str]) -> list[str]:
    """The kind of each forward argument. A padding mask is the decoder's when everything it feeds
    lies downstream of the decoder tokens (an encoder's mask also feeds the encoder itself)."""
    g = graph.nx()
    decoder_side = set().union(*(nx.descendants(g, n.id) for n in graph.nodes_of_type("input.decoder_tokens")))
    kinds = []
    for name in names:
        kind = KIND_OF_BLOCK[graph.nodes[name].type_id]
        if kind == "padding_mask" and decoder_side and set(g.successors(name)) <= decoder_side:
            kind = "decoder_padding_mask"
        kinds.append(kind)
    return kinds


def model_arguments(batch: dict[str, torch.Tensor], kinds: list[str]) -> list[torch.Tensor | None]:
    """The forward's arguments in order; a kind the batch lacks is None, and trailing Nones are left
    off so a decoder-only model is called as model(tokens, targets)."""
    arguments = [batch.get(kind) for kind in kinds]
    while arguments and arguments[-1] is None:
        arguments.pop()
    return arguments


def _generator(seed: int, index: int, stream: int = 0) -> torch.Generator:
    """Batch `index`'s random numbers; `stream` separates them from BlockSampler's window starts."""
    return torch.Generator().manual_seed((seed * 1_000_003 + index) * 4 + stream)


def _pad(rows: list[list[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids as (B, width) ids padded on the right, and the padding mask: 1 real, 0 padding."""
    tokens = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return tokens, mask


def _prepend(column: int, tokens: torch.Tensor) -> torch.Tensor:
    """`column` in front of every row, the last position dropped: (B, T) stays (B, T)."""
    return torch.cat([torch.full_like(tokens[:, :1], column), tokens[:, :-1]], dim=1)


# ----- objectives on the corpus -----


class CausalLM:
    """Predict every next token (Radford et al. 2018): targets are the inputs one position ahead."""

    provides = ("tokens", "targets")
    generates_text = True  # the trainer writes samples from it

    def __init__(self, samplers: dict[str, BlockSampler]):
        self.samplers = samplers
        self.tokens_per_batch = samplers["train"].batch_size * samplers["train"].block_size

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        tokens, targets = self.samplers[split].batch(index)
        return {"tokens": tokens, "targets": targets}

    def prompt(self) -> torch.Tensor:
        """The first validation token, (1, 1): samples start from it, so they compare across steps."""
        return self.samplers["val"].tokens[:1].long().view(1, 1)


class MaskedLM:
    """BERT's masked language modelling (Devlin et al. 2019) on blocks of the corpus, each starting
    with [CLS] (the first position a classification head reads) when the tokenizer has one."""

    provides = ("tokens", "targets")
    generates_text = False

    def __init__(self, samplers: dict[str, BlockSampler], specials: SpecialTokens, probability: float):
        self.samplers, self.specials, self.probability = samplers, specials, probability
        self.mask_id = specials.need("mask", "masked_lm")
        self.cls_id = specials.find("bos")
        self.tokens_per_batch = samplers["train"].batch_size * samplers["train"].block_size

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        sampler = self.samplers[split]
        tokens, _ = sampler.batch(index)
        if self.cls_id is not None:
            tokens = _prepend(self.cls_id, tokens)
        inputs, targets = mask_tokens(tokens, self.probability, mask_id=self.mask_id, special_ids=self.specials.all,
                                      ordinary_ids=self.specials.ordinary,
                                      generator=_generator(sampler.seed, index, stream=1))
        return {"tokens": inputs, "targets": targets}


class Denoising:
    """BART's text infilling (Lewis et al. 2020): the encoder reads the text with spans collapsed to
    single [MASK]s (padded to the block length), the decoder rebuilds all of it with teacher forcing.
    BART masked 30 % of the tokens; `density` sets the share here."""

    provides = ("tokens", "padding_mask", "decoder_tokens", "targets")
    generates_text = False

    def __init__(self, samplers: dict[str, BlockSampler], specials: SpecialTokens, density: float, mean_span: float):
        self.samplers, self.density, self.mean_span = samplers, density, mean_span
        self.mask_id = specials.need("mask", "denoising")
        self.bos_id = specials.need("bos", "denoising")
        self.pad_id = specials.need("pad", "denoising")
        self.tokens_per_batch = 2 * samplers["train"].batch_size * samplers["train"].block_size

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        sampler = self.samplers[split]
        text, _ = sampler.batch(index)  # (B, T)
        generator = _generator(sampler.seed, index, stream=1)
        length = text.shape[1]
        rows = [infill(row, infilling_spans(length, self.density, self.mean_span, generator), self.mask_id)
                for row in text.tolist()]
        tokens, mask = _pad(rows, length, self.pad_id)
        return {"tokens": tokens, "padding_mask": mask, "decoder_tokens": _prepend(self.bos_id, text),
                "targets": text}


class SpanCorruption:
    """T5's span corruption (Raffel et al. 2020): the encoder reads the text with each span replaced by
    a sentinel, the decoder writes sentinel, span, sentinel, span, ..., EOS with teacher forcing."""

    provides = ("tokens", "decoder_tokens", "targets")
    generates_text = False

    def __init__(self, samplers: dict[str, BlockSampler], specials: SpecialTokens, density: float, mean_span: float):
        self.samplers, self.density, self.mean_span = samplers, density, mean_span
        self.eos_id = specials.need("eos", "span_corruption")
        self.bos_id = specials.need("bos", "span_corruption")
        self.length = samplers["train"].block_size - 1  # text tokens per sequence; EOS makes the block
        noise, spans = noise_span_count(self.length, density, mean_span)
        self.sentinels = specials.sentinels()
        if len(self.sentinels) < spans:
            raise ObjectiveError(f"span_corruption hides {noise} of {self.length} tokens in {spans} spans, so it "
                                 f"needs {spans} sentinel tokens <extra_id_0> ... <extra_id_{spans - 1}>; "
                                 f"the tokenizer has {len(self.sentinels)}")
        if spans > self.length - noise:
            raise ObjectiveError(f"noise_density {density} leaves too few kept tokens for {spans} spans")
        self.tokens_per_batch = samplers["train"].batch_size * (self.length + 2 * spans + 2)

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        sampler = self.samplers[split]
        text, _ = sampler.batch(index)
        generator = _generator(sampler.seed, index, stream=1)
        pairs = [span_corrupt(row, noise_spans(self.length, self.density, self.mean_span, generator),
                              self.sentinels, self.eos_id) for row in text[:, : self.length].tolist()]
        tokens = torch.tensor([inputs for inputs, _ in pairs])  # every row the same length: no padding
        targets = torch.tensor([target for _, target in pairs])
        return {"tokens": tokens, "decoder_tokens": _prepend(self.bos_id, targets), "targets": targets}


# ----- objectives on bundled tasks -----


class Seq2Seq:
    """A synthetic task with teacher forcing (Sutskever et al. 2014; Williams & Zipser 1989): the
    encoder reads source + EOS, the decoder reads BOS + target (shifted right by one) and predicts
    target + EOS; padding is masked on both sides and ignored in the loss."""

    provides = ("tokens", "padding_mask", "decoder_tokens", "decoder_padding_mask", "targets")
    generates_text = False

    def __init__(self, task: str | TaskMixture, tokenizer, specials: SpecialTokens, context: int, batch_size: int,
                 seed: int):
        self.task, self.tokenizer, self.batch_size = task, tokenizer, batch_size
        self.seeds = {"train": seed, "val": seed + 1}
        self.bos_id, self.eos_id, self.pad_id = (specials.need(role, "seq2seq") for role in ("bos", "eos", "pad"))
        mixed = isinstance(task, TaskMixture)
        name = f"the task mixture {', '.join(task.tasks)}" if mixed else f"the {task} task"
        _check_encodes(tokenizer, task.characters() if mixed else task_characters(task), name)
        lengths = task.lengths() if mixed else seq2seq_lengths(task)
        self.source_width, self.target_width = (n + 1 for n in lengths)  # + EOS
        if max(self.source_width, self.target_width) > context:
            raise ObjectiveError(f"{name} needs sequences of {max(self.source_width, self.target_width)} "
                                 f"tokens; the graph's context length is {context}")
        self.tokens_per_batch = batch_size * (self.source_width + self.target_width)

    def examples(self, index: int, split: str) -> list[tuple[str, str]]:
        """Batch `index`'s (source, target) texts; a mixture's sources start with their task's prefix."""
        rng = random.Random(self.seeds[split] * 1_000_003 + index)
        if isinstance(self.task, TaskMixture):
            return [self.task.example(rng) for _ in range(self.batch_size)]
        return [seq2seq_example(self.task, rng) for _ in range(self.batch_size)]

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        pairs = self.examples(index, split)
        sources = [self.tokenizer.encode(source) + [self.eos_id] for source, _ in pairs]
        targets = [self.tokenizer.encode(target) + [self.eos_id] for _, target in pairs]
        tokens, mask = _pad(sources, self.source_width, self.pad_id)
        target_ids, target_mask = _pad(targets, self.target_width, self.pad_id)
        # The decoder input at position i is target i - 1, so it is as long as the target: same mask.
        return {"tokens": tokens, "padding_mask": mask, "decoder_tokens": _prepend(self.bos_id, target_ids),
                "decoder_padding_mask": target_mask, "targets": target_ids.masked_fill(target_mask == 0, -1)}


class Classification:
    """Fine-tuning for sequence classification (Devlin et al. 2019, section 4.1): [CLS] (when the
    tokenizer has one) + passage, padded; the target is the passage's class id. Training batches are
    drawn at random; validation batches walk the held-out passages in order."""

    provides = ("tokens", "padding_mask", "targets")
    generates_text = False

    def __init__(self, task: str, tokenizer, specials: SpecialTokens, context: int, batch_size: int, seed: int,
                 classes: int):
        loaded = classification_task(task)
        if classes != len(loaded.classes):
            raise ObjectiveError(f"the {task} task has {len(loaded.classes)} classes ({', '.join(loaded.classes)}) "
                                 f"but the graph's classification head has classes = {classes}")
        self.pad_id = specials.need("pad", "classification")
        cls_id = specials.find("bos")
        self.batch_size, self.seed = batch_size, seed
        self.rows: dict[str, list[list[int]]] = {}  # split -> token ids of each passage
        self.labels: dict[str, torch.Tensor] = {}  # split -> class id of each passage
        for split in SPLITS:
            examples = getattr(loaded, split)
            _check_encodes(tokenizer, "".join(sorted({ch for text, _ in examples for ch in text})), f"the {task} task")
            encoded = tokenizer.encode_batch([text for text, _ in examples])
            self.rows[split] = [(([cls_id] if cls_id is not None else []) + ids)[:context] for ids in encoded]
            self.labels[split] = torch.tensor([label for _, label in examples])
        self.width = max(len(ids) for rows in self.rows.values() for ids in rows)
        self.tokens_per_batch = batch_size * self.width

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        count = len(self.rows[split])
        if split == "train":
            picks = torch.randint(count, (self.batch_size,), generator=_generator(self.seed, index))
        else:
            picks = torch.arange(index * self.batch_size, (index + 1) * self.batch_size) % count
        tokens, mask = _pad([self.rows[split][i] for i in picks.tolist()], self.width, self.pad_id)
        return {"tokens": tokens, "padding_mask": mask, "targets": self.labels[split][picks]}


def _check_encodes(tokenizer, characters: str, what: str) -> None:
    """Every character of a task must be a real token, not the unknown one or an error."""
    try:
        missing = [ch for ch in characters if tokenizer.unknown_id in tokenizer.encode(ch)]
    except TokenizerError as exc:
        raise ObjectiveError(f"{what} writes text the tokenizer cannot encode: {exc}") from None
    if missing:
        raise ObjectiveError(f"{what} writes {''.join(missing)!r}, which the tokenizer only knows as unknown")


# ----- choosing one -----

CLASSES = {"causal_lm": CausalLM, "masked_lm": MaskedLM, "denoising": Denoising, "span_corruption": SpanCorruption,
           "seq2seq": Seq2Seq, "classification": Classification}
NEEDS = {  # input kinds the graph must have, beyond those the forward requires anyway
    "denoising": ("decoder_tokens",), "span_corruption": ("decoder_tokens",), "seq2seq": ("decoder_tokens",),
}


def make_objective(project, config, compiled: CompiledModel) -> Objective:
    """The objective config.objective names, set up for this project's graph, tokenizer and data;
    ObjectiveError says what the graph or the tokenizer lacks for it."""
    name = config.objective
    kinds = input_kinds(project.graph, compiled.training_input_names)
    _check_graph(name, kinds, compiled)
    specials = SpecialTokens(project.tokenizer)
    context, batch_size = compiled.ctx.context_length, config.batch_size
    if name == "seq2seq":
        task = parse_mixture(config.task_mixture) if config.task == MIXTURE else config.task
        return Seq2Seq(task, project.tokenizer, specials, context, batch_size, config.seed)
    if name == "classification":
        return Classification(config.task, project.tokenizer, specials, context, batch_size, config.seed,
                              _classes(compiled))
    train_tokens, val_tokens = project.token_splits()
    samplers = {split: BlockSampler(tokens, context, batch_size, config.seed + offset, project.data.packing)
                for offset, (split, tokens) in enumerate(zip(SPLITS, (train_tokens, val_tokens), strict=True))}
    if name == "causal_lm":
        return CausalLM(samplers)
    if name == "masked_lm":
        return MaskedLM(samplers, specials, config.mask_probability)
    return CLASSES[name](samplers, specials, config.noise_density, config.mean_span_length)


def _classes(compiled: CompiledModel) -> int | None:
    """C of the graph's class scores, or None when it predicts tokens."""
    found = [t for (node, _), t in compiled.report.types.items() if "/" not in node and t.kind == "class_logits"]
    return found[0].dims[-1] if found else None


def _check_graph(name: str, kinds: list[str], compiled: CompiledModel) -> None:
    provides = CLASSES[name].provides
    for kind in NEEDS.get(name, ()):
        if kind not in kinds:
            raise ObjectiveError(f"the {name} objective needs a {REQUIRED_KINDS[kind]}: it trains "
                                 f"encoder-decoder graphs such as the BART and T5 presets")
    for kind in REQUIRED_KINDS:
        if kind in kinds and kind not in provides:
            serving = [other for other in OBJECTIVES if kind in CLASSES[other].provides]
            raise ObjectiveError(f"the {name} objective does not feed the graph's {REQUIRED_KINDS[kind]}; "
                                 f"choose one of {', '.join(serving)}")
    classifies = _classes(compiled) is not None
    if classifies and name != "classification":
        raise ObjectiveError(f"the {name} objective predicts tokens, but the graph ends in a classification head "
                             f"(head.classify); choose the classification objective")
    if name == "classification" and not classifies:
        raise ObjectiveError("the classification objective needs a classification head (head.classify) "
                             "with a classification loss (loss.classification); this graph predicts tokens")
