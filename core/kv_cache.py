"""KV caches: what generation keeps between steps, so each new token costs one position, not the prefix.

A causal decoder's keys and values for a token never change once computed, so a step needs
queries, keys and values for the new tokens only; their queries read the earlier keys from the cache.

    cache = ContiguousKVCache()
    with cache.attach(step_module):                  # for as long as generation runs
        logits = step_module(*static, prompt)        # prefill: the prompt's keys and values go in
        cache.advance(prompt.shape[1])
        logits = step_module(*static, next_ids)      # one column: its queries see every cached key
        cache.advance(1)

`NextTokenModel` (below) does this for a CompiledModel, and runs an encoder once.

How modules read a cache. The compiled fx module calls its modules positionally, so the cache is
not an argument: `attach` fills the `cache` slot that every SelfAttention and CrossAttention
(core.nn.attention) and every position module that depends on where a token sits (learned,
sinusoidal, T5 bias) has, and empties it afterwards. With the slot empty a module runs its training
forward, so `compiled.module(tokens)` and training never pay for caching. What a module reads:

    kv_cache.positions(t)   (B or 1, T) positions of the t new tokens: learned and sinusoidal tables, RoPE
    kv_cache.span(t)        key columns the new queries are the last t of: the T5 bias
    layer.update(k, v)      append the new keys and values; returns every key the queries see, and a mask
    layer.memory_heads(…)   cross-attention: the encoder output's keys and values, computed on first use

ALiBi and the masks need nothing: kernels.attention aligns queries to the end of the keys.

Layout. A batch's rows advance together, one column per token. Rows may be left-padded (prompts of
different lengths, see core.paged_cache): column c of row b holds position c - pad[b], and the
columns before pad[b] are hidden by the key mask. Stored keys are already rotated (RoPE), so their
positions are fixed into them. A windowed layer keeps only its last window - 1 columns: the newest
query sees itself and those (Beltagy et al. 2020; Mistral's rolling buffer). Grouped-query and
multi-query layers store their G key/value heads, not the H query heads (Shazeer 2019, Ainslie et
al. 2023), which is where their memory saving comes from.

ContiguousLayer grows by concatenation, as Hugging Face's DynamicCache does: a step copies the
layer's keys once more, small next to the forward at the sizes this app trains (bench/generate.py).
Its `k` and `v` are plain attributes, so an exporter (core.export.onnx_step) can set them from
past-key inputs before a step and return them as present-key outputs after.

Letters: B batch, G key/value heads, T new tokens, S key columns, K head width.
"""

import abc
import contextlib
from collections.abc import Iterator

import torch
import torch.fx as fx
from torch import nn

from workbench.core.compiler import CompiledModel
from workbench.core.nn.attention import CrossAttention, SelfAttention
from workbench.core.nn.embeddings import LearnedPositions, SinusoidalPositions
from workbench.core.nn.positions import T5RelativeBias

POSITION_MODULES = (LearnedPositions, SinusoidalPositions, T5RelativeBias)


class GenerationError(ValueError):
    """A model, prompt or setting that generation cannot work with; the message says which."""


