"""Training settings as a form: the common ones first, with a preview of the learning rate over the
run, then every other TrainConfig field under "Advanced".

The Advanced fields are generated from the dataclass, so a setting added to core/training/config.py
appears here without a change to this file; its tooltip is the comment beside it in that file. Each
edit builds a new TrainConfig; one core refuses leaves the settings as they were and shows core's
message under the form.
"""

import dataclasses
import inspect
import json
import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QScrollArea, QToolButton, QVBoxLayout, QWidget)

from workbench.core.data.tasks import CLASSIFICATION_TASKS, SEQ2SEQ_TASKS
from workbench.core.training import config as config_module
from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.training.distributed import STRATEGIES
from workbench.core.training.objectives import OBJECTIVES
from workbench.core.training.optim import OPTIMIZERS
from workbench.core.training.runs import runs_folder
from workbench.core.training.schedule import SCHEDULES, learning_rate
from workbench.gui import theme
from workbench.gui.editor.param_fields import field_editor

CHOICES = {
    "objective": OBJECTIVES,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "precision": ("fp32", "bf16", "fp16"),
    "distributed": STRATEGIES,
    "on_nonfinite": ("stop", "skip"),
    "device": ("auto", "cpu", "cuda"),
}
TASKS = {"seq2seq": SEQ2SEQ_TASKS, "classification": CLASSIFICATION_TASKS}
BASIC = ("objective", "task", "optimizer", "schedule", "batch_size", "steps", "learning_rate", "min_learning_rate",
         "warmup_steps", "precision", "activation_checkpointing", "grad_accumulation", "device")
COMBO_CHARS = 8  # characters a choice box is sized for; longer choices are cut until it is widened
PREVIEW_POINTS = 400  # the schedule is smooth: this many samples draw it exactly at any run length


def field_comments() -> dict[str, str]:
    """Each TrainConfig field's comment in config.py, the settings' only documentation."""
    source = inspect.getsource(config_module.TrainConfig)
    return dict(re.findall(r"^\s+(\w+): [^=\n]+=[^#\n]*#\s*(.+)$", source, re.MULTILINE))


