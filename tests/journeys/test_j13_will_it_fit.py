"""Journey 13, will it fit: the default GPT scaled to about a billion parameters (width 2048, 24
layers, typed into the inspector's fields as a person would), a 24 GiB GPU, bf16 and activation
checkpointing: the Training panel's Memory tab shows the stacked breakdown and the largest batch that
fits; FSDP over 8 processes with tensor parallel 2 shrinks the memory per process, and the mesh picture
shows which rank holds which heads; the command for the cluster is copied, for one machine of 8 GPUs
and for two of 4. Nothing is allocated: the planner works on fake tensors (core/training/memory_plan.py).
The copied command trains as planned: FSDP2 over dp composed with tensor parallel (core/training/mesh.py;
tests/core/test_mesh_training.py runs dp 2 × tp 2 and holds each rank's bytes to this plan)."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.gui.cluster_command import ClusterCommandDialog
from tests.journeys.conftest import set_training


def test_a_billion_parameter_gpt_on_24_gib_then_fsdp_and_tensor_parallel(qtbot, open_window, shots):
    window = open_window()
    graph = window.project.graph
    embedding = next(n for n in graph.nodes.values() if n.type_id == "embed.token")
    layers = next(n for n in graph.nodes.values() if getattr(n, "repeat", 0))
    graph.set_param(embedding.id, "width", 2048)  # what the inspector's width field does on Enter
    graph.set_param(layers.id, "repeat", 24)
    qtbot.waitUntil(lambda: window.facts.summary is not None and window.facts.summary.total_params > 1e9,
                    timeout=20_000)
    set_training(qtbot, window, precision="bf16", activation_checkpointing=True, batch_size=8)

    training = window.training
    training.tabs.setCurrentIndex(training.tabs.indexOf(training.memory_view))
    view = training.memory_view
    view.device_box.setValue(24)
    qtbot.waitUntil(lambda: view.plan is not None and "GiB" in view.fits_label.text(), timeout=60_000)
    single = view.plan
    assert [name for name, _ in view.bar.parts][:4] == ["weights", "gradients", "optimizer", "activations"]
    assert single.weights > 4e9  # a billion fp32 weights (bf16 autocast keeps fp32 masters)
    assert "batch up to" in view.fits_label.text() or "not even one" in view.fits_label.text()
    shots.save(window, "a billion parameters on 24 GiB")

    set_training(qtbot, window, distributed="fsdp")
    training.tabs.setCurrentIndex(training.tabs.indexOf(view))
    training.processes_box.setValue(8)
    view.tensor_box.setValue(2)
    qtbot.waitUntil(lambda: view.plan is not single and view.plan is not None and view.plan.layout.tensor == 2,
                    timeout=60_000)
    sharded = view.plan
    assert (sharded.layout.data, sharded.layout.tensor, sharded.layout.zero_stage) == (4, 2, 3)
    assert sharded.weights < single.weights / 4 and sharded.training < single.training
    assert "dp 4 × tp 2 × pp 1, ZeRO 3" in view.title.text()
    picture = view.mesh_view  # who holds what, under the bar: each rank's heads and bytes
    assert view.mesh.layout == sharded.layout and picture.boxes and "dp 4 × tp 2 × pp 1" in picture.caption
    assert picture.box_lines(picture.boxes[0])[2] == "heads 0–1 · F 0–4095"  # width 2048 → 8192 hidden units
    shots.save(window, "fsdp over 8 with tensor parallel 2")

    qtbot.mouseClick(training.copy_button, Qt.MouseButton.LeftButton)
    command = QApplication.clipboard().text()
    assert command.startswith("torchrun --nproc-per-node 8 main.py train ") and "distributed=fsdp" in command

    qtbot.mouseClick(view.cluster_button, Qt.MouseButton.LeftButton)  # the same run on two machines of 4 GPUs
    dialog = training.findChild(ClusterCommandDialog)
    dialog.nodes_box.setValue(2)
    dialog.per_node_box.setValue(4)
    qtbot.keyClicks(dialog.host_edit, "node0")
    shots.save(dialog, "copy for a cluster")
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    command = QApplication.clipboard().text()
    assert command.startswith("torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint node0:29500 ")
    assert "distributed=fsdp" in command and command.endswith("--set tensor_parallel=2")
    dialog.close()
