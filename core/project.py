"""A project file: the graph, the corpus it trains on, the tokenizer and the training settings.

Paths inside the file are stored relative to the file, so a project folder can move; loading
any part that is broken raises ProjectError naming the file and the part.
"""

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.compiler import model_context
from core.data.tokenizers import CharTokenizer, TokenizerError, tokenizer_from_dict
from core.graph import Graph, GraphFileError
from core.graph_io import graph_from_dict, read_json
from core.shapes import ShapeError
from core.training.config import ConfigError, TrainConfig

FORMAT = 1
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_PROJECT = ASSETS / "presets" / "gpt-tiny.json"


class ProjectError(ValueError):
    pass


@dataclass
class DataSettings:
    corpus: Path  # absolute path to a UTF-8 text file
    val_fraction: float = 0.1  # tail of the corpus held out for validation loss


@dataclass
class Project:
    name: str
    graph: Graph
    tokenizer: CharTokenizer
    data: DataSettings
    train: TrainConfig = field(default_factory=TrainConfig)
    path: Path | None = None  # where it was loaded from or last saved

    # ----- files -----

    @classmethod
    def load(cls, path: str | Path) -> "Project":
        path = Path(path).resolve()
        try:
            raw = read_json(path)
        except GraphFileError as exc:
            raise ProjectError(str(exc)) from None
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: dict, path: Path | None = None) -> "Project":
        where = str(path) if path else "project"
        if raw.get("format") != FORMAT or "graph" not in raw:
            raise ProjectError(f"{where}: not a Transformer Workbench project (needs 'format': {FORMAT} and a 'graph')")
        try:
            graph = graph_from_dict(raw["graph"])
        except GraphFileError as exc:
            raise ProjectError(f"{where}: {exc}") from None
        try:
            tokenizer = tokenizer_from_dict(raw.get("tokenizer", {}))
        except TokenizerError as exc:
            raise ProjectError(f"{where}: tokenizer: {exc}") from None
        try:
            train = TrainConfig.from_dict(raw.get("train", {}))
        except (ConfigError, TypeError) as exc:
            raise ProjectError(f"{where}: train: {exc}") from None
        data_raw = raw.get("data", {})
        if not isinstance(data_raw.get("corpus"), str):
            raise ProjectError(f"{where}: data: 'corpus' must name a text file")
        base = path.parent if path else Path.cwd()
        data = DataSettings((base / data_raw["corpus"]).resolve(), float(data_raw.get("val_fraction", 0.1)))
        if not 0 < data.val_fraction < 1:
            raise ProjectError(f"{where}: data: val_fraction must be between 0 and 1, got {data.val_fraction}")
        return cls(str(raw.get("name", path.stem if path else "project")), graph, tokenizer, data, train, path)

    def to_dict(self, relative_to: Path | None = None) -> dict:
        corpus = self.data.corpus
        if relative_to is not None:
            corpus = Path(os.path.relpath(corpus, relative_to))
        return {
            "format": FORMAT,
            "name": self.name,
            "graph": self.graph.to_dict(),
            "data": {"corpus": corpus.as_posix(), "val_fraction": self.data.val_fraction},
            "tokenizer": self.tokenizer.to_dict(),
            "train": self.train.to_dict(),
        }

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically (temp file + rename) so a crash mid-save never leaves half a project."""
        target = Path(path or self.path).resolve()
        text = json.dumps(self.to_dict(relative_to=target.parent), indent=2) + "\n"
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, target)
        self.path = target
        return target

    # ----- checks and data -----

    def check(self) -> None:
        """Problems that would stop training, as one ProjectError."""
        try:
            ctx = model_context(self.graph)
        except ShapeError as exc:
            raise ProjectError(str(exc)) from None
        if ctx.vocab_size != self.tokenizer.vocab_size:
            raise ProjectError(
                f"the tokenizer has {self.tokenizer.vocab_size} tokens but the Token input node declares "
                f"vocab_size {ctx.vocab_size}; set vocab_size to {self.tokenizer.vocab_size}"
            )
        if not self.data.corpus.is_file():
            raise ProjectError(f"corpus file not found: {self.data.corpus}")

    def load_tokens(self) -> torch.Tensor:
        self.check()
        try:
            text = self.data.corpus.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{self.data.corpus}: not UTF-8 text (bad byte at offset {exc.start})") from None
        if not text:
            raise ProjectError(f"{self.data.corpus}: the corpus is empty")
        try:
            return torch.tensor(self.tokenizer.encode(text), dtype=torch.int32)
        except TokenizerError as exc:
            raise ProjectError(f"{self.data.corpus}: {exc}") from None


def load_project(path: str | Path | None = None) -> Project:
    return Project.load(path or DEFAULT_PROJECT)
