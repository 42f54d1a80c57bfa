"""Runs ranked per task by their saved evaluations, what sets each apart from the best, and a button to
evaluate another run.

The table is core.leaderboard's ranking of the runs folder; it is reread every few seconds, so an
evaluation run from a terminal appears too. "Evaluate run…" starts `main.py eval RUN --task T --json`
as a child process, exactly what a person would type, and follows its "progress k/n" lines: the window
never waits on the model, Cancel ends the process, and a crash in it cannot take the editor down.
A QProcess (rather than training's detached subprocess) is right here: an evaluation left running
after the window closes would have nobody to show its result to.
"""

import json
import re
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSpinBox, QStackedWidget, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from workbench.core.eval_tasks import TASKS
from workbench.core.leaderboard import Entry, Leaderboard, evaluable_runs, evaluated_tasks, format_metric, leaderboard
from workbench.core.project import Project
from workbench.core.training.objectives import get_objective, settings_for
from workbench.core.training.runs import runs_folder
from workbench.gui.splitters import splitter
from workbench.gui.theme import set_style_state
from workbench.gui.training_job import REPO

REFRESH_MS = 4000
TASK_CHARS = 28  # of a task's name and description the box shows before eliding
DIFFERENCES_WIDTH = 300  # the side column of the selected run's differences from the best
PROGRESS = re.compile(r"progress (\d+)/(\d+)")


