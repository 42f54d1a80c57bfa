"""The Tokenizer panel trains real tokenizers on a 30 kB corpus slice off the GUI thread, and shows
exactly what the core computes: the same vocabulary, segmentations that read back as the text,
merges replayed one at a time, one column per compared kind, and the project's tokenizer swapped."""

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QTextCursor

from workbench.core.data.bpe_replay import segment_after_merges
from workbench.core.data.tokenizer_training import train_tokenizer
from workbench.core.project import Project
from workbench.gui.segmentation_view import pieces_of
from workbench.gui.tokenizer_panel import TokenizerPanel
from tests.conftest import REPO

TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler, café?"


@pytest.fixture
def panel(qtbot, tiny_project):
    widget = TokenizerPanel(tiny_project)
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.text_edit.setPlainText(TEXT)
    widget.resize(1200, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def train(qtbot, panel, kind: str, vocab_size: int) -> None:
    panel.kind_box.setCurrentIndex(panel.kind_box.findData(kind))
    panel.vocab_box.setValue(vocab_size)
    panel.train()
    assert panel.is_running() and not panel.train_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=20_000)
    qtbot.wait(150)  # the text views refresh after a short pause in typing


def test_training_in_the_panel_gives_the_core_tokenizer(qtbot, panel, tiny_project):
    train(qtbot, panel, "bpe", 300)
    expected = train_tokenizer("bpe", tiny_project.tokenizer_texts(held_out=False), 300, ["<|endoftext|>"])
    assert panel.tokenizer is not tiny_project.tokenizer
    assert panel.tokenizer.vocabulary() == expected.vocabulary() and panel.tokenizer.merges() == expected.merges()
    assert "Trained BPE: 300 tokens" in panel.status_label.text()
    segments = expected.segment(TEXT)
    assert "".join(piece.text for piece in panel.token_view.pieces) == TEXT
    assert [piece.ids for piece in panel.token_view.pieces] == [(s.token_id,) for s in segments]
    assert panel.summary_label.text() == (f"{len(segments)} tokens · {len(TEXT)} characters · "
                                          f"{len(TEXT) / len(segments):.2f} characters per token")


def test_byte_tokens_of_one_character_read_back_as_the_text(qtbot, panel):
    train(qtbot, panel, "bytelevel-bpe", 300)
    pieces = panel.token_view.pieces
    assert "".join(piece.text for piece in pieces) == TEXT
    cafe = [piece for piece in pieces if "é" in piece.text]
    assert len(cafe) == 1 and len(cafe[0].ids) == 2  # é is two bytes, each its own token here
    view = panel.token_view
    for index in (0, 3, len(pieces) - 1):  # hovering the middle of a piece's first character finds that piece
        left, right = QTextCursor(view.document()), QTextCursor(view.document())
        left.setPosition(view._starts[index])
        right.setPosition(view._starts[index] + 1)
        middle = (view.cursorRect(left).x() + view.cursorRect(right).x()) // 2
        point = QPoint(middle, view.cursorRect(left).center().y())
        assert view.piece_at(point) == index
    assert view.piece_at(QPoint(5, view.viewport().height() - 2)) is None  # below the text


def test_stepping_through_merges_applies_k_of_them(qtbot, panel):
    train(qtbot, panel, "bpe", 300)
    assert panel.tabs.tabText(1) == "Merges" and panel.merges_list.count() == len(panel.tokenizer.merges())
    for k in (0, 1, 2):
        assert panel.merge_slider.value() == k
        expected = pieces_of(TEXT, segment_after_merges(panel.tokenizer, TEXT, k))
        assert panel.merge_view.pieces == expected
        assert panel.merge_label.text().startswith(f"After {k} of {len(panel.tokenizer.merges())} merges")
        panel.next_button.click()
    assert len(panel.merge_view.pieces) < len(TEXT)
    panel.merges_list.setCurrentRow(len(panel.tokenizer.merges()) - 1)  # the last merge: the tokenizer itself
    assert [p.ids for p in panel.merge_view.pieces] == [p.ids for p in panel.token_view.pieces]
    assert not panel.next_button.isEnabled()


