"""Training tokenizers on a worker thread for the Tokenizer panel, as `main.py tokenizer-compare` does.

Cancel stops the corpus stream, which is most of the time on a real corpus; the library's merge phase
after it cannot be interrupted, so a cancelled result is thrown away when it arrives.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from PySide6.QtCore import QThread, Signal

from workbench.core.data.pipeline import Progress
from workbench.core.data.pipeline_config import DataError
from workbench.core.data.tokenizer_report import TokenizerReport, measure_tokenizer, train_for_comparison
from workbench.core.data.tokenizers import ProjectTokenizer, TokenizerError
from workbench.core.project import ProjectError

KIND_NAMES = {"char": "Characters", "bpe": "BPE", "bytelevel-bpe": "Byte-level BPE", "wordpiece": "WordPiece",
              "unigram": "Unigram"}
PROGRESS_CHARS = 50_000  # characters streamed between progress reports


class Cancelled(ValueError):
    """Raised inside the corpus stream; train_tokenizer lets a ValueError from its texts through."""


@dataclass(frozen=True)
class Trained:
    tokenizer: ProjectTokenizer
    report: TokenizerReport  # measured on the corpus's held-out text


class TokenizerJob(QThread):
    """Trains each kind in turn on the same texts and measures it on held-out text."""

    progress = Signal(str, int)  # message, percent done (-1 while unknown)
    finished_with = Signal(object)  # list[Trained], the text of an error, or None when cancelled

    def __init__(self, texts: Callable[[bool, Callable[[Progress], None]], Iterable[str]], kinds: list[str],
                 vocab_size: int, special_tokens: list[str], corpus_chars: int | None):
        super().__init__()
        self.texts, self.kinds, self.vocab_size = texts, kinds, vocab_size
        self.special_tokens, self.corpus_chars = special_tokens, corpus_chars
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def run(self) -> None:
        try:
            results = []
            for number, kind in enumerate(self.kinds):
                texts = self._watched(self.texts(False, self._cleaning), number, kind)
                tokenizer = train_for_comparison(kind, texts, self.vocab_size, self.special_tokens)
                if self.cancelled:
                    raise Cancelled
                self.progress.emit(f"measuring {KIND_NAMES[kind]} on held-out text…", -1)
                results.append(Trained(tokenizer, measure_tokenizer(tokenizer, self.texts(True, self._cleaning))))
        except Cancelled:
            self.finished_with.emit(None)
        except (TokenizerError, DataError, ProjectError, OSError) as exc:
            self.finished_with.emit(str(exc))
        except Exception as exc:  # the worker must always report back, or the panel waits forever
            self.finished_with.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished_with.emit(results)

    def _watched(self, texts: Iterable[str], number: int, kind: str) -> Iterator[str]:
        streamed = reported = 0
        for text in texts:
            if self.cancelled:
                raise Cancelled
            streamed += len(text)
            if streamed - reported >= PROGRESS_CHARS:
                reported = streamed
                share = min(streamed / self.corpus_chars, 1.0) if self.corpus_chars else 0.0
                percent = int(100 * (number + share) / len(self.kinds)) if self.corpus_chars else -1
                self.progress.emit(f"{KIND_NAMES[kind]}: read {streamed:,} characters", percent)
            yield text
        self.progress.emit(f"{KIND_NAMES[kind]}: learning the vocabulary from {streamed:,} characters…",
                           int(100 * (number + 1) / len(self.kinds)) if self.corpus_chars else -1)

    def _cleaning(self, progress: Progress) -> None:
        if self.cancelled:
            raise Cancelled
        self.progress.emit(f"cleaning the corpus: {progress.step}", -1)
