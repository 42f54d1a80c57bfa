"""PySide6 6.12.0 kills CPython 3.11 ('Fatal Python error: none_dealloc') after a few thousand
QGraphicsItem.setPos calls, which the canvas makes whenever a card moves. The project pins
PySide6 below 6.12; this catches the crash if it comes back. It runs in a child process so a
crash fails this test instead of ending the whole pytest session."""

import subprocess
import sys

MOVE_ITEMS_A_LOT = """
from PySide6.QtWidgets import QApplication, QGraphicsRectItem, QGraphicsScene
app = QApplication([])
scene = QGraphicsScene()
items = [QGraphicsRectItem(0, 0, 10, 10) for _ in range(300)]
for item in items:
    scene.addItem(item)
for round_ in range(12):
    for index, item in enumerate(items):
        item.setPos(index * 1.5, round_ * 2.0)
for item in items:
    scene.removeItem(item)
del items
scene.clear()
print("ok")
"""


def test_moving_many_graphics_items_does_not_crash_python():
    done = subprocess.run([sys.executable, "-c", MOVE_ITEMS_A_LOT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
