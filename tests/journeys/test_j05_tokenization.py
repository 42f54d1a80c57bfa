"""Journey 5, tokenization: in the Tokenizer panel, train BPE, WordPiece and Unigram at one vocabulary
size, type a sentence and see the three segmentations side by side with characters per token; then
train BPE alone and step through its first merges.

The project's corpus is a 60 kB slice of the bundled Shakespeare, so each tokenizer trains in seconds."""

from PySide6.QtCore import Qt

from workbench.core.project import load_project
from tests.journeys.conftest import choose, click_tab, shakespeare_slice, type_into

SENTENCE = "Shall I compare thee to a summer's day?"
VOCAB = 300


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_three_tokenizers_side_by_side_and_bpe_merges(qtbot, open_window, shots, tmp_path):
    project = load_project()
    project.data.corpus = shakespeare_slice(tmp_path)
    window = open_window(project)
    click_tab(qtbot, window, "Tokenizer")
    panel = window.tokenizers
    type_into(qtbot, panel.vocab_box, str(VOCAB))
    assert panel.vocab_box.value() == VOCAB
    panel.text_edit.setFocus()
    panel.text_edit.selectAll()
    qtbot.keyClicks(panel.text_edit, SENTENCE)
    assert panel.text_edit.toPlainText() == SENTENCE

    panel.tabs.setCurrentIndex(2)  # the Compare tab
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert panel.status_label.text() == f"Compared 3 tokenizers at vocabulary size {VOCAB}."
    columns = panel._columns()
    assert [column.title.text() for column in columns] == ["BPE", "WordPiece", "Unigram"]
    qtbot.waitUntil(lambda: all("".join(p.text for p in c.view.pieces) == SENTENCE for c in columns), timeout=5000)
    for column, trained in zip(columns, panel.compared, strict=True):
        pieces = trained.tokenizer.segment(SENTENCE)
        assert f"{len(SENTENCE) / len(pieces):.2f} characters per token" in column.summary.text()
        assert 1 < len(pieces) < len(SENTENCE)  # words were merged, yet the sentence is more than one token
    shots.save(window, "three segmentations side by side")

    panel.tabs.setCurrentIndex(0)
    choose(panel.kind_box, "bpe")
    click(qtbot, panel.train_button)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert f"Trained BPE: {VOCAB} tokens" in panel.status_label.text()
    panel.tabs.setCurrentIndex(1)  # Merges
    merges = len(panel.tokenizer.merges())
    assert panel.tabs.tabText(1) == "Merges" and panel.merges_list.count() == merges > 0
    assert panel.merge_slider.value() == 0 and panel.merge_label.text().startswith(f"After 0 of {merges} merges")
    pieces_before = len(panel.merge_view.pieces)
    for k in (1, 2, 3):
        click(qtbot, panel.next_button)
        assert panel.merge_label.text().startswith(f"After {k} of {merges} merges")
    assert len(panel.merge_view.pieces) < pieces_before  # the first merges joined characters of the sentence
    shots.save(window, "bpe after three merges")
