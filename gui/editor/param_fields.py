"""Inspector fields generated from a block's parameter declarations (core.blocks.param).

A whole number gets a spin box within its min and max, a flag a check box, a parameter with
choices a drop-down, a number or a name a text field; the tooltip carries the help text and the
allowed range. A field reports a new value once (Enter, leaving the field, a click), never per
keystroke, so one change is one undo step; core validates it.
"""

import dataclasses
from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from workbench.gui.formatting import format_value

INT_LIMIT = 2**31 - 1  # QSpinBox's range


def help_text(field: dataclasses.Field) -> str:
    meta = field.metadata
    limits = []
    if meta.get("choices"):
        limits.append("one of " + ", ".join(map(str, meta["choices"])))
    if meta.get("min") is not None:
        limits.append(f"at least {format_value(meta['min'])}")
    if meta.get("max") is not None:
        limits.append(f"at most {format_value(meta['max'])}")
    text = meta.get("help", "")
    return f"{text}\n({'; '.join(limits)})" if limits else text


def field_editor(name: str, kind: type, value, commit: Callable[[str, object], None], *,
                 choices=None, minimum=None, maximum=None) -> QWidget:
    """An editor showing `value` that calls commit(name, new value) when the user changes it."""
    if choices:
        editor = QComboBox()
        for choice in choices:
            editor.addItem(format_value(choice), choice)
        editor.setCurrentIndex(list(choices).index(value) if value in choices else -1)
        editor.activated.connect(lambda index: commit(name, editor.itemData(index)))
    elif kind is bool:
        editor = QCheckBox()
        editor.setChecked(bool(value))
        editor.toggled.connect(lambda checked: commit(name, checked))
    elif kind is int:
        editor = QSpinBox()
        editor.setRange(int(max(-INT_LIMIT, minimum if minimum is not None else -INT_LIMIT)),
                        int(min(INT_LIMIT, maximum if maximum is not None else INT_LIMIT)))
        editor.setValue(value)
        editor.setKeyboardTracking(False)  # valueChanged on Enter, focus out or a step, not per digit
        editor.setGroupSeparatorShown(True)
        editor.valueChanged.connect(lambda number: commit(name, number))
    else:
        editor = QLineEdit(format_value(value))
        editor.editingFinished.connect(lambda: commit(name, _parsed(kind, editor.text())))
    editor.setObjectName(f"param_{name}")
    return editor


def block_field_editor(field: dataclasses.Field, value, commit: Callable[[str, object], None]) -> QWidget:
    meta = field.metadata
    editor = field_editor(field.name, type(field.default), value, commit, choices=meta.get("choices"),
                          minimum=meta.get("min"), maximum=meta.get("max"))
    editor.setToolTip(help_text(field))
    return editor


def _parsed(kind: type, text: str):
    """Text typed for a number, as a number when it reads as one; otherwise as typed, for core to refuse."""
    if kind is float:
        try:
            return float(text)
        except ValueError:
            return text
    return text
