"""Plain-text views of tokenizers and pipeline runs, for `main.py` and anything else headless.

    To|ken|izer|s| learn             a segmentation: one | between tokens, ↵ for a line end
    step   status   in   out   removed
"""

import sys
import time
from typing import TextIO

from workbench.core.data.pipeline import PipelineResult, Progress, StepReport
from workbench.core.data.tokenizer_report import TokenizerReport
from workbench.core.data.tokenizers import ProjectTokenizer, TrainedTokenizer

SHOWN_LEARNED = 12  # merges or pieces listed after training


def visible(text: str) -> str:
    """Whitespace a reader can see on one line: ↵ for a newline, → for a tab."""
    return text.replace("\n", "↵").replace("\t", "→")


def format_segmentation(tokenizer: ProjectTokenizer, text: str) -> str:
    segments = tokenizer.segment(text)
    unknown = [s.text for s in segments if s.unknown]
    lines = [
        f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size:,} tokens",
        "|".join(visible(s.text) for s in segments),
        "ids: " + " ".join("?" if s.token_id is None else str(s.token_id) for s in segments),
        f"{len(segments)} tokens for {len(text)} characters: "
        f"{len(text) / max(len(segments), 1):.2f} characters per token, {len(unknown)} unknown"
        + (f" ({', '.join(repr(u) for u in unknown[:5])})" if unknown else ""),
    ]
    return "\n".join(lines)


def format_learned(tokenizer: ProjectTokenizer) -> str:
    """The first merges of BPE, the most likely Unigram pieces, or a glimpse of the vocabulary."""
    if not isinstance(tokenizer, TrainedTokenizer):
        return "alphabet: " + visible("".join(tokenizer.vocabulary()))
    if merges := tokenizer.merges():
        shown = ", ".join(f"{visible(a)!r}+{visible(b)!r}" for a, b in merges[:SHOWN_LEARNED])
        return f"first of {len(merges):,} merges, in the order learned: {shown}"
    if scores := tokenizer.scores():
        best = sorted((s for s in scores if s[0] not in tokenizer.special_tokens), key=lambda s: -s[1])
        return "most likely pieces: " + ", ".join(f"{visible(p)!r} {s:.2f}" for p, s in best[:SHOWN_LEARNED])
    longest = sorted(tokenizer.vocabulary(), key=len, reverse=True)[:SHOWN_LEARNED]
    return "longest tokens: " + ", ".join(repr(visible(t)) for t in longest)


def format_tokenizer_reports(reports: list[TokenizerReport]) -> str:
    lines = [f"{'kind':<16}{'vocabulary':>11}{'chars/token':>13}{'unknown':>10}"]
    for r in reports:
        lines.append(f"{r.kind:<16}{r.vocab_size:>11,}{r.chars_per_token:>13.2f}{r.unknown_rate:>10.2%}")
    lines.append(f"measured on {reports[0].held_out_chars:,} held-out characters" if reports else "")
    return "\n".join(lines)


def format_pipeline(result: PipelineResult, block_size: int) -> str:
    lines = [f"cache: {result.cache}",
             f"{'step':<13}{'status':<10}{'in':>10}{'out':>10}{'seconds':>9}  removed"]
    for step in result.steps:
        removed = ", ".join(f"{count:,} {rule}" for rule, count in step.removed.items())
        seconds = f"{step.seconds:.1f}" if step.status == "ran" else "-"
        lines.append(f"{step.name:<13}{step.status:<10}{step.documents_in:>10,}{step.documents_out:>10,}"
                     f"{seconds:>9}  {removed}")
    read, tokenize = result.steps[0].details, result.steps[-1].details
    lines.append(f"read {read['files']:,} file(s) ({read['empty_files']:,} empty), {read['bytes']:,} bytes, "
                 f"{read['characters']:,} characters")
    for split in ("train", "val"):
        tokens = tokenize[f"{split}_tokens"]
        lines.append(f"{split}: {tokenize[f'{split}_documents']:,} documents, {tokens:,} tokens "
                     f"= {max(tokens - 1, 0) // block_size:,} blocks of {block_size}")
    total = tokenize["train_tokens"] + tokenize["val_tokens"]
    lines.append(f"unknown tokens: {tokenize['unknown_tokens']:,} ({tokenize['unknown_tokens'] / max(total, 1):.3%})")
    lines.extend(_examples(result.steps))
    return "\n".join(lines)


def _examples(steps: list[StepReport]) -> list[str]:
    lines = []
    for step in steps:
        for rule, examples in step.examples.items():
            for example in examples:
                copy = f" (copy of {example['duplicate_of']})" if "duplicate_of" in example else ""
                text = visible(example["text"])
                lines.append(f"  {step.name}/{rule}: {example['origin']}{copy}: "
                             f"{text[:80]}{'…' if len(text) > 80 else ''}")
    return ["examples of what was removed:", *lines] if lines else []


class ProgressLine:
    """One line redrawn in place on a terminal; otherwise a plain line per step and per tenth done."""

    def __init__(self, stream: TextIO | None = None, interactive: bool | None = None):
        self.stream = stream or sys.stdout  # looked up now, not at import, so a redirected stdout is honoured
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._last: tuple[str, int] = ("", -1)  # (step, tenth) last printed when not interactive
        self._drawn = 0.0

    def show(self, progress: Progress) -> None:
        amount = f"{progress.done:,} {progress.unit}"
        if progress.total:
            share = min(progress.done / progress.total, 1.0)
            amount = f"{share:6.1%}  {amount} of {progress.total:,}"
        if self.interactive:
            if time.monotonic() - self._drawn >= 0.1:
                self.stream.write(f"\r\033[K{progress.step:<12} {amount}")
                self.stream.flush()
                self._drawn = time.monotonic()
            return
        tenth = int(10 * progress.done / progress.total) if progress.total else progress.done // 100_000
        if (progress.step, tenth) != self._last:
            self.stream.write(f"{progress.step:<12} {amount}\n")
            self.stream.flush()
            self._last = (progress.step, tenth)

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\r\033[K")
            self.stream.flush()