class KVCache(abc.ABC):
    """Where a batch of sequences stands, shared by the caches of all its layers (one per attention
    module, created on attach). Subclasses decide how keys and values are stored."""

    def __init__(self, pad: list[int] | None = None):
        self.pad = torch.tensor(pad) if pad and any(pad) else None  # (B,) left padding per row, or None
        self.seen = 0  # columns fed so far
        self.record = False  # layers keep each step's attention weights (core.decoding's step records)
        self.layers: dict[str, "LayerCache"] = {}  # module name -> its cache, while attached
        self.device = torch.device("cpu")

    def positions(self, t: int) -> torch.Tensor:
        """Positions (B or 1, T) of the next t columns; padding columns get position 0."""
        columns = torch.arange(self.seen, self.seen + t, device=self.device)[None]  # (1, T)
        if self.pad is None:
            return columns
        return (columns - self.pad[:, None]).clamp(min=0)  # (B, T)

    def span(self, t: int) -> int:
        return self.seen + t

    def key_mask(self, s: int, t: int) -> torch.Tensor | None:
        """Which of the last s columns (after t new ones) are real tokens, (B, S); None when all are."""
        if self.pad is None:
            return None
        columns = torch.arange(self.seen + t - s, self.seen + t, device=self.device)
        return columns[None] >= self.pad[:, None]

    def advance(self, t: int) -> None:
        """Call after each step: the t columns just fed are now cached."""
        self.seen += t

    @abc.abstractmethod
    def reorder(self, rows: torch.Tensor) -> None:
        """Row i continues row rows[i] (beam search keeps the best continuations of each beam)."""

    @abc.abstractmethod
    def memory_bytes(self) -> int:
        """Bytes the cached keys and values take now."""

    @contextlib.contextmanager
    def attach(self, module: nn.Module) -> Iterator["KVCache"]:
        """Fill the cache slots of every attention and position module inside `module`; empty them
        on leaving, however it is left."""
        found = [(name, m) for name, m in module.named_modules()
                 if isinstance(m, (SelfAttention, CrossAttention, *POSITION_MODULES))]
        parameter = next(module.parameters(), None)
        self.device = parameter.device if parameter is not None else torch.device("cpu")
        if self.pad is not None:
            self.pad = self.pad.to(self.device)
        try:
            for name, m in found:
                if isinstance(m, SelfAttention):
                    self.layers[name] = m.cache = self.self_attention_cache(m)
                elif isinstance(m, CrossAttention):
                    self.layers[name] = m.cache = CrossLayer(self)
                else:
                    m.cache = self
            yield self
        finally:
            for _, m in found:
                m.cache = None

    @abc.abstractmethod
    def self_attention_cache(self, module: SelfAttention) -> "LayerCache":
        """The cache a self-attention module keeps its keys and values in, created on attach."""


class LayerCache:
    """One attention module's part of a KVCache."""

    def __init__(self, owner: KVCache):
        self.owner = owner
        self.weights: torch.Tensor | None = None  # (B, H, T, S) of the last step, when the owner records

    @property
    def record(self) -> bool:
        return self.owner.record

    def positions(self, t: int) -> torch.Tensor:
        return self.owner.positions(t)


class ContiguousLayer(LayerCache):
    """Keys and values as one tensor per layer, (B, G, S, K), grown by concatenation; a windowed
    layer keeps only its last window - 1 columns."""

    def __init__(self, owner: KVCache, window: int | None):
        super().__init__(owner)
        self.keep = None if window is None else window - 1
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def update(self, k: torch.Tensor, v: torch.Tensor):
        t = k.shape[2]
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)  # (B, G, S, K)
        first = 0 if self.keep is None else max(k.shape[2] - self.keep, 0)
        self.k, self.v = k[:, :, first:], v[:, :, first:]
        return k, v, self.owner.key_mask(k.shape[2], t)

    def reorder(self, rows: torch.Tensor) -> None:
        if self.k is not None:
            self.k, self.v = self.k[rows], self.v[rows]

    def memory_bytes(self) -> int:
        return 0 if self.k is None else 2 * self.k.numel() * self.k.element_size()


