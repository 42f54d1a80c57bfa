"""Forking a generation in the window: click any generated token, pick one of the alternatives the
model listed at that step, and generation continues from it on a new branch; every branch stays in a
list beside the text, a tree one can walk back through by clicking (core.generation_tree holds it).

`ForkedOutput` wraps the Generate panel's single output column: the panel tells it when a generation
begins and ends, and it does the rest on a worker thread of its own, like the panel's generation job.
"""

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, QThread, Signal
from PySide6.QtWidgets import QLabel, QMenu, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from workbench.core.decoding import GenerationConfig, GenerationResult, StepRecord
from workbench.core.generation_tree import Branch, GenerationTree, branch_from_result, fork
from workbench.gui.beam_tree import token_label
from workbench.gui.generation_jobs import LoadedModel
from workbench.gui.token_view import ENDINGS, OutputColumn
from workbench.gui.worker_threads import retire, stop_thread

LIST_WIDTH = 240  # pixels for the branch list beside the text
HINT = "Click a generated token to continue from one of its alternatives; click a branch to show it again."


class ForkJob(QThread):
    """Continues one fork off the GUI thread, streaming its tokens (beam search cannot stream)."""

    token = Signal(object)  # StepRecord of the continuation

    def __init__(self, model: LoadedModel, tree: GenerationTree, branch_id: int, step: int, token: int,
                 config: GenerationConfig):
        super().__init__()
        self.model, self.tree, self.config = model, tree, config
        self.branch_id, self.step, self.chosen = branch_id, step, token
        self._cancelled = False
        self.outcome: Branch | str = "the fork was stopped"  # the new Branch, or the text of the error

    def cancel(self) -> None:
        self._cancelled = True

    def run(self) -> None:
        streams = self.config.strategy != "beam"
        try:
            branch = fork(self.model.compiled, self.tree, self.branch_id, self.step, self.chosen, self.config,
                          on_step=self._stream if streams else None)
        except Exception as exc:  # the worker must always answer, or the list waits forever
            self.outcome = str(exc) or type(exc).__name__
            return
        self.outcome = branch

    def _stream(self, record: StepRecord) -> bool:
        self.token.emit(record)
        return self._cancelled


class BranchList(QTreeWidget):
    """The branches as a tree: each forked branch under the one it left."""

    def __init__(self):
        super().__init__()
        self.setObjectName("branchList")
        self.setHeaderHidden(True)  # the caption above names it; the whole width goes to the branches
        self.setIndentation(12)
        self.items: dict[int, QTreeWidgetItem] = {}  # branch id -> its row

    def show_tree(self, tree: GenerationTree, text: Callable[[int], str], current: int) -> None:
        self.clear()
        self.items = {}
        for branch in tree.branches:
            parent = self.items.get(branch.parent)
            item = QTreeWidgetItem([describe(tree, branch, text, short=True)])
            item.setData(0, Qt.ItemDataRole.UserRole, branch.id)
            item.setToolTip(0, f"{describe(tree, branch, text)}: {len(branch.steps)} tokens, "
                               f"{ENDINGS[branch.finish_reason]}")
            (parent.addChild if parent else self.addTopLevelItem)(item)
            self.items[branch.id] = item
        self.expandAll()
        self.setCurrentItem(self.items[current])


def describe(tree: GenerationTree, branch: Branch, text: Callable[[int], str], short: bool = False) -> str:
    """"1 · first generation", or "3 · step 4: ‘the’ not ‘a’" (steps counted from 1, as a reader would);
    `short` leaves out the token replaced, for the narrow list (its tooltip has it)."""
    if branch.parent is None:
        return f"{branch.id + 1} · first generation"
    before = tree.branches[branch.parent].steps[branch.fork_step].token
    took = branch.steps[branch.fork_step].token
    return (f"{branch.id + 1} · step {branch.fork_step + 1}: ‘{token_label(text(took))}’"
            + ("" if short else f" not ‘{token_label(text(before))}’"))