class LeaderboardPanel(QWidget):
    def __init__(self, project: Project | None = None):
        super().__init__()
        self.setObjectName("trainingPanel")  # the panels' shared background in assets/style.qss
        self.board: Leaderboard | None = None
        self.chosen_run: Path | None = None  # the run picked in the Training panel: offered first to evaluate
        self.process: QProcess | None = None
        self._evaluating: tuple[Path, str] | None = None  # (run, task) of the running evaluation
        self._stderr = ""
        self._cancelled = False
        self._shown: tuple = ()  # what the table shows, to rebuild it only when the files changed

        self.task_box = QComboBox()
        for name, task in TASKS.items():
            self.task_box.addItem(f"{name} — {task.description}", name)
        self.task_box.setToolTip("The bundled task runs are ranked on (core/evaluate.py describes each).")
        # The descriptions are long: the box shows what fits, its list shows them whole.
        self.task_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.task_box.setMinimumContentsLength(TASK_CHARS)
        self.task_box.view().setMinimumWidth(self.task_box.view().sizeHintForColumn(0) + 24)
        self.task_box.currentIndexChanged.connect(lambda _: self.refresh(force=True))
        self.limit_box = QSpinBox()
        self.limit_box.setRange(0, 1_000_000)
        self.limit_box.setSpecialValueText("all")
        self.limit_box.setGroupSeparatorShown(True)
        self.limit_box.setToolTip("Examples to score (perplexity: tokens); 'all' uses the task's full set, "
                                  "which makes scores of different runs comparable.")
        self.evaluate_button = QPushButton("Evaluate run…")
        self.evaluate_button.setObjectName("primaryButton")
        self.evaluate_button.setToolTip("Score a run's latest checkpoint on this task in a separate process.")
        self.evaluate_button.clicked.connect(self._choose_and_evaluate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.ranking_label = QLabel()
        self.ranking_label.setObjectName("panelCaption")
        self.table = QTreeWidget()
        self.table.setObjectName("runList")
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.currentItemChanged.connect(lambda *_: self._show_differences())
        self.empty_label = QLabel()
        self.empty_label.setObjectName("panelCaption")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.table)
        self.table_stack.addWidget(self.empty_label)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.status_label = QLabel()
        self.status_label.setObjectName("panelCaption")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.differences_title = QLabel()
        self.differences_title.setObjectName("panelCaption")
        self.differences_title.setWordWrap(True)
        self.differences_label = QLabel()
        self.differences_label.setObjectName("runDifferences")
        self.differences_label.setWordWrap(True)
        self.differences_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.differences_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._lay_out()
        self._timer = QTimer(self, interval=REFRESH_MS, timeout=self.refresh)
        self._timer.start()
        if project is not None:
            self.set_project(project)
        self.refresh(force=True)
        self._update_controls()

    def _lay_out(self) -> None:
        controls = QHBoxLayout()
        controls.setSpacing(8)
        task_caption = QLabel("Task")
        task_caption.setObjectName("panelCaption")
        limit_caption = QLabel("Examples")
        limit_caption.setObjectName("panelCaption")
        controls.addWidget(task_caption)
        controls.addWidget(self.task_box, 1)
        controls.addSpacing(8)
        controls.addWidget(limit_caption)
        controls.addWidget(self.limit_box)
        controls.addSpacing(8)
        controls.addWidget(self.evaluate_button)
        progress = QHBoxLayout()
        progress.addWidget(self.status_label, 1)
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.cancel_button)
        ranking = QWidget()
        ranking_layout = QVBoxLayout(ranking)
        ranking_layout.setContentsMargins(0, 0, 0, 0)
        ranking_layout.setSpacing(6)
        ranking_layout.addWidget(self.ranking_label)
        ranking_layout.addWidget(self.table_stack, 1)
        ranking_layout.addLayout(progress)
        differences = QScrollArea()  # a run that differs in many settings lists them all
        differences.setWidgetResizable(True)
        differences.setFrameShape(QFrame.Shape.NoFrame)
        differences.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        differences.viewport().setAutoFillBackground(False)
        column = QWidget()
        column.setAutoFillBackground(False)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(10, 0, 0, 0)  # a gap to the table
        column_layout.addWidget(self.differences_title)
        column_layout.addWidget(self.differences_label, 1)
        differences.setWidget(column)
        differences.setMinimumWidth(DIFFERENCES_WIDTH // 2)
        # The differences beside the table rather than under it: a low dock has width to spare, not height.
        sides = splitter(Qt.Orientation.Horizontal, ranking, differences, sizes=[1000, DIFFERENCES_WIDTH], stretch=0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addLayout(controls)
        layout.addWidget(sides, 1)

    # ----- the panel contract -----

    def set_project(self, project: Project) -> None:
        """Offer the task the project's objective trains for: next-line for a causal LM, genre for a
        classifier, its own synthetic task for a seq2seq model."""
        train = project.train
        objective = get_objective(train.objective)
        task = objective.eval_task_for(settings_for(objective, train))
        if task in TASKS and not self.busy:
            self.task_box.setCurrentIndex(self.task_box.findData(task))

    def show_run(self, run_dir: Path | None) -> None:
        self.chosen_run = Path(run_dir).resolve() if run_dir else None
        self._select(self.chosen_run)

    # ----- the table -----

    @property
    def task(self) -> str:
        return self.task_box.currentData()

    def set_task(self, task: str) -> None:
        self.task_box.setCurrentIndex(self.task_box.findData(task))

    def refresh(self, force: bool = False) -> None:
        """Reread the runs folder's results for the current task; the table is rebuilt only when they
        changed, so a selection survives the periodic reread."""
        board = leaderboard(runs_folder(), self.task)
        shown = tuple((e.run_dir, tuple(e.metrics.items()), e.evaluated) for e in board.entries) + board.problems
        if shown == self._shown and not force:
            return
        self.board, self._shown = board, shown
        current = self.table.currentItem()
        keep = current.data(0, Qt.ItemDataRole.UserRole) if current else self.chosen_run
        self._fill(board)
        self._select(keep)
        if board.problems and not self.busy:
            self._set_status(f"Left out {len(board.problems)} unreadable result(s): {board.problems[0]}", True)

    def _fill(self, board: Leaderboard) -> None:
        spec = TASKS[board.task]
        metrics = [board.metric] + list(dict.fromkeys(m for e in board.entries for m in e.metrics if m != board.metric))
        headers = ["#", "Run", *metrics, "95 % interval", "Examples", "Step", "Evaluated"]
        self.table.clear()
        self.table.setHeaderLabels(headers)
        header = self.table.header()
        # Every column fits its contents, the run's name included (a stretched name column was squeezed to
        # "fi…" by the numbers beside it); a table wider than the panel scrolls sideways.
        header.setStretchLastSection(True)
        for column in (c for c in range(len(headers)) if c != 1):  # all but the run's name align right
            self.table.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        bold = self.table.font()
        bold.setBold(True)
        self.table.headerItem().setFont(2, bold)
        ranks = [entry.rank for entry in board.entries]
        for entry in board.entries:
            shared = entry.rank is not None and ranks.count(entry.rank) > 1
            item = self._item("–" if entry.rank is None else f"{'=' * shared}{entry.rank}", entry, metrics)
            item.setFont(2, bold)  # the metric the ranking follows
            self.table.addTopLevelItem(item)
        for column in range(len(headers)):  # fit the contents, with room between columns
            width = max(self.table.sizeHintForColumn(column), header.sectionSizeHint(column))
            header.resizeSection(column, width + (6 if column == 0 else 18))
        direction = "higher" if spec.higher_is_better else "lower"
        chance = f" · chance {format_metric(board.chance)}" if board.chance is not None else ""
        tied = " · runs marked = are within each other's 95 % interval: the data cannot tell them apart" if any(
            ranks.count(rank) > 1 for rank in ranks if rank is not None) else ""
        self.ranking_label.setText(f"Ranked by {board.metric} ({direction} is better) on {board.examples:,} "
                                   f"examples{chance} · {len(board.entries)} run{'s' * (len(board.entries) != 1)}"
                                   f"{tied}")
        self.ranking_label.setWordWrap(True)
        self.empty_label.setText(self._empty_text())
        self.table_stack.setCurrentWidget(self.table if board.entries else self.empty_label)
        self.ranking_label.setVisible(bool(board.entries))

    def _item(self, rank: str, entry: Entry, metrics: list[str]) -> QTreeWidgetItem:
        evaluated = entry.evaluated[:16].replace("T", " ")
        values = [format_metric(entry.metrics.get(m)) for m in metrics]
        interval = "—" if entry.interval is None else \
            f"{format_metric(entry.interval[0])} – {format_metric(entry.interval[1])}"
        item = QTreeWidgetItem([rank, entry.name, *values, interval, f"{entry.examples:,}",
                                "" if entry.step is None else f"{entry.step:,}", evaluated])
        item.setData(0, Qt.ItemDataRole.UserRole, entry.run_dir)
        item.setToolTip(1, f"{entry.name}\n{entry.project}\n{entry.run_dir}\n"
                           f"trained {str(entry.info.get('created', ''))[:16]}")
        if entry.note:
            for column in (0, 2, len(metrics) + 2):
                item.setToolTip(column, entry.note)
            item.setForeground(2, self.palette().placeholderText())  # a score that says little
        for column in (c for c in range(len(metrics) + 6) if c != 1):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _empty_text(self) -> str:
        folder = runs_folder()
        if not evaluable_runs(folder):
            return "No evaluated runs yet: train a model, then press Evaluate run…"
        others = [t for t in evaluated_tasks(folder) if t != self.task]
        elsewhere = f"\n(runs have results on {', '.join(others)})" if others else ""
        return f"No run has been evaluated on {self.task} yet: press Evaluate run… to score one.{elsewhere}"

    def _select(self, run_dir: Path | None) -> None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if run_dir is not None and item.data(0, Qt.ItemDataRole.UserRole) == run_dir:
                self.table.setCurrentItem(item)
                return
        self._show_differences()

    def _show_differences(self) -> None:
        """The selected run's setup against the best run's (the first row)."""
        item = self.table.currentItem()
        entries = self.board.entries if self.board else ()
        if not entries:
            self.differences_title.setText("")
            self.differences_label.setText("")
            return
        best = entries[0]
        entry = next((e for e in entries if item and e.run_dir == item.data(0, Qt.ItemDataRole.UserRole)), None)
        if entry is None:
            self.differences_title.setText("Select a run to see how its setup differs from the best run's.")
            self.differences_label.setText("")
        elif entry is best:
            tied = sum(e.rank == best.rank for e in entries[1:])
            self.differences_title.setText(
                f"{best.name} ranks first on {self.task}, tied with {tied} other run{'s' * (tied != 1)}: their scores "
                "are within each other's 95 % interval." if tied else f"{best.name} is the best run on {self.task}.")
            self.differences_label.setText("")
        else:
            standing = (f" (tied: within the 95 % interval of {best.name}'s score)" if entry.rank == best.rank
                        else f" ({entry.note})" if entry.note else "")
            self.differences_title.setText(f"{entry.name} against the best run, {best.name}{standing}:")
            lines = list(entry.differences) or ["the same graph, settings and data"]
            if entry.step != best.step:
                lines.append(f"checkpoint step: {best.step} → {entry.step}")
            self.differences_label.setText("\n".join(f"•  {line}" for line in lines))

    # ----- evaluating -----

    @property
    def busy(self) -> bool:
        return self.process is not None

    def _choose_and_evaluate(self) -> None:
        runs = evaluable_runs(runs_folder())
        if not runs:
            self._set_status("No run has a checkpoint to evaluate yet: train a model in the Training panel first.",
                             True)
            return
        names = [run.name for run in runs]
        current = names.index(self.chosen_run.name) if self.chosen_run in runs else 0
        name, accepted = QInputDialog.getItem(self, "Evaluate run", f"Run to score on {self.task}:", names, current,
                                              False)
        if accepted:
            self.evaluate_run(runs[names.index(name)], self.task)

    def evaluate_run(self, run_dir: Path, task: str) -> None:
        """Start `main.py eval RUN --task TASK --json` and follow it; the table refreshes when it ends."""
        if self.busy:
            return
        arguments = [str(REPO / "main.py"), "eval", str(run_dir), "--task", task, "--json"]
        if self.limit_box.value():
            arguments += ["--limit", str(self.limit_box.value())]
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(REPO))
        self.process.readyReadStandardError.connect(self._read_progress)
        self.process.finished.connect(self._finished)
        self._evaluating, self._stderr, self._cancelled = (Path(run_dir), task), "", False
        self.progress_bar.setRange(0, 0)  # busy until the first progress line: the model is loading
        self._set_status(f"Evaluating {Path(run_dir).name} on {task}: loading the model…")
        self._update_controls()
        self.process.start(sys.executable, arguments)

    def cancel(self) -> None:
        if self.process is not None:
            self._cancelled = True
            self.process.kill()

    def _read_progress(self) -> None:
        self._stderr += bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        found = PROGRESS.findall(self._stderr)
        if found:
            done, total = map(int, found[-1])
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(done)
            run, task = self._evaluating
            self._set_status(f"Evaluating {run.name} on {task}: {done:,} of {total:,}")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process, (run, task) = self.process, self._evaluating
        self._read_progress()
        output = bytes(process.readAllStandardOutput()).decode("utf-8", "replace")
        self.process, self._evaluating = None, None
        process.deleteLater()
        if self._cancelled:
            self._set_status(f"Evaluation of {run.name} on {task} cancelled; nothing was saved.")
        elif (result := _result(output)) is not None and code == 0 and status == QProcess.ExitStatus.NormalExit:
            main = TASKS[task].main_metric
            ordered = sorted(result["metrics"].items(), key=lambda pair: pair[0] != main)  # the ranked one first
            values = ", ".join(f"{name} {format_metric(value)}" for name, value in ordered)
            self._set_status(f"Evaluated {run.name} on {task} at step {result['step']}: {values}")
            self.set_task(task)
            self.refresh(force=True)
            self._select(run.resolve())
        else:
            errors = [line[len("error: "):] for line in self._stderr.splitlines() if line.startswith("error: ")]
            tail = self._stderr.strip().splitlines()[-1:] or [f"exit code {code}"]
            self._set_status(f"Could not evaluate {run.name}: {(errors or tail)[-1]}", True)
        self._update_controls()

    def _update_controls(self) -> None:
        self.evaluate_button.setEnabled(not self.busy)
        self.task_box.setEnabled(not self.busy)
        self.limit_box.setEnabled(not self.busy)
        self.cancel_button.setVisible(self.busy)
        self.progress_bar.setVisible(self.busy)

    def _set_status(self, text: str, problem: bool = False) -> None:
        self.status_label.setText(text)
        set_style_state(self.status_label, "state", "problem" if problem else "")

    def closeEvent(self, event) -> None:
        self.cancel()
        super().closeEvent(event)


def _result(output: str) -> dict | None:
    """The JSON line `main.py eval --json` prints, or None when it printed something else."""
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        return None
    return result if isinstance(result, dict) and isinstance(result.get("metrics"), dict) else None
