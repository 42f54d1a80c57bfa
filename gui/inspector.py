"""The inspector: the selected block's parameters to edit and what it costs, or the whole model
when nothing is selected.

Parameter fields are generated from the block's declarations (gui/editor/param_fields.py); a change
goes to core as `graph.set_param`, one undo step, and a value core refuses is explained under the
fields and put back. Costs update live after each edit: parameters, FLOPs per token and memory,
for the block and for the whole model. The Fine-tuning section edits the node's tuning settings
(core/tuning.py: frozen, LoRA, prefix) through `graph.set_tuning`, and trainable counts follow.
"""

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFrame, QGridLayout, QLabel, QLineEdit, QScrollArea, QSpinBox,
                               QVBoxLayout, QWidget)

from workbench.core.graph import GROUP_SETTINGS, Graph, GraphError, Group, Node
from workbench.core.project import Project
from workbench.core.settings import settings_of
from workbench.core.training.config import shown_settings
from workbench.core.tuning import Tuning, TuningError, is_peft_block
from workbench.gui.attention_pattern import SHOWN_LENGTH, AttentionPatternView
from workbench.gui.editor.param_fields import block_field_editor, field_editor, help_text, setting_editor
from workbench.gui.formatting import format_count, format_value
from workbench.gui.memory_view import training_plan
from workbench.gui.model_facts import ModelFacts

WEIGHT_BYTES = 4  # fp32
TRAINING_BYTES = 16  # fp32 weights, gradients and AdamW's two moments, per parameter