def test_unigram_shows_its_vocabulary_with_scores(qtbot, panel):
    train(qtbot, panel, "unigram", 200)
    assert panel.tabs.tabText(1) == "Vocabulary"
    panel.tabs.setCurrentIndex(1)  # listed when its tab is opened
    assert panel.vocabulary_table.rowCount() == 200
    scores = dict(panel.tokenizer.scores())
    token = panel.tokenizer.vocabulary()[50]
    assert panel.vocabulary_table.item(50, 2).text() == f"{scores[token]:.3f}"


def test_comparison_shows_one_column_per_kind(qtbot, panel, tiny_project):
    panel.vocab_box.setValue(250)
    panel.compare()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=30_000)
    columns = panel._columns()
    assert panel.status_label.text() == "Compared 3 tokenizers at vocabulary size 250."
    assert [c.title.text() for c in columns] == ["BPE", "WordPiece", "Unigram"]
    for column, trained in zip(columns, panel.compared, strict=True):
        assert trained.tokenizer.vocab_size == 250 and "vocabulary 250" in column.subtitle.text()
        segments = trained.tokenizer.segment(TEXT)
        assert "".join(piece.text for piece in column.view.pieces) == TEXT
        assert f"{len(TEXT) / len(segments):.2f} characters per token" in column.summary.text()
    panel.text_edit.setPlainText("Fair is foul")
    qtbot.waitUntil(lambda: "".join(p.text for p in columns[2].view.pieces) == "Fair is foul", timeout=2_000)


def test_use_for_project_swaps_the_tokenizer_and_the_vocabulary_size(qtbot, panel, tiny_project):
    assert not panel.use_button.isEnabled()  # already the project's
    train(qtbot, panel, "wordpiece", 300)
    applied = []
    panel.tokenizer_applied.connect(applied.append)
    panel.use_button.click()
    assert tiny_project.tokenizer is panel.tokenizer and applied == [panel.tokenizer]
    assert tiny_project.graph.nodes["tokens"].params["vocab_size"] == 300
    assert "vocab_size went from 63 to 300" in panel.status_label.text()
    tiny_project.check()
    assert not panel.use_button.isEnabled()


def test_cancel_stops_training_and_changes_nothing(qtbot, panel, tiny_project):
    panel.corpus_edit.setText(str(REPO / "assets/corpus/shakespeare.txt"))  # 1 MB: long enough to cancel
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("unigram"))
    panel.train()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert panel.status_label.text() == "Cancelled; nothing changed."
    assert panel.tokenizer is tiny_project.tokenizer


def test_bad_input_gets_a_clear_message(qtbot, panel, tmp_path, tiny_project):
    panel.corpus_edit.setText(str(tmp_path / "missing.txt"))
    panel.train()
    assert not panel.is_running() and "missing.txt is not a file" in panel.status_label.text()
    (tmp_path / "latin1.txt").write_bytes("Café au lait\n".encode("latin-1") * 50)
    panel.corpus_edit.setText(str(tmp_path / "latin1.txt"))
    train(qtbot, panel, "bpe", 300)
    assert panel.status_label.text().startswith("Training failed: ") and "not UTF-8" in panel.status_label.text()
    panel.corpus_edit.setText("")
    train(qtbot, panel, "bpe", 20)
    assert "needs at least" in panel.status_label.text() and panel.tokenizer is tiny_project.tokenizer


def test_an_ids_only_project_shows_ids_and_the_reason_not_a_red_span(qtbot, tiny_project):
    """#23: an import without tokenizer files showed the Shakespeare sample as one red unencodable span."""
    project = Project.from_dict({**tiny_project.to_dict(), "tokenizer": {"kind": "ids", "vocab_size": 300,
                                                                         "reason": "gpt2 has no tokenizer.json"}})
    widget = TokenizerPanel(project)
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.show()
    qtbot.waitUntil(lambda: bool(widget.token_view.pieces), timeout=5000)
    assert not [p for p in widget.token_view.pieces if p.unknown]
    assert [p.ids for p in widget.token_view.pieces][:3] == [(0,), (37,), (74,)]
    assert "ids only (gpt2 has no tokenizer.json): type token ids" in widget.summary_label.text()
    assert "Shown: ids only, 300 tokens" in widget.shown_label.text()
