"""The mixture-of-experts feed-forward block: a router sends each token to its top k of E SwiGLU
experts (Mixtral). Its second output is the load-balancing loss, already weighted: the compiler adds
every `aux_loss` output in the graph to the training objective, so no wiring is needed for it."""

from dataclasses import dataclass

from workbench.core.blocks.base import Block, Port, param, register
from workbench.core.blocks.feedforward import gated_hidden_width
from workbench.core.nn.moe import MixtureOfExperts
from workbench.core.shapes import ShapeError, aux_loss


@register
class MixtureOfExpertsBlock(Block):
    type_id = "ffn.moe"
    category = "Feed-forward"
    title = "Mixture of experts"
    description = ("A router picks the top k of E SwiGLU experts for every token and mixes their outputs by its "
                   "weights: E experts' parameters for k experts' FLOPs (Mixtral). Adds a load-balancing loss "
                   "to the objective so the router uses every expert.")
    paper = ("Shazeer et al. 2017, Outrageously Large Neural Networks; Fedus et al. 2021, Switch Transformers; "
             "Jiang et al. 2024, Mixtral of Experts")
    inputs = (Port("x", "hidden"),)
    outputs = (Port("out", "hidden"),
               Port("aux_loss", "aux_loss", "weighted load-balancing loss; the compiler adds it to the objective"))

    @dataclass(frozen=True)
    class Params:
        experts: int = param(4, min=2, max=1024, help="E: number of expert MLPs.")
        top_k: int = param(2, min=1, max=64, help="k: experts each token runs; the FLOPs of k experts.")
        hidden_width: int = param(0, min=0, max=1_048_576, help="F: each expert's hidden width; 0 means 8/3 × D "
                                                               "rounded up to 8.")
        aux_weight: float = param(0.01, min=0.0, max=10.0, help="Weight of the load-balancing loss in the "
                                                               "objective (Switch uses 0.01, Mixtral 0.02).")
        dropout: float = param(0.0, min=0.0, max=0.9, help="Dropout on the output.")

    def infer(self, params, inputs, ctx):
        if params.top_k > params.experts:
            raise ShapeError(f"mixture of experts: top_k {params.top_k} is more than the {params.experts} experts")
        return {"out": inputs["x"], "aux_loss": aux_loss()}

    def build(self, params, inputs, ctx):
        width = inputs["x"].width()
        return MixtureOfExperts(width, params.hidden_width or gated_hidden_width(width), experts=params.experts,
                                top_k=params.top_k, aux_weight=params.aux_weight, dropout=params.dropout)
