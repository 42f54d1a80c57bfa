"""Figures for papers and reports: any plot or heatmap of the window saved as PNG, SVG or PDF at a chosen
size, on white with print colours, and the data behind it as CSV (issue #22: tensorboard#32, wandb#1831,
bertviz#13 ask for exactly this).

A view offers a `Figure`: a title, a function that paints the figure into a rectangle of a QPainter and
the rows it was drawn from. The same paint function serves every format, so the PNG, the SVG and the PDF
show the same picture; it takes its colours from the print palette, never from the dark theme, so a
figure looks the same whatever the window looks like. Sizes are in pixels at 96 dpi (what Qt's fonts are
laid out in); PNG is written at twice that for print, PDF in points (72 per inch).

    install_figure_menu(widget, lambda: my_figure(widget))   # right-click -> "Save figure…"
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (QAbstractScrollArea, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton, QSpinBox, QWidget)

FORMATS = ("png", "svg", "pdf")
PNG_SCALE = 2  # pixels per layout pixel in a PNG: 192 dpi, sharp in print and on high-density screens
PDF_RESOLUTION = 300  # dots per inch QPdfWriter lays the page out in (text and lines stay vectors)
LAYOUT_DPI = 96  # what figure sizes are given in
SMALLEST, LARGEST = 200, 6000  # figure sides a person may choose, in pixels
PAPER = QColor("#ffffff")


@dataclass(frozen=True)
class Figure:
    title: str  # names the file by default, and heads the CSV's first comment line
    paint: Callable[[QPainter, QRectF], None]  # draws the whole figure inside the rectangle, on white
    columns: tuple[str, ...]  # the CSV header: what each value in `rows` is
    rows: list[tuple] = field(default_factory=list)  # the data the figure was drawn from, one CSV row each
    size: QSize = field(default_factory=lambda: QSize(800, 500))  # the size the dialog offers first


def default_name(figure: Figure) -> str:
    """A file name from the title: letters, digits and dashes only, so every file system takes it."""
    cleaned = "".join(c if c.isalnum() else "-" for c in figure.title.lower())
    return "-".join(part for part in cleaned.split("-") if part) or "figure"


def save_figure(figure: Figure, path: Path, size: QSize | None = None) -> Path:
    """Write `figure` to `path` in the format its suffix names (.png, .svg or .pdf); returns the path."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"{path.name}: a figure is saved as {', '.join('.' + f for f in FORMATS)}; "
                         f"change the file's ending")
    size = size or figure.size
    if not (SMALLEST <= size.width() <= LARGEST and SMALLEST <= size.height() <= LARGEST):
        raise ValueError(f"figure size {size.width()}×{size.height()} is outside {SMALLEST}…{LARGEST} pixels a side")
    path.parent.mkdir(parents=True, exist_ok=True)
    {"png": _write_png, "svg": _write_svg, "pdf": _write_pdf}[kind](figure, path, size)
    return path


