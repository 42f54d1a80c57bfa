"""Start a model from another run's weights: pre-train, then fine-tune (e.g. masked LM on the corpus,
then the play-genre classifier).

Tensors load by name: a state-dict name is the path of node ids down to the parameter, such as
layers.2.attn.qkv.weight. So two graphs share the tensors of the nodes they share, ids and shapes
alike, and the rest (a new head, a resized embedding) keeps its fresh initialisation. The report
says which tensors loaded and why each other one did not.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from workbench.core.training.runs import RunFolder, RunFolderError

WEIGHTS = "model.safetensors"  # the weights file of a checkpoint folder


class TransferError(ValueError):
    pass


@dataclass(frozen=True)
class TransferReport:
    source: Path  # the safetensors file read
    loaded: tuple[str, ...]  # model tensors now holding the file's values (a tied tensor once)
    missing: tuple[str, ...]  # model tensors the file has no tensor for: they keep their initialisation
    mismatched: tuple[tuple[str, tuple, tuple], ...]  # (name, shape in the file, shape in the model)
    unused: tuple[str, ...]  # file tensors this model has no place for

    def lines(self) -> list[str]:
        """What a person reads in the run's log.txt."""
        lines = [f"initialised {len(self.loaded)} tensors from {self.source}"]
        if self.mismatched:
            lines.append("not loaded, shapes differ: " + ", ".join(
                f"{name} (file {list(saved)}, model {list(wanted)})" for name, saved, wanted in self.mismatched))
        if self.missing:
            lines.append("not in the file, kept their initialisation: " + ", ".join(self.missing))
        if self.unused:
            lines.append("in the file but not in this model: " + ", ".join(self.unused))
        return lines


def weights_file(source: str | Path) -> Path:
    """The safetensors file `source` names: a run folder (its last good checkpoint), a checkpoint
    folder, or the file itself."""
    path = Path(source).expanduser()
    if not path.exists():
        raise TransferError(f"init_from: {path} does not exist")
    if path.is_file():
        return path
    if (path / "run.json").is_file():
        try:
            run = RunFolder.open(path)
        except RunFolderError as exc:
            raise TransferError(f"init_from: {exc}") from None
        checkpoint = run.latest_checkpoint()  # the last good one: a diverged run's bad weights never spread
        if checkpoint is None:
            raise TransferError(f"init_from: {run.no_good_checkpoint()}")
        return checkpoint / WEIGHTS
    if (path / WEIGHTS).is_file():
        if not _marked_good(path):
            raise TransferError(f"init_from: {path} is a checkpoint marked bad (its run diverged there); name the "
                                f"run folder to start from its last good checkpoint")
        return path / WEIGHTS
    raise TransferError(f"init_from: {path} is neither a run folder, a checkpoint folder nor a .safetensors file")


def _marked_good(checkpoint: Path) -> bool:
    """Whether a checkpoint folder's state.json leaves its weights usable (core/training/runs.py)."""
    try:
        state = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # no state.json: a folder someone assembled, not a checkpoint the guard judged
    return not isinstance(state, dict) or state.get("good", True) is not False


@torch.no_grad()
def transfer_weights(model: torch.nn.Module, source: str | Path) -> TransferReport:
    """Copy every tensor of `source` whose name and shape match one of `model`'s; TransferError when
    the file cannot be read or not one tensor fits."""
    path = weights_file(source)
    try:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            loaded, missing, mismatched, used = [], [], [], set()
            for names, tensor in _tensors_by_identity(model):
                # A tied tensor has several names; a checkpoint stores it under the first only.
                found = [name for name in names if name in shapes]
                fitting = [name for name in found if shapes[name] == tuple(tensor.shape)]
                used.update(found)
                if fitting:
                    tensor.copy_(handle.get_tensor(fitting[0]).to(tensor.dtype))
                    loaded.append(names[0])
                elif found:
                    mismatched.append((found[0], shapes[found[0]], tuple(tensor.shape)))
                else:
                    missing.append(names[0])
    except (SafetensorError, OSError) as exc:
        raise TransferError(f"init_from: {path} is not a readable safetensors file ({exc})") from None
    report = TransferReport(path, tuple(loaded), tuple(missing), tuple(mismatched),
                            tuple(name for name in shapes if name not in used))
    if not loaded:
        raise TransferError(_nothing_fits(report, len(shapes)))
    return report


def _tensors_by_identity(model: torch.nn.Module) -> list[tuple[list[str], torch.Tensor]]:
    """Each distinct parameter or buffer with all the state-dict names it goes by, in order."""
    groups: dict[int, tuple[list[str], torch.Tensor]] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        groups.setdefault(id(tensor), ([], tensor))[0].append(name)
    return list(groups.values())


def _nothing_fits(report: TransferReport, held: int) -> str:
    why = [f"init_from: none of the {held} tensors in {report.source} fits this graph"]
    if report.mismatched:
        name, saved, wanted = report.mismatched[0]
        why.append(f"{len(report.mismatched)} share a name but not a shape (e.g. {name}: file {list(saved)}, "
                   f"model {list(wanted)}; widths, vocabulary and context length must match)")
    if report.unused:
        why.append(f"names differ (the file holds e.g. {', '.join(report.unused[:3])}; the model expects e.g. "
                   f"{', '.join(report.missing[:3])}): tensors load by node id, so shared parts need the same ids")
    return "; ".join(why)
