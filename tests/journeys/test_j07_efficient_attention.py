"""Journey 7, efficient attention: open the transformer layer, select its attention, and replace it
with local (sliding-window), block-sparse and Performer attention in turn from "Replace with"; each
shows its complexity and mask image in the inspector, and the FLOPs per token in the status bar change.
(Training with the fused kernel needs a GPU: not part of this CPU journey.)"""

import re

from workbench.gui.attention_pattern import AttentionPatternView
from tests.journeys.conftest import click_card

VARIANTS = {"Local attention": "attention.local", "Block-sparse attention": "attention.block_sparse",
            "Performer attention": "attention.performer"}


def flops_per_token(window) -> float:
    """The status bar's "… MFLOPs/token", in FLOPs."""
    match = re.search(r"([\d.]+) ([KMG]?)FLOPs/token", window.size_label.text())
    assert match, window.size_label.text()
    return float(match[1]) * {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[match[2]]


def test_swap_full_attention_for_efficient_variants(qtbot, open_window, shots):
    window = open_window()
    canvas = window.canvas
    click_card(qtbot, canvas, "layers", double=True)
    assert canvas.breadcrumb.trail()[-1].startswith("Transformer layer")
    click_card(qtbot, canvas, "attn")
    rows = window.inspector.row_texts()
    assert rows["complexity"].startswith("time O(T²·D)")
    assert window.inspector.findChildren(AttentionPatternView)  # the causal triangle
    full = flops_per_token(window)
    shots.save(window, "full attention selected")

    flops = {}
    for title, type_id in VARIANTS.items():
        label = window.size_label.text()
        canvas.select("attn")
        menu = canvas.edit_actions.replace_menu
        menu.aboutToShow.emit()  # the submenu fills itself as it opens
        next(action for action in menu.actions() if action.text() == title).trigger()
        assert window.project.graph.nodes["layers"].graph.nodes["attn"].type_id == type_id
        qtbot.waitUntil(lambda: window.size_label.text() != label, timeout=3000)
        assert window.size_label.property("state") == "", window.size_label.text()  # still a valid model
        qtbot.waitUntil(lambda: window.inspector.row_texts().get("complexity", "").startswith("time O(T·"),
                        timeout=3000)
        assert window.inspector.findChildren(AttentionPatternView) or type_id == "attention.performer", type_id
        flops[type_id] = flops_per_token(window)
        shots.save(window, title)
        window.undo_action.trigger()  # back to full attention before the next variant
        qtbot.waitUntil(lambda: flops_per_token(window) == full, timeout=3000)

    assert flops["attention.local"] < full  # a 32-token window reads a quarter of the 128 keys
    # #23 item 6: each variant's own mixing of positions is counted, so no two cost the same.
    assert len({full, *flops.values()}) == 4, flops
