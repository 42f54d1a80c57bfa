"""The inspector states an attention block's complexity and draws its sparsity pattern."""

import torch

from workbench.core.blocks import get_block
from workbench.gui.attention_pattern import AttentionPatternView
from tests.gui.test_main_window import click_card


def test_swapped_in_block_shows_its_complexity_and_pattern(window, qtbot):
    inner = window.project.graph.nodes["layers"].graph
    inner.replace_node("attn", "attention.dilated")
    click_card(qtbot, window.canvas, "layers", double=True)
    click_card(qtbot, window.canvas, "attn")
    rows = window.inspector.row_texts()
    assert rows["complexity"] == get_block("attention.dilated").complexity
    view = window.inspector.findChild(AttentionPatternView)
    block = get_block("attention.dilated")
    assert torch.equal(view.pattern, block.pattern(block.parse_params({}), 64))
    assert "of query-key pairs are computed" in view.toolTip()


def test_full_self_attention_draws_its_causal_triangle(window, qtbot):
    click_card(qtbot, window.canvas, "layers", double=True)
    click_card(qtbot, window.canvas, "attn")
    view = window.inspector.findChild(AttentionPatternView)
    assert torch.equal(view.pattern, torch.ones(64, 64, dtype=torch.bool).tril())