class CrossLayer(LayerCache):
    """Cross-attention's keys and values: the encoder output's, the same at every step."""

    def __init__(self, owner: KVCache):
        super().__init__(owner)
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def memory_heads(self, module: CrossAttention, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is None:
            self.k, self.v = module.memory_heads(memory)  # (B, G, S, K)
        return self.k, self.v

    def reorder(self, rows: torch.Tensor) -> None:
        if self.k is not None:
            self.k, self.v = self.k[rows], self.v[rows]

    def memory_bytes(self) -> int:
        return 0 if self.k is None else 2 * self.k.numel() * self.k.element_size()


class ContiguousKVCache(KVCache):
    """Each layer's keys and values in one tensor that grows by a column per step."""

    def self_attention_cache(self, module: SelfAttention) -> LayerCache:
        return ContiguousLayer(self, module.window)

    def reorder(self, rows: torch.Tensor) -> None:
        for layer in self.layers.values():
            layer.reorder(rows)
        if self.pad is not None:
            self.pad = self.pad[rows.to(self.pad.device)]

    def memory_bytes(self) -> int:
        return sum(layer.memory_bytes() for layer in self.layers.values())


# ----- a compiled model as a next-token function -----


class NextTokenModel:
    """A CompiledModel seen as `ids so far -> logits of the next token`, with or without a cache.

    The compiled forward is split in two (`split_static`): what depends only on the source runs once
    (an encoder-decoder's encoder; nothing for a decoder-only model), the rest runs per step. Without
    a cache each step re-reads every id; with one, it feeds only the columns the cache has not seen.

        with NextTokenModel(compiled, ContiguousKVCache(), source=src) as model:
            logits = model(ids)      # (B, V) for ids (B, L)
    """

    def __init__(self, compiled: CompiledModel, cache: KVCache | None = None, source: torch.Tensor | None = None):
        required = compiled.required_inputs
        self.encoder_decoder = len(required) == 2
        if self.encoder_decoder != (source is not None):
            raise GenerationError("an encoder-decoder model needs a source to read, and only it takes one"
                                  if self.encoder_decoder else "this decoder-only model takes no source")
        if any(t.kind == "class_logits" for t in compiled.report.types.values()):
            raise GenerationError("a sequence classifier scores whole sequences; it does not predict next tokens")
        self.paths = {name: path for path, names in compiled.instances.items() for name in names}
        self.repeats = {name: names.index(name) for names in compiled.instances.values() for name in names}
        self.encode, self.step = split_static(compiled.module, required[-1])
        for name, m in self.step.named_modules():
            if isinstance(m, SelfAttention) and not m.causal:
                raise GenerationError(f"generation needs a causal model, but self-attention {self.paths[name]!r} "
                                      "sees later positions (an encoder such as BERT fills in blanks instead)")
        self.cache = cache
        self.vocab_size = compiled.ctx.vocab_size
        self._source = source
        self._modes = [(m, m.training) for m in compiled.root.modules()]
        self._attached = contextlib.ExitStack()

    def __enter__(self) -> "NextTokenModel":
        """Evaluation mode (no dropout), the source encoded, the cache attached."""
        for m, _ in self._modes:
            m.training = False
        with torch.no_grad():
            self.static = self.encode(self._source) if self.encoder_decoder else self.encode()
        if self.cache is not None:
            self._attached.enter_context(self.cache.attach(self.step))
        return self

    def __exit__(self, *exc) -> None:
        self._attached.close()
        for m, training in self._modes:
            m.training = training

    def expand(self, n: int) -> None:
        """Repeat every source row n times (beams), before the first step."""
        self.static = tuple(v.repeat_interleave(n, dim=0) if isinstance(v, torch.Tensor) else v for v in self.static)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            return self.step(*self.static, ids)[:, -1].float()  # (B, V)
        new = ids[:, self.cache.seen:]
        logits = self.step(*self.static, new)[:, -1].float()
        self.cache.advance(new.shape[1])
        return logits

    def reorder(self, rows: torch.Tensor) -> None:
        if self.cache is not None:
            self.cache.reorder(rows)

    def attention(self) -> list[tuple[str, int, str, torch.Tensor]]:
        """(node path, repeat, self or cross, weights (B, H, T, S)) of the last step, when recording."""
        return [(self.paths[name], self.repeats[name],
                 "cross" if isinstance(layer, CrossLayer) else "self", layer.weights)
                for name, layer in self.cache.layers.items() if layer.weights is not None]


def reads_a_source(compiled: CompiledModel) -> bool:
    """An encoder-decoder: its forward takes source ids and decoder ids."""
    return len(compiled.required_inputs) == 2


def split_static(module: fx.GraphModule, dynamic: str) -> tuple[fx.GraphModule, fx.GraphModule]:
    """Two modules over the same submodules: `encode(**inputs)` computes every value that does not
    depend on the input named `dynamic` and returns those the rest needs, as a tuple; `step(*those,
    dynamic)` computes the output from them."""
    graph = module.graph
    varying: set[fx.Node] = set()
    for node in graph.nodes:
        if (node.op == "placeholder" and node.target == dynamic) or any(a in varying for a in node.all_input_nodes):
            varying.add(node)
    needed = [n for n in graph.nodes if n not in varying and any(user in varying for user in n.users)]
    encode, values = fx.Graph(), {}
    for node in graph.nodes:
        if node not in varying and node.op != "output":
            values[node] = encode.node_copy(node, lambda n: values[n])
    encode.output(tuple(values[n] for n in needed))
    step, values = fx.Graph(), {}
    for node in needed:
        values[node] = step.placeholder(node.name)
    for node in graph.nodes:
        if node in varying or node.op == "output":
            values[node] = step.node_copy(node, lambda n: values[n])
    return fx.GraphModule(module, encode, "Encode"), fx.GraphModule(module, step, "Step")
