"""Colours, fonts and the application style: one dark theme shared by every panel.

The palette is set on Fusion as well as in assets/style.qss, because widgets the style sheet does
not mention (scroll bars of plots, message boxes, file dialogs) take their colours from it.
"""

from pathlib import Path

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QWidget

STYLE_SHEET = Path(__file__).resolve().parent.parent / "assets" / "style.qss"

WINDOW = QColor("#202226")
PANEL = QColor("#26292e")
BASE = QColor("#1b1d20")
TEXT = QColor("#d8dade")
MUTED_TEXT = QColor("#8d939c")
ACCENT = QColor("#5b9dff")
ERROR = QColor("#ff6b6b")
PROBLEM_HEADER = QColor("#b5473f")  # a card whose block has a problem

CANVAS = QColor("#25272b")
CANVAS_DOT = QColor("#34373c")
CARD = QColor("#eceae5")
CARD_TEXT = QColor("#2a2c30")
CARD_MUTED = QColor("#6e7178")
EDGE = QColor("#8a9099")
LABEL_BACKGROUND = QColor("#1c1e21")
LABEL_BORDER = QColor("#43474e")
LABEL_TEXT = QColor("#c9cdd3")

# Muted so that a model reads as a whole; hue alone tells the families apart.
CATEGORY_COLOURS = {
    "Input": QColor("#6f8196"),
    "Embedding": QColor("#4f8a7c"),
    "Position": QColor("#7d8a55"),
    "Attention": QColor("#b27a48"),
    "Norm": QColor("#5a7fa8"),
    "Feed-forward": QColor("#7f71aa"),
    "Operation": QColor("#7c7f86"),
    "Head": QColor("#a4657d"),
    "Loss": QColor("#936a5c"),
    "Group": QColor("#4f7f8f"),
}
OTHER_CATEGORY = QColor("#7c7f86")

# What flows on a port, as in core.shapes.KINDS.
KIND_COLOURS = {
    "tokens": QColor("#e0b25c"),
    "segments": QColor("#d9c27a"),
    "mask": QColor("#9aa3ad"),
    "hidden": QColor("#6fa8ff"),
    "positions": QColor("#5fc7b0"),
    "logits": QColor("#c08cff"),
    "class_logits": QColor("#c08cff"),
    "loss": QColor("#ff8a7a"),
}

UI_FONT_FAMILIES = ["Inter", "Segoe UI", "SF Pro Text", "Cantarell", "Noto Sans", "DejaVu Sans"]
MONO_FONT_FAMILIES = ["JetBrains Mono", "Cascadia Mono", "SF Mono", "Menlo", "Consolas", "DejaVu Sans Mono"]


def category_colour(category: str) -> QColor:
    return CATEGORY_COLOURS.get(category, OTHER_CATEGORY)


def ui_font(pixel_size: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(UI_FONT_FAMILIES)
    font.setPixelSize(pixel_size)
    font.setBold(bold)
    return font


def mono_font(pixel_size: int) -> QFont:
    font = QFont()
    font.setFamilies(MONO_FONT_FAMILIES)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(pixel_size)
    return font


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, WINDOW),
        (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Base, BASE),
        (QPalette.ColorRole.AlternateBase, PANEL),
        (QPalette.ColorRole.Text, TEXT),
        (QPalette.ColorRole.Button, PANEL),
        (QPalette.ColorRole.ButtonText, TEXT),
        (QPalette.ColorRole.ToolTipBase, BASE),
        (QPalette.ColorRole.ToolTipText, TEXT),
        (QPalette.ColorRole.PlaceholderText, MUTED_TEXT),
        (QPalette.ColorRole.Highlight, ACCENT),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.Link, ACCENT),
    ):
        palette.setColor(role, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, MUTED_TEXT)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, MUTED_TEXT)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, MUTED_TEXT)
    app.setPalette(palette)
    app.setFont(ui_font(13))
    app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))


def set_style_state(widget: QWidget, property_name: str, value) -> None:
    """Set a property the style sheet selects on (e.g. QLabel[state="failed"]) and restyle the widget:
    Qt reads such selectors only when a widget is polished."""
    widget.setProperty(property_name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def show_status(label, text: str, state: str = "") -> None:
    """A status line: its text (whole in the tooltip, since a long one is clipped) and its state."""
    label.setText(text)
    label.setToolTip(text)
    set_style_state(label, "state", state)