class Inspector(QScrollArea):
    def __init__(self):
        super().__init__()
        self.setObjectName("inspector")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._grid: QGridLayout | None = None
        self._next_row = 0
        self._values: list[tuple[QLabel, QWidget]] = []  # (name, value label or field) per row
        self._editors: list[QWidget] = []
        self._refusal: QLabel | None = None
        self._tuning_refusal: QLabel | None = None
        self._path = ""  # of the node shown; '' for the model
        self._graph: Graph | None = None  # the scope holding it, which its edits go through
        self._node: Node | Group | None = None
        self._pending_focus = ""
        self._shown_key = None  # what the page was built from; the same again leaves it as it is (#17)

    # ----- the two things it shows -----

    def show_model(self, project: Project, facts: ModelFacts) -> None:
        key = ("model", id(project), project.name, str(project.path), repr(project.train), repr(project.data),
               project.tokenizer.kind, project.tokenizer.vocab_size, _facts_key(facts, ""))
        if key == self._shown_key:
            return  # nothing on the page changed (an edit elsewhere): keep it, and the field being typed in
        self._start_page("", None, None)
        self._shown_key = key
        self._heading(project.name, "Model")
        self._paragraph(str(project.path) if project.path else "not saved yet", "muted")
        self._problems(facts.problems)
        if facts.summary is not None:
            summary = facts.summary
            self._section("Size")
            self._rows([
                ("parameters", f"{facts.all_params:,}", f"{format_count(facts.all_params)}, frozen ones included."),
                _trainable(facts.trainable_params, facts.all_params),
                ("FLOPs / token", format_count(summary.flops_per_token), "Forward pass, at full context length."),
                ("training FLOPs / token", format_count(summary.training_flops_per_token),
                 "About 3 × the forward pass: forward, plus backward through activations and weights."),
                ("vocabulary", f"{summary.vocab_size:,}", "Distinct token ids."),
                ("context", f"{summary.context_length:,} tokens", "Longest sequence the model reads."),
            ])
            self._memory_rows(facts.all_params, summary.kv_cache_bytes_per_token, facts.trainable_params,
                              training_plan(project))
        self._section("Training")
        self._rows([(setting.name.replace("_", " "), format_value(getattr(project.train, setting.name)), setting.help)
                    for setting in shown_settings(project.train)])  # its objective's own settings included
        self._section("Data")
        self._rows([
            ("corpus", project.data.corpus.name, str(project.data.corpus)),
            ("validation", f"last {project.data.val_fraction:.0%}", "The end of the corpus held out to validate on."),
            ("tokenizer", f"{project.tokenizer.kind}, {project.tokenizer.vocab_size} tokens", ""),
        ])

    def show_node(self, path: str, node: Node | Group, facts: ModelFacts, graph: Graph) -> None:
        looks = (node.title, node.repeat) if isinstance(node, Group) else repr(node.params)
        key = ("node", path, id(node), id(graph), looks, node.tuning, _facts_key(facts, path))
        if key == self._shown_key:
            return
        self._start_page(path, node, graph)
        self._shown_key = key
        if isinstance(node, Group):
            self._show_group(path, node, facts)
        else:
            self._show_block(path, node, facts)
        self._whole_model(facts)

    def _show_block(self, path: str, node: Node, facts: ModelFacts) -> None:
        block = node.block
        self._heading(block.title, block.category)
        self._paragraph(path, "mono")
        self._paragraph(block.description)
        if block.paper:
            self._paragraph(block.paper, "paper")
        self._problems([("", message) for message in facts.problems_at(path)])
        fields = dataclasses.fields(block.Params)
        if fields:
            self._section("Parameters")
            for f in fields:
                self._field_row(f.name, block_field_editor(f, node.get_param(f.name), self._commit))
            self._refusal_row()
        self._fine_tuning(path, node, facts)
        row = facts.row(path)
        if row is not None:
            copies = f" over {row.instances} copies" if row.instances > 1 else ""
            self._section("Cost")
            trainable, total = _with_frozen(row.params, facts.params_of(path))
            self._rows([
                ("parameters", f"{total:,}{copies}", "Frozen ones included; a tied weight counts at its first owner."),
                *self._trainable_row(path, facts),
                ("FLOPs / token", f"{format_count(row.flops_per_token)}{copies}", "Forward pass, full context."),
            ])
            self._memory_rows(total, row.kv_cache_bytes_per_token, trainable)
        self._attention_pattern(node)
        self._outputs(path, node, facts)

    def _attention_pattern(self, node: Node) -> None:
        """Complexity and the sparsity image of an attention block (efficient variants included)."""
        block = node.block
        pattern = None
        try:
            pattern = block.pattern(node.typed_params(), SHOWN_LENGTH)
        except ValueError:
            pass  # parameters the block refuses are already explained under the fields
        if not block.complexity and pattern is None:
            return
        self._section("Attention")
        if block.complexity:
            self._rows([("complexity", block.complexity, "How time and memory grow with the sequence length T.")])
        if pattern is not None:
            self._add_wide(AttentionPatternView(pattern))

    def _show_group(self, path: str, group: Group, facts: ModelFacts) -> None:
        self._heading(group.title, "Group")
        self._paragraph(path, "mono")
        self._paragraph(f"A group of blocks that runs {group.repeat} × in sequence, each copy with its own "
                        "weights. Double-click it on the canvas to see inside.")
        self._problems([("", message) for message in facts.problems_inside(path)])
        self._section("Parameters")
        for setting in GROUP_SETTINGS.values():  # declared in core/graph.py
            self._field_row(setting.name, setting_editor(setting, group.get_param(setting.name), self._commit))
        self._refusal_row()
        self._fine_tuning(path, group, facts)
        rows = facts.rows_inside(path)
        if rows:
            trainable, total = _with_frozen(sum(r.params for r in rows), facts.params_of(path))
            self._section("Cost")
            self._rows([
                ("parameters", f"{total:,}", "All copies together, frozen ones included."),
                *self._trainable_row(path, facts),
                ("FLOPs / token", format_count(sum(r.flops_per_token for r in rows)), "All copies together."),
            ])
            self._memory_rows(total, sum(r.kv_cache_bytes_per_token for r in rows), trainable)
        self._outputs(path, group, facts)

    def _outputs(self, path: str, node: Node | Group, facts: ModelFacts) -> None:
        shapes = [(port.name, str(facts.report.types[(path, port.name)]), port.kind)
                  for port in node.output_ports() if (path, port.name) in facts.report.types]
        if shapes:
            self._section("Outputs")
            self._rows(shapes)

    def _whole_model(self, facts: ModelFacts) -> None:
        if facts.summary is None:
            return
        summary = facts.summary
        self._section("Whole model")
        self._rows([
            ("model parameters", format_count(facts.all_params), "Every parameter, frozen ones included."),
            _trainable(facts.trainable_params, facts.all_params, "model trainable"),
            ("model FLOPs / token", format_count(summary.flops_per_token), "Forward pass, full context."),
            ("training memory", format_count(facts.all_params * WEIGHT_BYTES + facts.trainable_params
                                             * (TRAINING_BYTES - WEIGHT_BYTES), "B"), _TRAINING_HELP),
        ])

    def _trainable_row(self, path: str, facts: ModelFacts) -> list[tuple[str, str, str]]:
        counts = facts.params_of(path)
        return [_trainable(*counts)] if counts and counts[1] else []

    def _fine_tuning(self, path: str, node: Node | Group, facts: ModelFacts) -> None:
        """Frozen, LoRA and prefix settings, each only where it applies to this node."""
        tuning, is_group = node.tuning, isinstance(node, Group)
        counts = facts.params_of(path)
        has_weights = is_group or bool(counts and counts[1])
        targets = facts.lora_targets.get(path, [])
        prefix = not is_group and node.block.has("prefix_tuning")
        if not has_weights and not targets and not prefix:
            return
        self._section("Fine-tuning")
        if is_peft_block(node):
            self._paragraph("A fine-tuning block: it trains even when the blocks around it are frozen.", "muted")
            return
        # Rows generated from Tuning's declaration (core/tuning.py), each only where it applies.
        applies = {"frozen": True, "lora_rank": bool(targets), "lora_alpha": bool(targets) and tuning.has_lora,
                   "lora_dropout": bool(targets) and tuning.has_lora, "lora_targets": bool(targets) and tuning.has_lora,
                   "prefix_length": prefix}
        for setting in settings_of(Tuning):
            if not applies[setting.name]:
                continue
            value = getattr(tuning, setting.name)
            if setting.name == "lora_targets":  # typed as "q, v"
                editor = field_editor(setting.name, str, ", ".join(value), self._commit_tuning)
                editor.setToolTip(f"{help_text(setting)}\nThis block has: {', '.join(targets)}.")
            else:
                editor = setting_editor(setting, value, self._commit_tuning)
            self._field_row(setting.title(), editor)
        self._tuning_refusal = QLabel()
        self._tuning_refusal.setObjectName("inspector_problem")
        self._tuning_refusal.setWordWrap(True)
        self._tuning_refusal.hide()
        self._add_wide(self._tuning_refusal)

    def _memory_rows(self, params: int, kv_bytes_per_token: int, trainable: int | None = None, plan=None) -> None:
        """Frozen weights need no gradient and no optimizer moments: only `trainable` ones do. The whole
        model's figure is the memory planner's (issue #23 item 5), with precision, checkpointing and batch."""
        trainable = params if trainable is None else trainable
        training = params * WEIGHT_BYTES + trainable * (TRAINING_BYTES - WEIGHT_BYTES)
        help_text = _TRAINING_HELP
        if plan is not None:
            training = plan.training
            help_text = ("Per process at these training settings: " + ", ".join(
                f"{name} {format_count(getattr(plan, name), 'B')}" for name in plan.COMPONENTS) + ".")
        rows = [("weights", format_count(params * WEIGHT_BYTES, "B"), "Parameters in fp32 (4 bytes each)."),
                ("training state", format_count(training, "B"), help_text)]
        if kv_bytes_per_token:
            rows.append(("KV cache / token", format_count(kv_bytes_per_token, "B"),
                         "What each generated token adds to the key/value cache."))
        self._rows(rows)

    def _problems(self, problems: list[tuple[str, str]]) -> None:
        for where, message in problems:
            self._paragraph(f"{where}: {message}" if where else message, "problem")

    # ----- editing -----

    def _commit(self, name: str, value) -> None:
        node, graph = self._node, self._graph
        if node is None or graph is None or node.id not in graph.nodes or value == node.get_param(name):
            return
        try:
            graph.set_param(node.id, name, value)
        except GraphError as exc:
            self._refusal.setText(str(exc))
            self._refusal.show()
            editor = self.widget().findChild(QWidget, f"param_{name}")
            if isinstance(editor, QLineEdit):
                editor.setText(format_value(node.get_param(name)))

    def _commit_tuning(self, name: str, value) -> None:
        node, graph = self._node, self._graph
        if node is None or graph is None or node.id not in graph.nodes:
            return
        if name == "lora_targets":
            value = tuple(part.strip() for part in str(value).split(",") if part.strip())
        if value == getattr(node.tuning, name):
            return
        try:
            graph.set_tuning(node.id, dataclasses.replace(node.tuning, **{name: value}))
        except (GraphError, TuningError) as exc:
            self._tuning_refusal.setText(str(exc))
            self._tuning_refusal.show()
            editor = self.field(name)
            if isinstance(editor, QLineEdit):
                shown = getattr(node.tuning, name)
                editor.setText(", ".join(shown) if name == "lora_targets" else format_value(shown))

    def _focused_field(self) -> str:
        focused = self.focusWidget()
        while focused is not None and not focused.objectName().startswith("param_"):
            focused = focused.parentWidget()
        return focused.objectName() if focused is not None and self.isAncestorOf(focused) else ""

    # ----- building the page -----
    # One grid for the whole page, so the values of every section line up in one column.

    def _start_page(self, path: str, node: Node | Group | None, graph: Graph | None) -> None:
        refocus = self._focused_field() if path and path == self._path else ""
        self._shown_key = None
        for editor in self._editors:  # the page is deleted now: no late "editing finished" from it
            editor.blockSignals(True)
        self._path, self._node, self._graph = path, node, graph
        self._values, self._editors, self._refusal, self._tuning_refusal = [], [], None, None
        page = QWidget()
        page.setObjectName("inspectorPage")
        outer = QVBoxLayout(page)
        outer.setContentsMargins(16, 14, 16, 16)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(14)
        self._grid.setVerticalSpacing(5)
        self._grid.setColumnStretch(1, 1)
        self._next_row = 0
        outer.addLayout(self._grid)
        outer.addStretch(1)
        self.setWidget(page)  # the previous page is deleted with it
        self._pending_focus = refocus  # the field being edited keeps the keyboard after a refresh

    def _add_wide(self, widget: QWidget) -> None:
        self._grid.addWidget(widget, self._next_row, 0, 1, 2)
        self._next_row += 1

    def _heading(self, title: str, category: str) -> None:
        kicker = QLabel(category.upper())
        kicker.setObjectName("inspectorKicker")
        heading = QLabel(title)
        heading.setObjectName("inspectorTitle")
        heading.setWordWrap(True)
        self._add_wide(kicker)
        self._add_wide(heading)

    def _paragraph(self, text: str, role: str = "") -> None:
        label = QLabel(text)
        label.setObjectName(f"inspector_{role}" if role else "inspectorText")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._add_wide(label)

    def _section(self, title: str) -> None:
        label = QLabel(title.upper())
        label.setObjectName("inspectorSection")
        label.setIndent(0)  # its border would otherwise indent the text past the rows below it
        self._add_wide(label)

    def _name_label(self, name: str, tooltip: str) -> QLabel:
        label = QLabel(name)
        label.setObjectName("inspectorName")
        label.setToolTip(tooltip)
        self._grid.addWidget(label, self._next_row, 0, Qt.AlignmentFlag.AlignVCenter)
        return label

    def _rows(self, rows: list[tuple[str, str, str]]) -> None:
        for name, value, tooltip in rows:
            name_label = self._name_label(name, tooltip)
            value_label = QLabel(value)
            value_label.setObjectName("inspectorValue")
            value_label.setWordWrap(True)
            value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value_label.setToolTip(tooltip)
            self._grid.addWidget(value_label, self._next_row, 1, Qt.AlignmentFlag.AlignTop)
            self._values.append((name_label, value_label))
            self._next_row += 1

    def _field_row(self, name: str, editor: QWidget) -> None:
        name_label = self._name_label(name, editor.toolTip())
        self._grid.addWidget(editor, self._next_row, 1)
        self._values.append((name_label, editor))
        self._editors.append(editor)
        self._next_row += 1
        if editor.objectName() == self._pending_focus:
            editor.setFocus()

    def _refusal_row(self) -> None:
        self._refusal = QLabel()
        self._refusal.setObjectName("inspector_problem")
        self._refusal.setWordWrap(True)
        self._refusal.hide()
        self._add_wide(self._refusal)

    def row_texts(self) -> dict[str, str]:
        """Every name → value row on the page, fields included (what a test or a screen reader reads)."""
        return {name.text(): _shown_value(value) for name, value in self._values}

    def field(self, name: str) -> QWidget | None:
        """The editor of parameter `name` on the page shown."""
        return self.widget().findChild(QWidget, f"param_{name}")


