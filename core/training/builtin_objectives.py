"""The built-in training objectives (core/training/objectives.py says what an objective is):

    causal_lm        each next token of a block of text (GPT)
    masked_lm        the originals of 15 % of tokens, most of them hidden behind [MASK] (BERT)
    denoising        the whole text from a copy whose spans became single [MASK]s (BART)
    span_corruption  the spans hidden behind sentinel tokens, each after its sentinel (T5)
    seq2seq          a synthetic task's target from its source (copy, reverse, sort, add, or a mix)
    classification   the class of a passage (the play-genre task), for downstream fine-tuning

Each declares its own settings (stored flat in TrainConfig and run.json, as they always were).
"""

import random
from dataclasses import dataclass

import torch

from workbench.core.data.batching import BlockSampler
from workbench.core.data.tasks import (CLASSIFICATION_TASKS, MIXTURE, SEQ2SEQ_TASKS, TaskError, TaskMixture,
                                       classification_task, parse_mixture, seq2seq_example, seq2seq_lengths,
                                       task_characters)
from workbench.core.data.tokenizers import TokenizerError
from workbench.core.settings import param
from workbench.core.training.corruption import (infill, infilling_spans, mask_tokens, noise_span_count, noise_spans,
                                                span_corrupt)
from workbench.core.training.objectives import (SPLITS, Objective, ObjectiveError, Setup, SpecialTokens, _generator,
                                                _pad, _prepend, register)


@dataclass(frozen=True)
class SpanNoise:
    """The corruption rate shared by BART's infilling and T5's span corruption."""

    noise_density: float = param(0.15, above=0, below=1, help="denoising, span_corruption: share of tokens hidden "
                                 "in spans (BART used 0.3)")
    mean_span_length: float = param(3.0, min=1, units="tokens", help="denoising: the Poisson λ of span lengths; "
                                    "span_corruption: their mean")


@register
class CausalLM(Objective):
    """Predict every next token (Radford et al. 2018): targets are the inputs one position ahead."""

    id = "causal_lm"
    title = "each next token of a block of text (GPT)"
    provides = ("tokens", "targets")
    generates_text = True  # the trainer writes samples from it
    metrics = ("loss", "val_loss", "val_perplexity")
    eval_task = "next_line"

    @classmethod
    def create(cls, setup: Setup) -> "CausalLM":
        return cls(setup.samplers)

    def __init__(self, samplers: dict[str, BlockSampler]):
        self.samplers = samplers
        self.tokens_per_batch = samplers["train"].batch_size * samplers["train"].block_size

    def batch(self, index: int, split: str) -> dict[str, torch.Tensor]:
        tokens, targets = self.samplers[split].batch(index)
        return {"tokens": tokens, "targets": targets}

    def prompt(self) -> torch.Tensor:
        """The first validation token, (1, 1): samples start from it, so they compare across steps."""
        return self.samplers["val"].tokens[:1].long().view(1, 1)


@register
class MaskedLM(Objective):
    """BERT's masked language modelling (Devlin et al. 2019) on blocks of the corpus, each starting
    with [CLS] (the first position a classification head reads) when the tokenizer has one."""

    id = "masked_lm"
    title = "the originals of 15 % of tokens, most hidden behind [MASK] (BERT)"
    provides = ("tokens", "targets")
    special_roles = ("mask",)

    @dataclass(frozen=True)
    class Settings:
        mask_probability: float = param(0.15, above=0, below=1, help="masked_lm: share of tokens chosen for "
                                        "prediction (BERT's 15 %)")

    @classmethod
    def create(cls, setup: Setup) -> "MaskedLM":
        return cls(setup.samplers, setup.specials, setup.settings.mask_probability)

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


@register
class Denoising(Objective):
    """BART's text infilling (Lewis et al. 2020): the encoder reads the text with spans collapsed to
    single [MASK]s (padded to the block length), the decoder rebuilds all of it with teacher forcing.
    BART masked 30 % of the tokens; `density` sets the share here."""

    id = "denoising"
    title = "the whole text from a copy whose spans became single [MASK]s (BART)"
    provides = ("tokens", "padding_mask", "decoder_tokens", "targets")
    needs = ("decoder_tokens",)
    special_roles = ("mask", "bos", "pad")
    Settings = SpanNoise

    @classmethod
    def create(cls, setup: Setup) -> "Denoising":
        return cls(setup.samplers, setup.specials, setup.settings.noise_density, setup.settings.mean_span_length)

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


