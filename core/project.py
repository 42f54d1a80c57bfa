"""A project file: the graph, the corpus it trains on, the tokenizer and the training settings.

Paths inside the file are stored relative to the file, so a project folder can move; loading
any part that is broken raises ProjectError naming the file and the part.

Without a data.pipeline section the corpus is one text file, tokenized once into a memory-mapped
cache in the runs folder (core/data/text_tokens.py) and split at its tail.
With one, the corpus (files, folders, JSONL) goes through the cleaning pipeline (core/data/
pipeline.py) into memory-mapped token files in a cache folder beside the project, NAME.data/.
"""

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from workbench.core.atomic import write_atomic
from workbench.core.budget import BudgetError, check_training_fits, check_weights_fit, model_budget
from workbench.core.compiler import CompiledModel, compile_graph, model_context
from workbench.core.data.batching import PACKINGS, split_train_val
from workbench.core.data.pipeline import CleanCorpus, DataPipeline, Progress
from workbench.core.data.pipeline_config import DataError, PipelineConfig
from workbench.core.data.sources import text_file_paragraphs
from workbench.core.data.text_tokens import text_file_tokens
from workbench.core.data.tokenizers import ProjectTokenizer, TokenizerError, tokenizer_from_dict
from workbench.core.graph import Graph, GraphFileError
from workbench.core.graph_io import graph_from_dict, read_json
from workbench.core.paths import PathError, confine_output
from workbench.core.project_schema import SchemaError, check_data_section, check_project_file
from workbench.core.shapes import ShapeError
from workbench.core.training.config import ConfigError, TrainConfig
from workbench.core.training.runs import runs_folder

FORMAT = 1
ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_PROJECT = ASSETS / "presets" / "gpt-tiny.json"
PRESET_DATA_CACHE = ".preset-data"  # in the runs folder: the cleaned data of bundled presets
TOKEN_CACHE = ".token-cache"  # in the runs folder: corpus files of projects without a pipeline, tokenized


class ProjectError(ValueError):
    pass


@dataclass
class DataSettings:
    corpus: Path  # absolute path: a UTF-8 text file, or with a pipeline also a folder or a JSONL file
    val_fraction: float = 0.1  # held out for validation: the corpus's tail, or with a pipeline every n-th document
    more_corpora: tuple[Path, ...] = ()  # further files or folders the pipeline reads after `corpus`
    packing: str = "windows"  # how training blocks are cut from the token stream (core/data/batching.py)
    pipeline: PipelineConfig | None = None  # cleaning and token files; None trains on `corpus` as one text
    cache: Path | None = None  # the pipeline's folder, if not the default NAME.data beside the project file
    # a mixture (core/data/mixture.py): each source's share of training tokens, by source name (a corpus's
    # file or folder name, or its records' source_field); empty: blocks drawn from the whole stream
    weights: dict[str, float] = field(default_factory=dict)

    @property
    def corpora(self) -> tuple[Path, ...]:
        return (self.corpus, *self.more_corpora)

    @classmethod
    def from_dict(cls, raw: dict, base: Path) -> "DataSettings":
        if not isinstance(raw.get("corpus"), str):
            raise ProjectError("'corpus' must name a text file")
        more = raw.get("more_corpora", [])
        if not isinstance(more, list) or not all(isinstance(p, str) for p in more):
            raise ProjectError("'more_corpora' must be a list of paths")
        if not isinstance(raw.get("pipeline", {}), dict):
            raise ProjectError("'pipeline' must be an object of step settings ({} for the defaults)")
        pipeline = PipelineConfig.from_dict(raw["pipeline"]) if "pipeline" in raw else None
        cache = (base / raw["cache"]).resolve() if isinstance(raw.get("cache"), str) else None
        data = cls((base / raw["corpus"]).resolve(), float(raw.get("val_fraction", 0.1)),
                   tuple((base / p).resolve() for p in more), raw.get("packing", "windows"), pipeline, cache,
                   {str(k): float(v) for k, v in raw.get("weights", {}).items()})
        if data.weights and (pipeline is None or any(w < 0 for w in data.weights.values())
                             or not sum(data.weights.values()) > 0):
            raise ProjectError("weights need a data pipeline (add \"pipeline\": {}) and numbers 0 or more, "
                               f"not all 0; got {data.weights}")
        if not 0 < data.val_fraction < 1:
            raise ProjectError(f"val_fraction must be between 0 and 1, got {data.val_fraction}")
        if data.packing not in PACKINGS:
            raise ProjectError(f"packing must be one of {', '.join(PACKINGS)}, got {data.packing!r}")
        return data

    def to_dict(self, relative_to: Path | None) -> dict:
        data = {"corpus": _relative(self.corpus, relative_to), "val_fraction": self.val_fraction}
        if self.more_corpora:
            data["more_corpora"] = [_relative(p, relative_to) for p in self.more_corpora]
        if self.packing != "windows":
            data["packing"] = self.packing
        if self.pipeline is not None:
            data["pipeline"] = self.pipeline.to_dict()
        if self.cache is not None:
            data["cache"] = _relative(self.cache, relative_to)
        if self.weights:
            data["weights"] = dict(self.weights)
        return data