class ForkedOutput(QSplitter):
    fork_finished = Signal(object)  # the new Branch, or the text of the error

    def __init__(self, column: OutputColumn, model: Callable[[], LoadedModel | None],
                 config: Callable[[], GenerationConfig]):
        super().__init__(Qt.Orientation.Horizontal)
        self.column, self._model, self._config = column, model, config
        self.tree: GenerationTree | None = None  # of the last generation, once it finished
        self.current: int | None = None  # the branch the text shows
        self.job: ForkJob | None = None
        self.menu: QMenu | None = None  # the alternatives of the last clicked token
        self._pending: GenerationTree | None = None  # begun, not finished yet
        self._prompt_text = ""
        self.branch_list = BranchList()
        self.branch_list.itemClicked.connect(lambda item: self.show_branch(item.data(0, Qt.ItemDataRole.UserRole)))
        self.hint = QLabel(HINT)
        self.hint.setObjectName("panelCaption")
        self.hint.setWordWrap(True)
        self.side = QWidget()
        side = QVBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Branches")
        caption.setObjectName("panelCaption")
        side.addWidget(caption)
        side.addWidget(self.branch_list, 1)
        side.addWidget(self.hint)
        self.addWidget(column)
        self.addWidget(self.side)
        self.setChildrenCollapsible(False)
        self.setStretchFactor(0, 1)
        self.setSizes([1000, LIST_WIDTH])
        self.side.setVisible(False)
        column.view.token_clicked.connect(self.offer_alternatives)

    # ----- the panel's generation -----

    def begin(self, prompt: list[int], source: list[int] | None, prompt_text: str) -> None:
        """A new generation replaces the tree (the old one's texts are gone from the column too)."""
        self.shutdown()
        self.tree, self.current = None, None
        self._pending, self._prompt_text = GenerationTree(list(prompt), source), prompt_text
        self.side.setVisible(False)

    def root_done(self, result: GenerationResult) -> None:
        if self._pending is None or not result.steps or result.prompt != self._pending.prompt:
            return
        self.tree, self._pending = self._pending, None
        self.tree.add(branch_from_result(self.tree, result))
        self.current = 0
        self._refresh_list()
        if not self.side.isVisible():  # the list takes its width from the text once, then keeps what is dragged
            self.side.setVisible(True)
            self.setSizes([max(self.width() - LIST_WIDTH, LIST_WIDTH), LIST_WIDTH])

    def is_running(self) -> bool:
        return self.job is not None and self.job.isRunning()

    # ----- forking -----

    def offer_alternatives(self, index: int, at: QPoint) -> None:
        """A menu of the likeliest tokens at that step; choosing one that the text did not take forks."""
        if self.tree is None or self.is_running() or self._model() is None:
            return
        record = self.column.view.records[index]
        text = self._model().tokenizer.token_text
        self.menu = QMenu(self)
        self.menu.addSection(f"Step {index + 1}: continue from…")
        for token, p in record.candidates:
            action = self.menu.addAction(f"‘{token_label(text(token))}’  {p:.1%}"
                                         + ("  (this text)" if token == record.token else ""))
            action.setEnabled(token != record.token)
            action.setData(token)
            action.triggered.connect(lambda _=False, t=token: self.fork(index, t))
        self.menu.popup(at)

    def fork(self, step: int, token: int) -> None:
        """Continue the shown branch from `step` with `token` instead; the text streams in as it comes."""
        model = self._model()
        if self.tree is None or model is None or self.is_running():
            return
        branch = self.tree.branches[self.current]
        self.job = ForkJob(model, self.tree, self.current, step, token, self._config())
        self._render(branch.steps[:step], self.tree.path(self.current)[1:])
        self.column.view.add(StepRecord(branch.steps[step].position, token,
                                        dict(branch.steps[step].candidates).get(token, 0.0),
                                        list(branch.steps[step].candidates)), forked=True)
        self.column.figures.setText(f"Continuing from step {step + 1}…")
        self.job.token.connect(self.column.view.add)
        # Read and dropped only once its thread has ended: a QThread destroyed while it runs aborts.
        self.job.finished.connect(lambda job=self.job: self._fork_done(job))
        self.job.start()

    def _fork_done(self, job: ForkJob) -> None:
        if job is not self.job:  # a new generation replaced the tree meanwhile
            return
        retire(job)  # dropped from its own `finished` slot: wait first (gui/worker_threads.py)
        self.job, outcome = None, job.outcome
        if isinstance(outcome, str):
            self.column.figures.setText(f"Could not fork: {outcome}")
            self.show_branch(self.current)
        else:
            self.tree.add(outcome)
            self.show_branch(outcome.id)
            self._refresh_list()
        self.fork_finished.emit(outcome)

    # ----- showing a branch -----

    def show_branch(self, branch_id: int) -> None:
        if self.tree is None or self.is_running():
            return
        self.current = branch_id
        branch = self.tree.branches[branch_id]
        self._render(branch.steps, self.tree.path(branch_id)[1:])
        text = self._model().tokenizer.token_text if self._model() else str
        self.column.figures.setText(f"Branch {describe(self.tree, branch, text)} · {len(branch.steps)} tokens · "
                                    f"{ENDINGS[branch.finish_reason]} · {len(self.tree.branches)} branches")
        if branch_id in self.branch_list.items:
            self.branch_list.setCurrentItem(self.branch_list.items[branch_id])

    def _render(self, steps: list[StepRecord], forked_path: list[int]) -> None:
        forks = {self.tree.branches[b].fork_step for b in forked_path}
        view = self.column.view
        view.start(view.tokenizer, self.tree.prompt, self._prompt_text)
        for index, record in enumerate(steps):
            view.add(record, forked=index in forks)

    def _refresh_list(self) -> None:
        text = self._model().tokenizer.token_text if self._model() else str
        self.branch_list.show_tree(self.tree, text, self.current)

    def shutdown(self) -> None:
        stop_thread(self.job, "a fork's generation")
        self.job = None
