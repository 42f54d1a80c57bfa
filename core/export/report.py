"""What an export found: one row per check, as `main.py export` prints it and the Export dialog shows it.

Every format that can be run is run again after it is written and compared with the app's own
PyTorch model; a difference above the format's tolerance is an error, never a warning.
"""

from dataclasses import dataclass, field
from pathlib import Path


class ExportError(ValueError):
    """An export that cannot be made; the message names the node (path like 'layers/attn') when one is to blame."""


class ParityError(ExportError):
    """A written file that runs but does not compute what the app computes."""

    def __init__(self, message: str, diffs: dict[int, float]):
        super().__init__(message)
        self.diffs = diffs


@dataclass
class Check:
    format: str  # "ONNX", "ONNX step", "safetensors" or "Python"
    check: str  # what was compared with what
    path: Path | None = None  # the file written, when it was
    diffs: dict[int, float] = field(default_factory=dict)  # sequence length -> largest |difference|
    tolerance: float = 0.0
    error: str = ""  # empty when the check passed

    @property
    def ok(self) -> bool:
        return not self.error

    def describe(self) -> str:
        """One line: 'ONNX  onnxruntime vs PyTorch  T=1: 3.0e-07  T=8: 4.2e-07  ok'."""
        numbers = "  ".join(f"T={length}: {diff:.1e}" for length, diff in self.diffs.items())
        verdict = f"error: {self.error}" if self.error else "ok"
        return "  ".join(part for part in (f"{self.format:<12}", f"{self.check:<36}", numbers, verdict) if part)


@dataclass
class ExportReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def largest_difference(self) -> float:
        return max((d for check in self.checks for d in check.diffs.values()), default=0.0)

    def text(self) -> str:
        return "\n".join(check.describe() for check in self.checks)