@register
class SpanCorruption(Objective):
    """T5's span corruption (Raffel et al. 2020): the encoder reads the text with each span replaced by
    a sentinel, the decoder writes sentinel, span, sentinel, span, ..., EOS with teacher forcing."""

    id = "span_corruption"
    title = "the spans hidden behind sentinel tokens, each after its sentinel (T5)"
    provides = ("tokens", "decoder_tokens", "targets")
    needs = ("decoder_tokens",)
    special_roles = ("eos", "bos")
    Settings = SpanNoise

    @classmethod
    def create(cls, setup: Setup) -> "SpanCorruption":
        return cls(setup.samplers, setup.specials, setup.settings.noise_density, setup.settings.mean_span_length)

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


@register
class Seq2Seq(Objective):
    """A synthetic task with teacher forcing (Sutskever et al. 2014; Williams & Zipser 1989): the
    encoder reads source + EOS, the decoder reads BOS + target (shifted right by one) and predicts
    target + EOS; padding is masked on both sides and ignored in the loss."""

    id = "seq2seq"
    title = "a synthetic task's target from its source (copy, reverse, sort, add, or a mix)"
    provides = ("tokens", "padding_mask", "decoder_tokens", "decoder_padding_mask", "targets")
    needs = ("decoder_tokens",)
    special_roles = ("bos", "eos", "pad")

    @dataclass(frozen=True)
    class Settings:
        task: str = param("copy", choices=(*SEQ2SEQ_TASKS, MIXTURE),
                          help="seq2seq: the synthetic task, or mix (task_mixture)")
        task_mixture: str = param("", visible_when={"task": (MIXTURE,)},
                                  help="task mix only: tasks and sampling weights, e.g. copy=1,reverse=1,sort=2 "
                                  "(T5 prefixes)")

    @classmethod
    def check_settings(cls, settings) -> str:
        if settings.task == MIXTURE:
            try:
                parse_mixture(settings.task_mixture)
            except TaskError as exc:
                return str(exc)
        elif settings.task_mixture:
            return f"task_mixture is read only when task is {MIXTURE}; clear it or set task={MIXTURE}"
        return ""

    @classmethod
    def settle(cls, values: dict, changed: str) -> dict:
        """Choosing mix starts from every task at weight 1 (a mix needs one); leaving it clears it."""
        if changed == "task" and values["task"] == MIXTURE and not values["task_mixture"]:
            return {**values, "task_mixture": ",".join(f"{task}=1" for task in SEQ2SEQ_TASKS)}
        if changed == "task" and values["task"] != MIXTURE:
            return {**values, "task_mixture": ""}
        return values

    @classmethod
    def eval_task_for(cls, settings) -> str:
        return settings.task  # its own synthetic task (a mix has no single one)

    @classmethod
    def create(cls, setup: Setup) -> "Seq2Seq":
        task = setup.settings.task
        task = parse_mixture(setup.settings.task_mixture) if task == MIXTURE else task
        return cls(task, setup.tokenizer, setup.specials, setup.context, setup.batch_size, setup.seed)

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


@register
class Classification(Objective):
    """Fine-tuning for sequence classification (Devlin et al. 2019, section 4.1): [CLS] (when the
    tokenizer has one) + passage, padded; the target is the passage's class id. Training batches are
    drawn at random; validation batches walk the held-out passages in order."""

    id = "classification"
    title = "the class of a passage (the play-genre task), for downstream fine-tuning"
    provides = ("tokens", "padding_mask", "targets")
    special_roles = ("pad",)
    predicts = "classes"
    metrics = ("loss", "val_loss", "val_accuracy")
    eval_task = "genre"

    @dataclass(frozen=True)
    class Settings:
        task: str = param("genre", choices=CLASSIFICATION_TASKS, help="classification: the labelled passages")

    @classmethod
    def create(cls, setup: Setup) -> "Classification":
        return cls(setup.settings.task, setup.tokenizer, setup.specials, setup.context, setup.batch_size, setup.seed,
                   setup.classes())

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


