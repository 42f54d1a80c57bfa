"""#17: Copy/Paste, Duplicate and inserting a preset group through the editor keep each node's
fine-tuning settings (they once went through a reader that ignored "tuning")."""

import copy

from workbench.core.tuning import Tuning
from workbench.gui.editor.catalog import CatalogEntry, preset_entries

LORA = Tuning(lora_rank=4, lora_targets=("q", "k", "v"))


def tuned_window(window):
    graph = window.project.graph
    graph.nodes["layers"].graph.set_tuning("attn", LORA)
    graph.set_tuning("tok_emb", Tuning(frozen=True))
    window._refresh()
    return graph


def new_ids(graph, before):
    return [node_id for node_id in graph.nodes if node_id not in before]


def test_copy_and_paste_keep_tuning(window, qtbot):
    graph = tuned_window(window)
    window.canvas.select("tok_emb", "layers")
    window.canvas.edit_actions.copy_selection()
    before = set(graph.nodes)
    window.canvas.edit_actions.paste_clipboard()
    pasted = new_ids(graph, before)
    assert len(pasted) == 2
    group = next(graph.nodes[i] for i in pasted if graph.nodes[i].type_id == "group")
    embedding = next(graph.nodes[i] for i in pasted if graph.nodes[i].type_id == "embed.token")
    assert group.graph.nodes["attn"].tuning == LORA and embedding.tuning == Tuning(frozen=True)


def test_duplicate_keeps_tuning(window, qtbot):
    graph = tuned_window(window)
    window.canvas.select("layers")
    before = set(graph.nodes)
    window.canvas.edit_actions.duplicate_selection()
    (copy_id,) = new_ids(graph, before)
    assert graph.nodes[copy_id].graph.nodes["attn"].tuning == LORA


def test_inserting_a_preset_group_keeps_the_tuning_its_file_holds(window, qtbot):
    entry = next(e for e in preset_entries() if e.key == "preset:gpt-tiny/layers")
    group = copy.deepcopy(entry.fragment["groups"][0])
    group["tuning"] = {"frozen": True}
    next(n for n in group["nodes"] if n["id"] == "attn")["tuning"] = LORA.to_dict()
    tuned = CatalogEntry(entry.key, entry.title, entry.category, entry.description,
                         fragment={"nodes": [], "groups": [group], "edges": []})
    graph = window.project.graph
    before = set(graph.nodes)
    window.canvas.edit_actions.insert(tuned, None)
    (inserted,) = new_ids(graph, before)
    assert graph.nodes[inserted].tuning.frozen
    assert graph.nodes[inserted].graph.nodes["attn"].tuning == LORA
