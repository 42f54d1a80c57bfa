"""The inspector: what the selected block is and costs, or the whole model when nothing is selected.

Read-only for now; every row's tooltip carries the parameter's help text and allowed range.
"""

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.graph import Group, Node
from core.project import Project
from gui.formatting import format_count, format_value
from gui.model_facts import ModelFacts


class Inspector(QScrollArea):
    def __init__(self):
        super().__init__()
        self.setObjectName("inspector")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._grid: QGridLayout | None = None
        self._next_row = 0

    # ----- the two things it shows -----

    def show_model(self, project: Project, facts: ModelFacts) -> None:
        self._start_page()
        self._heading(project.name, "Model")
        self._paragraph(str(project.path) if project.path else "not saved yet", "muted")
        self._problems(facts.problems)
        if facts.summary is not None:
            summary = facts.summary
            self._section("Size")
            self._rows([
                ("parameters", f"{summary.total_params:,} ({format_count(summary.total_params)})", ""),
                ("FLOPs / token", format_count(summary.flops_per_token), "Forward pass, at full context length."),
                ("training FLOPs / token", format_count(summary.training_flops_per_token),
                 "About 3 × the forward pass: forward, plus backward through activations and weights."),
                ("vocabulary", f"{summary.vocab_size:,}", "Distinct token ids."),
                ("context", f"{summary.context_length:,} tokens", "Longest sequence the model reads."),
            ])
        self._section("Training")
        self._rows([(field.name.replace("_", " "), format_value(getattr(project.train, field.name)), "")
                    for field in dataclasses.fields(project.train)])
        self._section("Data")
        self._rows([
            ("corpus", project.data.corpus.name, str(project.data.corpus)),
            ("validation", f"last {project.data.val_fraction:.0%} of the corpus", ""),
            ("tokenizer", f"{project.tokenizer.kind}, {project.tokenizer.vocab_size} tokens", ""),
        ])

    def show_node(self, path: str, node: Node | Group, facts: ModelFacts) -> None:
        self._start_page()
        if isinstance(node, Group):
            self._show_group(path, node, facts)
        else:
            self._show_block(path, node, facts)

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
            self._rows([(f.name, format_value(node.get_param(f.name)), _help_text(f)) for f in fields])
        row = facts.row(path)
        if row is not None:
            copies = f" over {row.instances} copies" if row.instances > 1 else ""
            self._section("Cost")
            self._rows([
                ("parameters", f"{row.params:,}{copies}", "Trainable; a tied weight counts at its first owner."),
                ("FLOPs / token", f"{format_count(row.flops_per_token)}{copies}", "Forward pass, full context."),
            ])
        self._outputs(path, node, facts)

    def _show_group(self, path: str, group: Group, facts: ModelFacts) -> None:
        self._heading(group.title, "Group")
        self._paragraph(path, "mono")
        self._paragraph(f"A group of blocks that runs {group.repeat} × in sequence, each copy with its own "
                        "weights. Double-click it on the canvas to see inside.")
        self._problems([("", message) for message in facts.problems_inside(path)])
        self._section("Parameters")
        self._rows([("title", group.title, "Name shown on the card."),
                    ("repeat", str(group.repeat), "How many copies run one after another.")])
        rows = facts.rows_inside(path)
        if rows:
            self._section("Cost")
            self._rows([
                ("parameters", f"{sum(r.params for r in rows):,}", "All copies together."),
                ("FLOPs / token", format_count(sum(r.flops_per_token for r in rows)), "All copies together."),
            ])
        self._outputs(path, group, facts)

    def _outputs(self, path: str, node: Node | Group, facts: ModelFacts) -> None:
        shapes = [(port.name, str(facts.report.types[(path, port.name)]), port.kind)
                  for port in node.output_ports() if (path, port.name) in facts.report.types]
        if shapes:
            self._section("Outputs")
            self._rows(shapes)

    def _problems(self, problems: list[tuple[str, str]]) -> None:
        for where, message in problems:
            self._paragraph(f"{where}: {message}" if where else message, "problem")

    # ----- building the page -----
    # One grid for the whole page, so the values of every section line up in one column.

    def _start_page(self) -> None:
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

    def _rows(self, rows: list[tuple[str, str, str]]) -> None:
        for name, value, tooltip in rows:
            name_label = QLabel(name)
            name_label.setObjectName("inspectorName")
            value_label = QLabel(value)
            value_label.setObjectName("inspectorValue")
            value_label.setWordWrap(True)
            value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            for label in (name_label, value_label):
                label.setToolTip(tooltip)
            self._grid.addWidget(name_label, self._next_row, 0, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(value_label, self._next_row, 1, Qt.AlignmentFlag.AlignTop)
            self._next_row += 1

    def row_texts(self) -> dict[str, str]:
        """Every name → value row on the page (what a test or a screen reader would read)."""
        names = self.widget().findChildren(QLabel, "inspectorName")
        values = self.widget().findChildren(QLabel, "inspectorValue")
        return {name.text(): value.text() for name, value in zip(names, values)}


def _help_text(field: dataclasses.Field) -> str:
    meta = field.metadata
    limits = []
    if meta.get("choices"):
        limits.append("one of " + ", ".join(map(str, meta["choices"])))
    if meta.get("min") is not None:
        limits.append(f"at least {format_value(meta['min'])}")
    if meta.get("max") is not None:
        limits.append(f"at most {format_value(meta['max'])}")
    help_text = meta.get("help", "")
    return f"{help_text}\n({'; '.join(limits)})" if limits else help_text