def save_figure_data(figure: Figure, path: Path) -> Path:
    """The rows behind the figure as CSV, headed by its columns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(figure.columns)
        writer.writerows(figure.rows)
    return path


def _paint_on_white(figure: Figure, painter: QPainter, size: QSize) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    rect = QRectF(0, 0, size.width(), size.height())
    painter.fillRect(rect, PAPER)
    figure.paint(painter, rect)


def _write_png(figure: Figure, path: Path, size: QSize) -> None:
    image = QImage(size * PNG_SCALE, QImage.Format.Format_ARGB32)
    image.setDotsPerMeterX(round(LAYOUT_DPI * PNG_SCALE / 0.0254))
    image.setDotsPerMeterY(round(LAYOUT_DPI * PNG_SCALE / 0.0254))
    image.fill(PAPER)
    painter = QPainter(image)
    painter.scale(PNG_SCALE, PNG_SCALE)
    _paint_on_white(figure, painter, size)
    painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"{path}: the PNG could not be written (is the folder writable?)")


def _write_svg(figure: Figure, path: Path, size: QSize) -> None:
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setResolution(LAYOUT_DPI)
    generator.setTitle(figure.title)
    generator.setDescription("Transformer Workbench figure")
    painter = QPainter(generator)
    _paint_on_white(figure, painter, size)
    painter.end()


def _write_pdf(figure: Figure, path: Path, size: QSize) -> None:
    writer = QPdfWriter(str(path))
    writer.setTitle(figure.title)
    writer.setCreator("Transformer Workbench")
    writer.setResolution(PDF_RESOLUTION)
    points = QSizeF(size.width() * 72 / LAYOUT_DPI, size.height() * 72 / LAYOUT_DPI)
    writer.setPageLayout(QPageLayout(QPageSize(points, QPageSize.Unit.Point, figure.title),
                                     QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    painter = QPainter(writer)
    painter.scale(PDF_RESOLUTION / LAYOUT_DPI, PDF_RESOLUTION / LAYOUT_DPI)
    _paint_on_white(figure, painter, size)
    painter.end()


class FigureDialog(QDialog):
    """Where to save, in which format, at which size, and whether to save the data beside it."""

    def __init__(self, figure: Figure, folder: Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Save figure: {figure.title}")
        self.figure = figure
        self.format_box = QComboBox()
        for kind, text in (("svg", "SVG (vector, for LaTeX and the web)"), ("pdf", "PDF (vector, for LaTeX)"),
                           ("png", "PNG (image, 192 dpi)")):
            self.format_box.addItem(text, kind)
        self.width_box, self.height_box = (_side(value) for value in (figure.size.width(), figure.size.height()))
        self.csv_box = QCheckBox("Also save the data behind it as CSV")
        self.csv_box.setChecked(True)
        self.path_edit = QLineEdit(str((folder or Path.home()) / f"{default_name(figure)}.svg"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.message = QLabel()
        self.message.setObjectName("panelMessage")
        self.message.setWordWrap(True)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        where = QHBoxLayout()
        where.addWidget(self.path_edit, 1)
        where.addWidget(browse)
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        size.addWidget(QLabel("pixels at 96 dpi"))
        size.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format_box)
        form.addRow("Size", size)
        form.addRow("File", where)
        form.addRow("", self.csv_box)
        form.addRow(self.message)
        form.addRow(buttons)
        self.written: list[Path] = []  # the files the last save wrote

    def path(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def _format_changed(self) -> None:
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix("." + self.format_box.currentData())))

    def _browse(self) -> None:
        kind = self.format_box.currentData()
        chosen, _ = QFileDialog.getSaveFileName(self, "Save figure", str(self.path()), f"{kind.upper()} (*.{kind})")
        if chosen:
            self.path_edit.setText(str(Path(chosen).with_suffix("." + kind)))

    def save(self) -> None:
        path = self.path().with_suffix("." + self.format_box.currentData())
        try:
            self.written = [save_figure(self.figure, path, QSize(self.width_box.value(), self.height_box.value()))]
            if self.csv_box.isChecked():
                self.written.append(save_figure_data(self.figure, path.with_suffix(".csv")))
        except (OSError, ValueError) as error:
            self.message.setText(str(error))
            return
        self.accept()


def _side(value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(SMALLEST, LARGEST)
    box.setValue(min(max(value, SMALLEST), LARGEST))
    box.setSingleStep(50)
    return box


def ask_to_save(figure: Figure | None, parent: QWidget) -> None:
    """The dialog for a figure, or nothing while the view has nothing to draw."""
    if figure is not None:
        FigureDialog(figure, parent=parent).exec()


def install_figure_menu(widget: QWidget, make_figure: Callable[[], Figure | None]) -> None:
    """Right-click on `widget` (or a child that does not take the click) offers "Save figure…"; the
    figure is made when chosen, from what the view shows then. make_figure returns None when empty."""
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    # A scroll area (the beam tree) reports the click in its viewport's coordinates.
    origin = widget.viewport() if isinstance(widget, QAbstractScrollArea) else widget

    def show_menu(at) -> None:
        menu = QMenu(widget)
        action = menu.addAction("Save figure…")
        action.setEnabled(make_figure() is not None)
        action.triggered.connect(lambda: ask_to_save(make_figure(), widget))
        widget.figure_menu = menu  # the open menu, for tests that pick its entry as a person would
        menu.popup(origin.mapToGlobal(at))

    widget.customContextMenuRequested.connect(show_menu)
