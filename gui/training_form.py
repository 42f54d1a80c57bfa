"""Training settings as a form generated from their declaration (core.settings): the common ones
first, the chosen objective's own settings right after it, with a preview of the learning rate over
the run, then the settings declared `advanced` under "Advanced".

A setting added to TrainConfig or to an objective's Settings appears here without a change to this
file: its editor follows its kind, choices and range, its tooltip is its help, and it is shown only
while its visible_when holds. Each edit builds a new TrainConfig; one core refuses leaves the
settings as they were and shows core's message under the form.
"""

import json

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QAbstractSpinBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from workbench.core.settings import Setting
from workbench.core.training.config import ConfigError, TrainConfig, shown_settings
from workbench.core.training.runs import runs_folder
from workbench.core.training.schedule import learning_rate
from workbench.gui import theme
from workbench.gui.editor.param_fields import help_text, setting_editor

COMBO_CHARS = 8  # characters a choice box is sized for; longer choices are cut until it is widened
COLUMNS = 2  # fields side by side: the Settings tab shows a dozen at 1440×900 instead of three (issue #23)
SPIN_MIN_WIDTH = 60  # a number box narrower than this cuts its digits
PREVIEW_POINTS = 400  # the schedule is smooth: this many samples draw it exactly at any run length


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
        try:
            config = self.config.edit(name, value)  # the objective's settings come with it (its first task)
        except (ConfigError, TypeError) as exc:
            self._show_error(str(exc), name)
            return False
        if config == self.config:
            self._show_error("")
            return True  # a field left without a change: nothing to tell anyone
        # The objective brings its own settings; a choice can show or hide others (visible_when).
        rebuild = [s.name for s in shown_settings(config)] != [s.name for s in shown_settings(self.config)]
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
        """(Re)create every field from the declaration; which ones depends on the objective."""
        fields = QWidget()
        fields.setObjectName("trainingFormFields")
        layout = QVBoxLayout(fields)
        layout.setContentsMargins(2, 2, 14, 2)
        layout.setSpacing(4)
        self.editors = {}
        shown = shown_settings(self.config)
        layout.addLayout(self._section([s for s in shown if not s.advanced]))
        layout.addWidget(_caption("Advanced", "formSection"))
        layout.addLayout(self._section([s for s in shown if s.advanced]))
        layout.addStretch(1)
        previous = self._scroll.takeWidget()
        if previous is not None:
            previous.deleteLater()
        self._scroll.setWidget(fields)
        self._update_preview()

    def _section(self, settings: list[Setting]) -> QGridLayout:
        """Two fields side by side, each its label over its editor (issue #23: one field beside its label
        per row showed three settings at a time in the 1440×900 dock). Wide editors (paths, JSON, the
        schedule preview) take a whole row."""
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(1)
        for column in range(COLUMNS):
            grid.setColumnStretch(column, 1)
        row = column = 0
        for setting in settings:
            name = setting.name
            editor = self._editor(setting)
            editor.setToolTip(help_text(setting))
            if isinstance(editor, QComboBox):  # its longest choice would otherwise set the form's width
                editor.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                editor.setMinimumContentsLength(COMBO_CHARS)
            if isinstance(editor, QAbstractSpinBox):  # a wide range would otherwise set the column's width
                editor.setMinimumWidth(SPIN_MIN_WIDTH)
                editor.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.editors[name] = editor
            label = ElidedLabel(setting.title())
            label.setToolTip(editor.toolTip())
            wide = isinstance(editor, QLineEdit) and setting.kind in (list, dict) or name.endswith("_from")
            if wide or name == "schedule":
                row, column = (row + 2, 0) if column else (row, 0)
            span = COLUMNS if wide else 1
            grid.addWidget(label, row, column, 1, span)
            grid.addWidget(editor, row + 1, column, 1, span)
            row, column = (row, column + span) if column + span < COLUMNS else (row + 2, 0)
            if name == "schedule":  # right under the schedule, whose shape it shows
                row, column = (row + 2, 0) if column else (row, 0)
                grid.addWidget(self.preview, row, 0, 1, COLUMNS)
                row += 1
        return grid

    def _editor(self, setting: Setting) -> QWidget:
        name = setting.name
        value = getattr(self.config, name)
        if setting.kind in (bool, int, float) or setting.allowed() is not None:
            return setting_editor(setting, value, self.commit)
        if setting.kind is str and name.endswith("_from"):
            return self._path_editor(name, value)
        if setting.kind is str:
            return setting_editor(setting, value, self.commit)
        # Lists and mappings are typed as JSON, the way run.json holds them.
        editor = QLineEdit(json.dumps(value))
        editor.setObjectName(f"param_{name}")
        editor.editingFinished.connect(lambda: self.commit(name, _json_or_text(editor.text())))
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


class ElidedLabel(QLabel):
    """A field's title that never widens its column: cut with … when narrow, whole in its tooltip."""

    def __init__(self, text: str):
        super().__init__(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setObjectName("fieldTitle")

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(self.alignment()), shown)


def _caption(text: str, name: str = "panelCaption") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    return label


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