_TRAINABLE_HELP = "Weights the optimizer updates; frozen ones keep their values (Fine-tune menu, or Frozen here)."


def _facts_key(facts: ModelFacts, path: str) -> tuple:
    """Everything of `facts` a page shows: the model's totals and problems, and the node's (or the
    group's insides') costs, weights, LoRA targets and output shapes."""
    summary = facts.summary
    totals = (facts.all_params, facts.trainable_params, tuple(facts.problems)) + (
        (summary.flops_per_token, summary.kv_cache_bytes_per_token, summary.vocab_size, summary.context_length)
        if summary is not None else ())
    if not path:
        return totals
    rows = [facts.row(path)] + facts.rows_inside(path)
    shapes = tuple((port, str(t)) for (where, port), t in facts.report.types.items() if where == path)
    return totals + (tuple(vars(r) for r in rows if r is not None).__repr__(), facts.params_of(path),
                     tuple(facts.lora_targets.get(path, ())), shapes)


def _with_frozen(trainable: int, counts: tuple[int, int] | None) -> tuple[int, int]:
    """A summary row's trainable count, and with the node's frozen weights added, its total."""
    return (trainable, trainable + counts[1] - counts[0]) if counts else (trainable, trainable)


def _trainable(trainable: int, total: int, name: str = "trainable") -> tuple[str, str, str]:
    """The trainable row, short enough for the inspector's narrow value column: 'all', 'none' or
    '24.7 K (3.0%)' (the total is the parameters row above it); the exact counts are in the tooltip."""
    if trainable == 0:
        shown = "none"
    elif trainable == total:
        shown = "all"
    else:
        shown = f"{format_count(trainable)} ({trainable / total:.1%})"
    return name, shown, f"{trainable:,} of {total:,} parameters. {_TRAINABLE_HELP}"


_TRAINING_HELP = ("Training with AdamW in fp32 keeps weights, gradients and two moments: 16 bytes per "
                  "trainable parameter and 4 per frozen one, before activations.")


def _shown_value(widget: QWidget) -> str:
    if isinstance(widget, QSpinBox):
        return str(widget.value())
    if isinstance(widget, QCheckBox):
        return format_value(widget.isChecked())
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QLineEdit):
        return widget.text()
    return widget.text()
