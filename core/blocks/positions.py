"""Position encodings. Every one has the same ports, so any can replace any other in place:

    x [B, T, D] ──► out [B, T, D]     the hidden states, with an absolute encoding added
                └─► positions          what attention needs: rotary angles, ALiBi, a relative bias

Absolute encodings (learned, sinusoidal) change `out` and hand attention nothing; score-level
encodings (RoPE, ALiBi, T5 bias) pass `out` through unchanged and act on attention's scores.
NoPE does neither. Wire `positions` into every attention's positions port once, and swapping
learned for RoPE is a change of block type with no rewiring.
"""

from dataclasses import dataclass

from torch import nn

from workbench.core.blocks.base import Block, Port, register
from workbench.core.settings import param
from workbench.core.nn.embeddings import LearnedPositions, SinusoidalPositions
from workbench.core.nn.positions import AlibiPositions, RotaryPositions, T5RelativeBias
from workbench.core.shapes import ShapeError, no_positions, rotary_positions, score_bias_positions


class _PositionBlock(Block):
    category = "Position"
    capabilities = frozenset({"embedding_params"})
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"), Port("positions", "positions", "for the positions port of attention"))


class _Absolute(_PositionBlock):
    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"], "positions": no_positions()}

    def forwarded_outputs(self, params):
        return {"positions": None}


class _ScoreLevel(_PositionBlock):
    # `out` is `x` unchanged: with `positions` wired nowhere the model would get no position information.
    outputs = (Port("out", "hidden"), Port("positions", "positions", "for the positions port of attention",
                                           must_feed=True))

    def forwarded_outputs(self, params):
        return {"out": "x"}


@register
class LearnedPositionsBlock(_Absolute):
    type_id = "position.learned"
    title = "Learned positions"
    description = "Adds a trained vector per position, up to the context length (GPT-2, BERT, BART)."
    paper = "Radford et al. 2019, Language Models are Unsupervised Multitask Learners"

    def build(self, params, inputs, ctx):
        return LearnedPositions(ctx.context_length, inputs["x"].width())


@register
class SinusoidalPositionsBlock(_Absolute):
    type_id = "position.sinusoidal"
    title = "Sinusoidal positions"
    description = "Adds fixed sines and cosines of geometrically spaced wavelengths; nothing to train."
    paper = "Vaswani et al. 2017, Attention Is All You Need"

    # Version 2 added `amplitude`. The paper adds its ±1 table to token embeddings multiplied by √D; ours
    # start at std 0.02 unscaled (GPT-2's init), so a ±1 table drowned them and the model barely trained
    # (week 9's lab: validation loss 3.31 against about 2.2 for learned, RoPE and ALiBi). Scaling the table
    # by 1/√D keeps the paper's balance between tokens and positions without touching the embedding block.
    version = 2

    @dataclass(frozen=True)
    class Params:
        base: float = param(10000.0, min=2.0, help="Longest wavelength is 2π·base.")
        amplitude: str = param("1/sqrt(D)", choices=("1/sqrt(D)", "1"),
                               help="Height of the sines: 1/sqrt(D) balances token embeddings initialised small and "
                                    "unscaled (GPT-2's); 1 is the paper's, beside embeddings multiplied by √D "
                                    "(the token embedding's scale).")

    def migrate(self, version: int, params: dict) -> dict:
        """Version 1 added the table at amplitude 1: saved projects and their checkpoints keep it."""
        return {"amplitude": "1", **params} if version < 2 else params

    def infer(self, params, inputs, ctx):
        if inputs["x"].width() % 2:
            raise ShapeError(f"sinusoidal positions need an even width D, got {inputs['x'].width()}")
        return super().infer(params, inputs, ctx)

    def build(self, params, inputs, ctx):
        width = inputs["x"].width()
        scale = 1.0 if params.amplitude == "1" else width ** -0.5
        return SinusoidalPositions(ctx.context_length, width, params.base, scale)


@register
class RotaryPositionsBlock(_ScoreLevel):
    type_id = "position.rope"
    title = "RoPE"
    description = ("Rotary positions: attention rotates queries and keys by angles proportional to their "
                   "positions, so scores depend on relative distance (LLaMA, Mistral).")
    paper = "Su et al. 2021, RoFormer: Enhanced Transformer with Rotary Position Embedding"

    @dataclass(frozen=True)
    class Params:
        base: float = param(10000.0, min=2.0, help="θ: feature pair i turns by position · θ^(-2i/K); larger "
                                                   "bases reach further.")
        fraction: float = param(1.0, min=0.01, max=1.0, help="Share of each head's features that rotate; the "
                                                             "rest carry no position (GPT-NeoX's rotary_pct).")

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"], "positions": rotary_positions()}

    def build(self, params, inputs, ctx):
        return RotaryPositions(params.base, params.fraction)


@register
class AlibiPositionsBlock(_ScoreLevel):
    type_id = "position.alibi"
    title = "ALiBi"
    description = ("Attention with linear biases: each head subtracts slope × distance from its scores, with "
                   "geometric slopes across heads; nothing to train, and it extrapolates to longer inputs.")
    paper = "Press et al. 2022, Train Short, Test Long"

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"], "positions": score_bias_positions()}

    def build(self, params, inputs, ctx):
        return AlibiPositions()


@register
class NoPositionsBlock(_PositionBlock):
    type_id = "position.none"
    title = "No positions (NoPE)"
    description = ("No position information at all: a causal decoder can still infer order from its mask; "
                   "a bidirectional encoder sees a bag of tokens.")
    paper = "Kazemnejad et al. 2023, The Impact of Positional Encoding on Length Generalization in Transformers"

    def infer(self, params, inputs, ctx):
        return {"out": inputs["x"], "positions": no_positions()}

    def forwarded_outputs(self, params):
        return {"out": "x", "positions": None}

    def build(self, params, inputs, ctx):
        return nn.Identity()


@register
class T5RelativeBiasBlock(_ScoreLevel):
    type_id = "position.t5_bias"
    title = "T5 relative bias"
    description = ("A learned bias per head for each bucket of key - query distance (exact when near, "
                   "logarithmic when far), computed once and shared by every layer it is wired into.")
    paper = "Raffel et al. 2020, Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer"

    @dataclass(frozen=True)
    class Params:
        heads: int = param(4, min=1, max=256, help="Must equal the attention's heads: one bias per head.")
        buckets: int = param(32, min=2, max=1024, help="Distinct distances learned; half exact, half logarithmic.")
        max_distance: int = param(128, min=2, max=131_072, help="Distances beyond this share the last bucket.")
        bidirectional: bool = param(True, help="Tell earlier from later keys (encoders); decoders look back only.")

    def infer(self, params, inputs, ctx):
        buckets = params.buckets // 2 if params.bidirectional else params.buckets
        if buckets < 2 or params.max_distance <= buckets // 2:
            raise ShapeError(f"T5 bias needs max_distance above half the buckets per direction: "
                             f"{params.max_distance} vs {buckets // 2}")
        return {"out": inputs["x"], "positions": score_bias_positions(params.heads)}

    def build(self, params, inputs, ctx):
        return T5RelativeBias(params.heads, params.buckets, params.max_distance, params.bidirectional)