@dataclass
class Project:
    name: str
    graph: Graph
    tokenizer: ProjectTokenizer
    data: DataSettings
    train: TrainConfig = field(default_factory=TrainConfig)
    path: Path | None = None  # where it was loaded from or last saved
    weights: Path | None = None  # a safetensors file of weights to start from (e.g. imported from Hugging Face)

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
        try:
            check_project_file(raw, where)
        except SchemaError as exc:
            raise ProjectError(str(exc)) from None
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
        base = path.parent if path else Path.cwd()
        try:
            check_data_section(raw, where)
        except SchemaError as exc:
            raise ProjectError(str(exc)) from None
        try:
            data = DataSettings.from_dict(raw.get("data", {}), base)
        except (ProjectError, TypeError, ValueError) as exc:
            raise ProjectError(f"{where}: data: {exc}") from None
        if path is not None and data.cache is not None:
            # A file may read from anywhere but write only where it is (core/paths.py); snapshots
            # built in memory (path None: run.json, copies) hold paths this check passed before.
            try:
                confine_output(data.cache, [base, runs_folder()], "data.cache", where)
            except PathError as exc:
                raise ProjectError(str(exc)) from None
        weights = raw.get("weights")
        if weights is not None and not isinstance(weights, str):
            raise ProjectError(f"{where}: 'weights' must name a safetensors file")
        weights = (base / weights).resolve() if weights else None
        return cls(str(raw.get("name", path.stem if path else "project")), graph, tokenizer, data, train, path, weights)

    def to_dict(self, relative_to: Path | None = None) -> dict:
        """relative_to None gives a snapshot (run.json) with absolute paths, the cache folder included,
        so a resumed run finds the token files the run started with."""
        data = self.data.to_dict(relative_to)
        if relative_to is None and self.data.pipeline is not None and self.data_cache() is not None:
            data["cache"] = self.data_cache().as_posix()
        return {
            "format": FORMAT,
            "name": self.name,
            "graph": self.graph.to_dict(),
            "data": data,
            "tokenizer": self.tokenizer.to_dict(),
            "train": self.train.to_dict(),
            **({"weights": _relative(self.weights, relative_to)} if self.weights else {}),
        }

    def compile(self) -> CompiledModel:
        """The graph compiled, starting from the project's weights file when it names one."""
        compiled = compile_graph(self.graph)
        if self.weights is not None:
            if self.weights.is_dir():
                raise ProjectError(f"weights: {self.weights} is a folder; name a .safetensors file")
            if not self.weights.exists():
                raise ProjectError(f"weights file not found: {self.weights}")
            if not self.weights.is_file():  # /dev/zero or a pipe would be read without end
                raise ProjectError(f"weights: {self.weights} is not a regular file; name a .safetensors file")
            compiled.load_weights(self.weights)
        return compiled

    def save(self, path: str | Path | None = None) -> Path:
        """Write atomically, keeping the file's permissions (core/atomic.py), so a crash mid-save never
        leaves half a project."""
        target = Path(path or self.path).resolve()
        write_atomic(target, json.dumps(self.to_dict(relative_to=target.parent), indent=2) + "\n")
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
        self._check_corpus()

    def check_memory(self) -> None:
        """Refuse, before anything is allocated, a model or a training setting that cannot fit in
        the memory there is (core/budget.py), with the number; shape problems are check()'s."""
        budget = model_budget(self.graph)
        if budget is None:
            return
        try:
            check_weights_fit(budget)
            check_training_fits(budget, self.train)
        except BudgetError as exc:
            raise ProjectError(str(exc)) from None

    def _check_corpus(self) -> None:
        for corpus in self.data.corpora:
            if not corpus.exists():
                raise ProjectError(f"corpus file not found: {corpus}")
        if self.data.pipeline is None and (not self.data.corpus.is_file() or self.data.corpus.suffix == ".jsonl"):
            raise ProjectError(f"{self.data.corpus}: a folder or JSONL corpus is read through the data pipeline; "
                               f"add \"pipeline\": {{}} to the project's data section")

    def set_tokenizer(self, tokenizer: ProjectTokenizer) -> None:
        """Use `tokenizer`, and give the Token input node its vocabulary size so check() passes."""
        self.tokenizer = tokenizer
        for node in self.graph.nodes_with("token_input"):
            self.graph.set_param(node.id, "vocab_size", tokenizer.vocab_size)

    def load_tokens(self, on_progress: Callable[[Progress], None] | None = None) -> np.ndarray:
        """The whole corpus file as one token stream, for a project without a pipeline: encoded once
        in bounded pieces into a cache in the runs folder, then memory-mapped (core/data/text_tokens.py)."""
        self.check()
        report = on_progress or (lambda progress: None)
        try:
            return text_file_tokens(self.data.corpus, self.tokenizer, runs_folder() / TOKEN_CACHE,
                                    lambda done, total: report(Progress("tokenize", done, total, "bytes")))
        except DataError as exc:
            raise ProjectError(str(exc)) from None

    def token_splits(self, on_progress: Callable[[Progress], None] | None = None
                     ) -> tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]:
        """Training and validation tokens: the pipeline's memory-mapped token files (rebuilt where
        the corpus or a setting changed) when the project has a pipeline, else the tail split."""
        if self.data.pipeline is None:
            return split_train_val(self.load_tokens(on_progress), self.data.val_fraction)
        self.check()
        try:
            result = self.data_pipeline(on_progress=on_progress).run(self.tokenizer, self.data.val_fraction)
        except DataError as exc:
            raise ProjectError(str(exc)) from None
        return result.train.tokens, result.val.tokens

    def source_streams(self) -> tuple[dict, dict]:
        """(training, validation) token streams per source (core/data/mixture.py), from the pipeline's cache."""
        if self.data.pipeline is None:
            return {}, {}
        try:
            result = self.data_pipeline().run(self.tokenizer, self.data.val_fraction)
        except DataError as exc:
            raise ProjectError(str(exc)) from None
        return result.source_streams("train"), result.source_streams("val")

    def data_pipeline(self, cache: Path | None = None,
                      on_progress: Callable[[Progress], None] | None = None) -> DataPipeline:
        """The pipeline over this project's corpus; a project without a pipeline section gets the defaults."""
        cache = cache or self.data_cache()
        if cache is None:
            raise ProjectError("the project has not been saved, so its data pipeline has no cache folder; "
                               "save it first or set data.cache")
        return DataPipeline(self.data.corpora, self.data.pipeline or PipelineConfig(), cache, on_progress)

    def data_cache(self) -> Path | None:
        """The pipeline's folder: data.cache, else NAME.data beside the project file. A bundled preset's
        goes to the runs folder instead: the install folder is not the user's to write in."""
        if self.data.cache is not None or self.path is None:
            return self.data.cache
        if self.path.resolve().is_relative_to(ASSETS):
            return runs_folder() / PRESET_DATA_CACHE / self.path.with_suffix(".data").name
        return self.path.with_suffix(".data")

    def tokenizer_texts(self, held_out: bool, on_progress: Callable[[Progress], None] | None = None
                        ) -> Iterator[str]:
        """Texts to train a tokenizer on, or (held_out) to measure it on, split as training splits tokens."""
        if self.data.pipeline is None:
            self._check_corpus()
            return text_file_paragraphs(self.data.corpus, self.data.val_fraction, held_out)
        try:
            corpus: CleanCorpus = self.data_pipeline(on_progress=on_progress).clean()
        except DataError as exc:
            raise ProjectError(str(exc)) from None
        return corpus.texts(self.data.val_fraction, held_out)


def load_project(path: str | Path | None = None) -> Project:
    return Project.load(path or DEFAULT_PROJECT)


def _relative(path: Path, relative_to: Path | None) -> str:
    return (Path(os.path.relpath(path, relative_to)) if relative_to is not None else path).as_posix()