def schedule_curve(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(steps, learning rates) over the whole run, sampled at most PREVIEW_POINTS times."""
    steps = np.unique(np.linspace(0, config.steps - 1, min(config.steps, PREVIEW_POINTS)).round().astype(int))
    rates = [learning_rate(int(step), schedule=config.schedule, peak=config.learning_rate,
                           floor=config.min_learning_rate, warmup=config.warmup_steps, total=config.steps,
                           decay_fraction=config.decay_fraction) for step in steps]
    return steps, np.array(rates)


class TrainingForm(QWidget):
    config_changed = Signal(object)  # the new TrainConfig, after core accepted it

    def __init__(self, config: TrainConfig | None = None):
        super().__init__()
        self.setObjectName("trainingForm")
        self.config = config or TrainConfig()
        self.editors: dict[str, QWidget] = {}
        self._comments = field_comments()
        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.preview = pg.PlotWidget(background=theme.BASE)
        self.preview.setObjectName("schedulePreview")
        self.preview.setFixedHeight(96)
        self.preview.setMouseEnabled(False, False)
        self.preview.hideButtons()
        plot = self.preview.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.12)
        for axis in ("bottom", "left"):
            plot.getAxis(axis).setTextPen(theme.MUTED_TEXT)
            plot.getAxis(axis).setPen(theme.LABEL_BORDER)
        plot.getAxis("left").setWidth(44)
        self.lr_curve = plot.plot(pen=pg.mkPen(theme.KIND_COLOURS["positions"], width=2))

        self._scroll = QScrollArea()
        self._scroll.setObjectName("trainingFormScroll")
        self._scroll.setWidgetResizable(True)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.error_label)
        layout.addWidget(self._scroll, 1)
        self.set_config(self.config)

    # ----- public -----

    def set_config(self, config: TrainConfig) -> None:
        """Show `config` (a project was opened); does not emit config_changed."""
        self.config = config
        self._show_error("")
        self._build()

    def commit(self, name: str, value) -> bool:
        """Set one field as if typed; False (and the message shown) when core refuses it."""
        changes = {name: value}
        if name == "objective" and value != self.config.objective:
            # The task list belongs to the objective: move to its first task (or none) with it.
            changes["task"] = TASKS.get(value, ("",))[0]
        try:
            config = TrainConfig.from_dict({**self.config.to_dict(), **changes})
        except (ConfigError, TypeError) as exc:
            self._show_error(str(exc), name)
            return False
        if config == self.config:
            self._show_error("")
            return True  # a field left without a change: nothing to tell anyone
        rebuild = name == "objective"
        self.config = config
        self._show_error("")
        if rebuild:
            self._build()
        else:
            self._update_preview()
        self.config_changed.emit(config)
        return True

    # ----- building the fields -----

    def _build(self) -> None:
        """(Re)create every field from the dataclass; the task list depends on the objective."""
        fields = QWidget()
        fields.setObjectName("trainingFormFields")
        layout = QVBoxLayout(fields)
        layout.setContentsMargins(2, 2, 14, 2)
        layout.setSpacing(6)
        self.editors = {}
        names = [f.name for f in dataclasses.fields(TrainConfig)]
        layout.addLayout(self._section([n for n in BASIC if n in names]))
        layout.addWidget(_caption("Advanced", "formSection"))
        layout.addLayout(self._section([n for n in names if n not in BASIC]))
        layout.addStretch(1)
        previous = self._scroll.takeWidget()
        if previous is not None:
            previous.deleteLater()
        self._scroll.setWidget(fields)
        self._update_preview()

    def _section(self, names: list[str]) -> QFormLayout:
        form = QFormLayout()
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(5)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # a narrow column puts the label above
        for name in names:
            editor = self._editor(name)
            editor.setToolTip(self._comments.get(name, ""))
            if isinstance(editor, QComboBox):  # its longest choice would otherwise set the form's width
                editor.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                editor.setMinimumContentsLength(COMBO_CHARS)
            self.editors[name] = editor
            label = QLabel(name.replace("_", " ").capitalize())
            label.setToolTip(editor.toolTip())
            form.addRow(label, editor)
            if name == "schedule":
                form.addRow(self.preview)  # right under the schedule, whose shape it shows
        return form

    def _editor(self, name: str) -> QWidget:
        value = getattr(self.config, name)
        kind = type(value)
        if name == "task":
            return self._task_editor()
        if kind in (bool, int, float) or (kind is str and name in CHOICES):
            return field_editor(name, kind, value, self.commit, choices=CHOICES.get(name))
        if kind is str and name.endswith("_from"):
            return self._path_editor(name, value)
        if kind is str:
            return field_editor(name, kind, value, self.commit)
        # Lists and mappings (a task mixture, say) are typed as JSON, the way run.json holds them.
        editor = QLineEdit(json.dumps(value))
        editor.setObjectName(f"param_{name}")
        editor.editingFinished.connect(lambda: self.commit(name, _json_or_text(editor.text())))
        return editor

    def _task_editor(self) -> QComboBox:
        editor = QComboBox()
        editor.setObjectName("param_task")
        tasks = TASKS.get(self.config.objective)
        if tasks is None:
            editor.addItem("none for this objective", "")
            editor.setEnabled(False)
            return editor
        for task in tasks:
            editor.addItem(task, task)
        editor.setCurrentIndex(max(0, editor.findData(self.config.task)))
        editor.activated.connect(lambda index: self.commit("task", editor.itemData(index)))
        return editor

    def _path_editor(self, name: str, value: str) -> QWidget:
        """A path typed or browsed for: settings named *_from start from a run or weights folder."""
        box = QWidget()
        box.setObjectName(f"param_{name}")
        line = QLineEdit(value)
        line.setObjectName(f"param_{name}_text")
        line.setPlaceholderText("none")
        line.editingFinished.connect(lambda: self.commit(name, line.text().strip()))
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a folder")

        def choose() -> None:
            chosen = QFileDialog.getExistingDirectory(self, f"Choose {name.replace('_', ' ')}",
                                                      line.text() or str(runs_folder()))
            if chosen:
                line.setText(chosen)
                self.commit(name, chosen)

        browse.clicked.connect(choose)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(line, 1)
        row.addWidget(browse)
        return box

    # ----- state shown -----

    def _update_preview(self) -> None:
        steps, rates = schedule_curve(self.config)
        self.lr_curve.setData(steps, rates)

    def _show_error(self, message: str, name: str = "") -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        for field, editor in self.editors.items():
            theme.set_style_state(editor, "invalid", field == name and bool(message))


def _caption(text: str, name: str = "panelCaption") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    return label


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
