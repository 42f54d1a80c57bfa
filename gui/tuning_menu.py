"""The Fine-tune menu: whole-graph fine-tuning edits a person reaches for first.

Each action calls a core/tuning.py edit on the open graph, one undo step on its history (so Edit ▸ Undo
takes it back), and a refusal from core is shown in a message box. Per-node settings (freeze one
block, LoRA's rank on one layer) live in the inspector's Fine-tuning section.
"""

from collections.abc import Callable

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLineEdit, QMenu,
                               QMessageBox, QSpinBox, QWidget)

from workbench.core.graph import Graph, GraphError
from workbench.core.tuning import (MAX_PREFIX, MAX_RANK, TuningError, add_lora, add_prompt_tuning, freeze_all_but_head,
                         remove_lora, unfreeze_all)


class TuningMenu(QMenu):
    def __init__(self, parent: QWidget | None, graph_getter: Callable[[], Graph]):
        super().__init__("Fine-&tune", parent)
        self.graph_getter = graph_getter
        self.freeze_action = self.addAction("&Freeze all but the head", lambda: self._edit(freeze_all_but_head))
        self.freeze_action.setToolTip("Freeze every block and group with weights except the heads.")
        self.unfreeze_action = self.addAction("&Unfreeze all", lambda: self._edit(unfreeze_all))
        self.addSeparator()
        self.lora_action = self.addAction("Add &LoRA to attention projections…", self.ask_lora)
        self.remove_lora_action = self.addAction("&Remove LoRA", lambda: self._edit(remove_lora))
        self.addSeparator()
        self.prompt_action = self.addAction("Add &prompt tuning…", self.ask_prompt)
        self.aboutToShow.connect(self.update_actions)

    def update_actions(self) -> None:
        """Enable only what would change something in the graph shown."""
        nodes = [node for _, node in self.graph_getter().walk()]
        self.unfreeze_action.setEnabled(any(node.tuning.frozen for node in nodes))
        self.remove_lora_action.setEnabled(any(node.tuning.has_lora for node in nodes))

    def ask_lora(self) -> None:
        dialog = LoRADialog(self.parentWidget())
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._edit(lambda graph: add_lora(graph, **dialog.settings()))

    def ask_prompt(self) -> None:
        dialog = PromptDialog(self.parentWidget())
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._edit(lambda graph: add_prompt_tuning(graph, **dialog.settings()))

    def _edit(self, edit: Callable[[Graph], object]) -> None:
        try:
            edit(self.graph_getter())
        except (GraphError, TuningError) as exc:
            QMessageBox.warning(self.parentWidget(), "Fine-tuning", str(exc))


class LoRADialog(QDialog):
    """Rank, alpha, dropout and targets for every attention block; whether to freeze the rest."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add LoRA")
        form = QFormLayout(self)
        self.rank = QSpinBox()
        self.rank.setRange(1, MAX_RANK)
        self.rank.setValue(8)
        self.rank.setToolTip("R: the rank of each update B·A. 4–16 is usual (Hu et al. 2021).")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.01, 10_000)
        self.alpha.setValue(16.0)
        self.alpha.setToolTip("The update is scaled by alpha / rank.")
        self.dropout = QDoubleSpinBox()
        self.dropout.setRange(0.0, 0.9)
        self.dropout.setSingleStep(0.05)
        self.dropout.setToolTip("Dropout on the LoRA branch's input while training.")
        self.targets = QLineEdit("q, v")
        self.targets.setToolTip("Projections of each attention block: q, k, v (queries, keys, values) and proj "
                                "(the output). The paper adapts q and v.")
        self.freeze = QCheckBox("Freeze the rest of the model (all but the head)")
        self.freeze.setChecked(True)
        form.addRow("rank", self.rank)
        form.addRow("alpha", self.alpha)
        form.addRow("dropout", self.dropout)
        form.addRow("targets", self.targets)
        form.addRow(self.freeze)
        form.addRow(_buttons(self))

    def settings(self) -> dict:
        targets = tuple(part.strip() for part in self.targets.text().split(",") if part.strip())
        return {"rank": self.rank.value(), "alpha": self.alpha.value(), "dropout": self.dropout.value(),
                "targets": targets, "freeze_base": self.freeze.isChecked()}


class PromptDialog(QDialog):
    """How many soft-prompt vectors; whether to freeze the rest."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add prompt tuning")
        form = QFormLayout(self)
        self.length = QSpinBox()
        self.length.setRange(1, MAX_PREFIX)
        self.length.setValue(20)
        self.length.setToolTip("P: learned vectors placed before the sequence (Lester et al. 2021 use 20–100).")
        self.freeze = QCheckBox("Freeze the rest of the model (all but the head)")
        self.freeze.setChecked(True)
        form.addRow("prompt length", self.length)
        form.addRow(self.freeze)
        form.addRow(_buttons(self))

    def settings(self) -> dict:
        return {"length": self.length.value(), "freeze_base": self.freeze.isChecked()}


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons
