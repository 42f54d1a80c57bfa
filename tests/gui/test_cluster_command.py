"""Copy for a cluster (issue #19): nodes, GPUs per node, rendezvous and run id give the torchrun line
every node runs, live; a mesh that cannot be built says why in one line and nothing is copied."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from workbench.gui.cluster_command import ClusterCommandDialog, ClusterSpec, spec_problem, torchrun_line
from workbench.gui.memory_view import mesh_facts_for
from workbench.gui.training_panel import TrainingPanel


def test_one_node_keeps_the_copy_command_form(tiny_project):
    assert torchrun_line(tiny_project, ClusterSpec(per_node=8)).startswith("torchrun --nproc-per-node 8 main.py train ")
    assert torchrun_line(tiny_project, ClusterSpec()).startswith("python main.py train ")


def test_several_nodes_meet_at_a_rendezvous_with_the_mesh_and_the_edited_settings(tiny_project):
    tiny_project.train = tiny_project.train.replace(learning_rate=0.01)
    spec = ClusterSpec(nodes=2, per_node=4, host="node0", port=29400, run_id="tiny-1", tensor=2, pipeline=2)
    line = torchrun_line(tiny_project, spec)
    assert line.startswith("torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint node0:29400 "
                           f"--rdzv-id tiny-1 main.py train {tiny_project.path} ")
    assert "--set learning_rate=0.01" in line
    assert line.endswith("--set tensor_parallel=2 --set pipeline_parallel=2")
    assert spec_problem(spec, tiny_project, mesh_facts_for(tiny_project.graph)) == ""


def test_bad_fields_say_what_and_how_to_fix_in_one_line(tiny_project):
    facts = mesh_facts_for(tiny_project.graph)  # 2 layers of 2 heads; batch 4
    cases = {
        ClusterSpec(nodes=2, per_node=4): "Rendezvous host is empty: enter the address of the first node, which "
                                          "every node can reach",
        ClusterSpec(nodes=2, per_node=4, host="node 0"): "Rendezvous host 'node 0' is not a host name or address: "
                                                         "use e.g. node0 or 10.0.0.1",
        ClusterSpec(nodes=2, per_node=4, host="node0", run_id="my run"): "Run id 'my run' may hold only letters, "
                                                                          "digits, '-', '_' and '.': use e.g. gpt-small-1",
        ClusterSpec(nodes=2, per_node=3, host="node0", tensor=4): "6 processes (2 node(s) × 3 GPUs) do not divide into "
                                                                  "tensor parallel 4 × pipeline parallel 1; use a "
                                                                  "multiple of 4 processes",
        ClusterSpec(per_node=3): "batch_size 4 does not divide into 3 data-parallel process(es) × 1 micro-batch(es): "
                                 "change batch_size in Settings or the process count",
        ClusterSpec(per_node=4, pipeline=4): "pipeline_parallel 4 is more than the 2 repeated layer(s): each stage "
                                             "needs at least one; use at most 2",
    }
    for spec, message in cases.items():
        assert spec_problem(spec, tiny_project, facts) == message


def test_the_memory_tabs_cluster_button_opens_the_dialog_and_copies(qtbot, tiny_project):
    panel = TrainingPanel(tiny_project)
    qtbot.addWidget(panel)
    panel.processes_box.setValue(4)
    panel.memory_view.tensor_box.setValue(2)
    qtbot.mouseClick(panel.memory_view.cluster_button, Qt.MouseButton.LeftButton)
    dialog = panel.findChild(ClusterCommandDialog)
    assert dialog.isVisible() and dialog.spec().per_node == 4 and dialog.spec().tensor == 2
    dialog.nodes_box.setValue(2)
    assert not dialog.copy_button.isEnabled() and dialog.problem_label.text().startswith("Rendezvous host is empty")
    qtbot.keyClicks(dialog.host_edit, "10.0.0.1")  # typed as a person would; the line follows each key
    assert dialog.copy_button.isEnabled() and not dialog.problem_label.isVisibleTo(dialog)
    assert "--rdzv-endpoint 10.0.0.1:29500" in dialog.command_box.toPlainText()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    command = QApplication.clipboard().text()
    assert command == dialog.command_box.toPlainText() and "--set tensor_parallel=2" in command
    assert panel.status_label.text() == f"Copied: {command}"
    dialog.close()
