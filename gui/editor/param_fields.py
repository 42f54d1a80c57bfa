"""Inspector fields generated from a block's parameter declarations (core.settings.param).

A whole number gets a spin box within its min and max, a flag a check box, a parameter with
choices a drop-down, a number or a name a text field; the tooltip carries the help text and the
allowed range. A field reports a new value once (Enter, leaving the field, a click), never per
keystroke, so one change is one undo step; core validates it.
"""

import dataclasses
from collections.abc import Callable

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from workbench.core.settings import Setting, setting_of
from workbench.gui.formatting import format_value

INT_LIMIT = 2**31 - 1  # QSpinBox's range


def help_text(field: dataclasses.Field | Setting) -> str:
    """The declaration's help, then what it accepts (and its units): one tooltip for every form."""
    setting = field if isinstance(field, Setting) else setting_of(field)
    limits = []
    if setting.allowed() is not None or any(v is not None for v in (setting.min, setting.max, setting.above,
                                                                     setting.below)):
        limits.append(setting.describe())
    if setting.units:
        limits.append(setting.units)
    return f"{setting.help}\n({'; '.join(limits)})" if limits else setting.help


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


def setting_editor(setting: Setting, value, commit: Callable[[str, object], None]) -> QWidget:
    """The editor a declared setting gets (core.settings): its choices, its range, its help."""
    if setting.optional and setting.allowed() is None:  # blank means None (a seed left to chance)
        editor = QLineEdit("" if value is None else format_value(value))
        editor.setPlaceholderText("none")
        editor.setObjectName(f"param_{setting.name}")
        editor.editingFinished.connect(lambda: commit(setting.name, _optional(setting.kind, editor.text())))
        editor.setToolTip(help_text(setting))
        return editor
    low = setting.min if setting.min is not None else (setting.above + 1 if setting.above is not None else None)
    high = setting.max if setting.max is not None else (setting.below - 1 if setting.below is not None else None)
    editor = field_editor(setting.name, setting.kind, value, commit, choices=setting.allowed(),
                          minimum=low if setting.kind is int else None, maximum=high if setting.kind is int else None)
    editor.setToolTip(help_text(setting))  # units go here: a suffix would change what a spin box parses
    return editor


def block_field_editor(field: dataclasses.Field, value, commit: Callable[[str, object], None]) -> QWidget:
    return setting_editor(setting_of(field), value, commit)


def _optional(kind: type, text: str):
    """Blank is None; otherwise what `_parsed` makes of it, whole numbers included."""
    if not text.strip():
        return None
    if kind is int:
        try:
            return int(text)
        except ValueError:
            return text
    return _parsed(kind, text)


def _parsed(kind: type, text: str):
    """Text typed for a number, as a number when it reads as one; otherwise as typed, for core to refuse."""
    if kind is float:
        try:
            return float(text)
        except ValueError:
            return text
    return text
