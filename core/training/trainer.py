"""The training loop: an objective's batches (core/training/objectives.py), a chosen optimizer and
schedule, gradient clipping and accumulation, mixed precision, activation checkpointing, DDP or FSDP2,
and a guard (core/training/guard.py) that never applies a non-finite gradient and never keeps weights
it has judged bad: a NaN/inf loss or gradient norm, or a loss spike, stops the run or skips the step;
the checkpoints that hold the weights behind such a step are marked bad, and a checkpoint whose
weights are not all finite is never written.

It reports each logged step to a callback (the CLI's progress bar), writes the run folder the
window tails, checks for a stop request every step, and can resume from the latest checkpoint
with the same batches and the same learning rates as an uninterrupted run.
"""

import contextlib
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from workbench.core.compiler import CompileError
from workbench.core.project import Project, ProjectError
from workbench.core.summary import summarize
from workbench.core.training.config import TrainConfig
from workbench.core.training.expert_load import expert_metrics
from workbench.core.training.run_export import TensorBoardError, tensorboard_log
from workbench.core.training.runs import RunFolder, RunFolderError, load_checkpoint
from workbench.core.training.guard import SpikeDetector, nonfinite_count
from workbench.core.training.distributed import (any_across, full_state_dict, join_cluster, load_optimizer_state, mean_across,
                                       optimizer_state, weight_checksums, wrap_model)
from workbench.core.training.memory import peak_memory_mb, recompute_layers
from workbench.core.training.observer import Observer
from workbench.core.training.mesh import MeshError, MeshModel, load_sharded, plan_layout, save_sharded
from workbench.core.training.rank_memory import gather_held, held_bytes
from workbench.core.training.objectives import ObjectiveError, input_kinds, make_objective, model_arguments
from workbench.core.training.optim import make_optimizer
from workbench.core.training.schedule import learning_rate
from workbench.core.training.transfer import TransferError, transfer_weights
from workbench.core.tuning import parameter_counts


class TrainingError(RuntimeError):
    pass


@dataclass
class StepReport:
    step: int
    steps: int
    loss: float
    lr: float
    tokens_per_s: float
    grad_norm: float
    elapsed: float
    val_loss: float | None = None
    val_accuracy: float | None = None  # classification only: share of validation passages classified right


def start_run(project: Project, run_dir: Path, command: list[str], steps: int | None = None) -> "Trainer":
    config = project.train.replace(steps=steps) if steps else project.train
    project.check()
    cluster = join_cluster(_device_type(config))
    if cluster.is_main:
        run = RunFolder.create(run_dir, project.to_dict(), config.to_dict(), command)
        run.log(f"new run of {project.name!r}: {config.steps} steps" +
                (f" on {cluster.world_size} processes ({config.distributed})" if cluster.active else ""))
    if cluster.active:
        torch.distributed.barrier()  # the folder exists before the other ranks open it
    if not cluster.is_main:
        run = RunFolder.open(run_dir)
        run.muted = True
    try:
        return Trainer(project, run, config)
    except Exception as exc:  # the folder exists now: it must say why nothing trained
        run.set_status("failed", str(exc))
        run.log(f"failed before the first step: {exc}")
        run.release_lock()
        raise


def _device_type(config: TrainConfig) -> str:
    return "cuda" if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()) else "cpu"


def resume_run(run_dir: Path, steps: int | None = None, overrides: dict | None = None) -> "Trainer":
    """Continue a run from its last good checkpoint; RunFolderError when another process is writing it
    or it has no good checkpoint."""
    run = RunFolder.open(run_dir)
    try:
        project = Project.from_dict(run.info["project"])
        config = TrainConfig.from_dict(run.info["config"])
    except (ProjectError, ValueError) as exc:
        raise RunFolderError(f"{run.path}/run.json: {exc}") from None
    if steps or overrides:
        config = TrainConfig.from_dict({**config.to_dict(), **(overrides or {}), **({"steps": steps} if steps else {})})
    if overrides:  # --set batch_size=1e9 on resume is refused with the number, as on a new run
        project.train = config
        try:
            project.check_memory()
        except ProjectError as exc:
            raise RunFolderError(f"cannot resume {run.path.name} with these settings: {exc}") from None
    run.muted = not join_cluster(_device_type(config)).is_main
    if not run.muted:  # rank 0 writes the folder for all ranks, so it alone holds the lock
        run = RunFolder.open_for_writing(run_dir)
    run.info["config"] = config.to_dict()
    try:
        checkpoint = run.latest_checkpoint()
        if checkpoint is None:
            raise RunFolderError(f"cannot resume: {run.no_good_checkpoint()}")
        run.clear_stop()
        return Trainer(project, run, config, resume_from=checkpoint)
    except BaseException:
        run.release_lock()
        raise


class Trainer:
    def __init__(self, project: Project, run: RunFolder, config: TrainConfig, resume_from: Path | None = None):
        self.project, self.run, self.config = project, run, config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = torch.device(_device_type(config))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise TrainingError("device is set to cuda but no CUDA GPU is available")
        self.cluster = join_cluster(self.device.type)
        if self.cluster.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.cluster.local_rank)
            torch.cuda.set_device(self.device)
        if config.tensor_parallel * config.pipeline_parallel == 1 and (
                config.batch_size % (self.cluster.world_size * config.grad_accumulation)):
            raise TrainingError(f"batch_size {config.batch_size} must divide into {self.cluster.world_size} process(es) "
                                f"× {config.grad_accumulation} micro-batch(es)")
        torch.manual_seed(config.seed)
        try:
            self.compiled = project.compile()  # with the project's weights, if it has any
        except CompileError as exc:
            raise TrainingError(f"the graph does not compile: {exc}") from None
        if self.compiled.training_module is None:
            raise TrainingError("the graph has no loss node, so there is nothing to train")
        try:  # tensor and pipeline parallel (core/training/mesh.py); plain data parallel stays DDP/FSDP
            self.layout = plan_layout(config, self.cluster.world_size, self.compiled.training_module)
        except MeshError as exc:
            raise TrainingError(str(exc)) from None
        if self.layout.active:
            run.log(f"mesh: {self.layout.describe()}")
        self.mesh_model = None
        # With tokens/s in metrics.jsonl, this gives the machine's speed for the next run's estimate.
        self.run.info["training_flops_per_token"] = summarize(project.graph, self.compiled).training_flops_per_token
        if config.init_from and resume_from is None:  # a resumed run's checkpoint holds its weights
            try:
                transferred = transfer_weights(self.compiled.training_module, config.init_from)
            except TransferError as exc:
                raise TrainingError(str(exc)) from None
            for line in transferred.lines():
                self.run.log(line)
        # On a mesh the model stays in host memory until MeshModel has cut it: each GPU then receives only
        # its own shard and stage, never the whole model.
        plain = self.compiled.training_module if self.layout.active else self.compiled.training_module.to(self.device)
        trainable, total = parameter_counts(plain)
        if not trainable:
            raise TrainingError("every weight is frozen, so there is nothing to train: unfreeze a block or add LoRA")
        run.log(f"training {trainable:,} of {total:,} parameters ({trainable / total:.2%})")
        self._aliases = _alias_names(plain)
        try:
            self.objective = make_objective(project, config, self.compiled)
        except ObjectiveError as exc:
            raise TrainingError(str(exc)) from None
        self._kinds = input_kinds(project.graph, self.compiled.training_input_names)  # what each argument is
        if self.layout.active and "val_accuracy" in self.objective.metrics:
            raise TrainingError(f"the {config.objective} objective's accuracy needs whole logits on one process: "
                                "set tensor_parallel=1 and pipeline_parallel=1")
        self.step = 0
        self.elapsed_before = 0.0  # seconds trained before a resume, so `elapsed` keeps counting
        self._started = time.perf_counter()
        self._stop_signalled = False
        self._detector = SpikeDetector(config.spike_factor)
        self._skipped = 0  # steps skipped so far (skip mode), resumed runs included
        self._held: dict | None = None  # this rank's measured bytes, under torchrun (rank_memory.py)
        # The step whose update made the current weights (0: as initialised or resumed); a problem at a
        # later step indicts these weights, and so every checkpoint taken since then.
        self._weights_step = 0
        self._refusal = ""  # why the last checkpoint was not written (its weights were not all finite)
        # Samples and attention snapshots. Under FSDP, tensor or pipeline parallel no rank holds the whole
        # model: rank 0 observes a whole copy it gathers from every rank's shards (observer.py).
        sharded = self.cluster.active and config.distributed == "fsdp" or self.layout.active
        self.observer = Observer(project, self.compiled, self.objective, config, self.cluster.is_main,
                                 self._whole_weights if sharded else None)
        saved = self._restore_weights(resume_from) if resume_from is not None else None
        try:
            self.board = tensorboard_log(run.path, config.to_dict(), self.step,
                                         config.tensorboard and self.cluster.is_main)
        except TensorBoardError as exc:
            raise TrainingError(str(exc)) from None
        if config.activation_checkpointing:
            recompute_layers(plain)
        if self.layout.active:
            first = model_arguments(self.objective.batch(0, "train"), self._kinds)
            example = [t if t is None else t[:1] for t in first]
            self.mesh_model = MeshModel(plain, self.layout, example, self.device)
            self.model = self.mesh_model.module
        else:
            self.model = wrap_model(plain, self.cluster, config.distributed, self.device)
        if config.compile:
            self.model = torch.compile(self.model)
        self.optimizer = make_optimizer(self.model, config.optimizer, lr=config.learning_rate,
                                        betas=(config.beta1, config.beta2), weight_decay=config.weight_decay,
                                        momentum=config.beta1, offload=config.offload_optimizer)
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision)
        # fp16's narrow range underflows small gradients; scaling the loss keeps them representable.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        if saved is not None and (resume_from / "distributed").is_dir():  # saved on a mesh: any layout reads it
            load_sharded(resume_from / "distributed", self.model, self.optimizer)
        elif saved is not None and self.layout.active:
            raise TrainingError(f"{resume_from.name} was saved without tensor/pipeline parallel: resume it with "
                                "tensor_parallel=1 and pipeline_parallel=1")
        elif saved is not None:
            load_optimizer_state(self.model, self.optimizer, saved["optimizer"], self.cluster, config.distributed)
            if "scaler" in saved:
                self.scaler.load_state_dict(saved["scaler"])

    def _restore_weights(self, checkpoint: Path) -> dict:
        saved, state = load_checkpoint(checkpoint, self.compiled.training_module)
        torch.set_rng_state(saved["torch_rng"])
        self.step = state["step"]
        self.elapsed_before = state.get("elapsed", 0.0)
        self._detector = SpikeDetector(self.config.spike_factor, state.get("recent_losses", ()))
        self._skipped = state.get("skipped_steps", 0)
        self._weights_step = self.step
        self.run.truncate_after(self.step)
        self.run.log(f"resumed from step {self.step}")
        return saved

    # ----- the loop -----

    def train(self, on_report: Callable[[StepReport], None] | None = None) -> str:
        """Run to the configured step count or a stop request; returns the final status."""
        config, run = self.config, self.run
        previous = _install_stop_handlers(self)
        run.set_status("running", step=self.step)
        started = time.perf_counter() - self.elapsed_before
        self._started = started
        window_start, window_tokens = time.perf_counter(), 0
        try:
            while self.step < config.steps:
                loss, lr, grad_norm, problem = self._train_step(self.step)
                self.step += 1
                window_tokens += self.objective.tokens_per_batch
                if problem:
                    self._distrust_weights(problem)
                if problem and config.on_nonfinite == "stop":
                    return self._diverged(f"{problem} at step {self.step}")
                if problem:
                    self._skipped += 1
                    run.log(f"skipped step {self.step}: {problem}")
                    if self._skipped > config.max_skipped_steps:
                        return self._diverged(f"{self._skipped} steps skipped, more than max_skipped_steps "
                                              f"({config.max_skipped_steps}); at step {self.step}: {problem}")
                if self.step % config.log_every == 0 or self.step == config.steps:
                    now = time.perf_counter()
                    report = StepReport(self.step, config.steps, loss, lr, window_tokens / max(now - window_start, 1e-9),
                                        grad_norm, now - started)
                    routing = expert_metrics(self.model)  # the training batch's, before evaluation routes others
                    if self.step % config.eval_every == 0 or self.step == config.steps:
                        report.val_loss, report.val_accuracy = self.evaluate()
                    row = self._metrics_row(report, self._skipped) | routing
                    if report.val_loss is not None:
                        row |= self.evaluate_sources()
                    run.append_metrics(row)
                    self.board.metrics(row)
                    if on_report and self.cluster.is_main:
                        on_report(report)
                    window_start, window_tokens = time.perf_counter(), 0
                self.observer.observe(self.step, run, self.board, self._autocast)
                if self.step % config.checkpoint_every == 0 and not self.checkpoint():
                    return self._diverged(self._refusal)
                if any_across(self._stop_signalled or run.stop_requested(), self.cluster):
                    if not self.checkpoint():
                        return self._diverged(self._refusal)
                    run.clear_stop()
                    run.set_status("stopped", f"stopped at step {self.step}", step=self.step)
                    run.log(f"stopped at step {self.step}")
                    return "stopped"
            if not self.checkpoint():
                return self._diverged(self._refusal)
            if self.mesh_model:
                run.info["rank_checksums"] = self.mesh_model.checksums()
            elif self.cluster.active:
                run.info["rank_checksums"] = weight_checksums(self.model, self.cluster, config.distributed)
            if self.cluster.active:
                run.info["rank_memory"] = gather_held(self._held, self.cluster)
            run.set_status("finished", step=self.step)
            run.log(f"finished {self.step} steps in {time.perf_counter() - started:.1f} s")
            return "finished"
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _restore_stop_handlers(previous)
            run.release_lock()

    def _train_step(self, index: int) -> tuple[float, float, float, str]:
        """One optimizer step on one batch, cut into `grad_accumulation` micro-batches whose
        gradients add up to the whole batch's; returns the loss (averaged
        over ranks), the learning rate, the gradient norm, and a problem ('' when healthy)."""
        c = self.config
        lr = learning_rate(index, schedule=c.schedule, peak=c.learning_rate, floor=c.min_learning_rate,
                           warmup=c.warmup_steps, total=c.steps, decay_fraction=c.decay_fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        arguments = self._my_arguments(self.objective.batch(index, "train"))
        if self.mesh_model:
            return self._mesh_step(arguments, lr)
        total = 0.0
        for micro, inputs in enumerate(_micro_batches(arguments, c.grad_accumulation)):
            with self._no_sync(skip=micro == c.grad_accumulation - 1), self._autocast():
                _, loss = self.model(*inputs)
            self.scaler.scale(loss / c.grad_accumulation).backward()
            total += loss.item() / c.grad_accumulation
        self.scaler.unscale_(self.optimizer)
        clip = c.grad_clip if c.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip).item()
        total = mean_across(total, self.cluster)
        problem = self._check(total, grad_norm)
        if not problem:
            # Under fp16, GradScaler's step skips an update whose gradients overflowed and update()
            # lowers the scale: that is its normal working, not a problem.
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if math.isfinite(grad_norm):
                self._weights_step = index + 1
        if self.cluster.active and self._held is None and not problem:  # weights, gradients, state all alive
            self._held = held_bytes(self.model, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)  # a problem step's gradients are dropped, never applied
        return total, lr, grad_norm, problem

    def _mesh_step(self, arguments: list, lr: float) -> tuple[float, float, float, str]:
        """`_train_step` on a tensor/pipeline-parallel mesh: the pipeline cuts micro-batches itself."""
        c = self.config
        total = 0.0
        for inputs in _micro_batches(arguments, c.grad_accumulation):
            with self._autocast():
                total += self.mesh_model.forward_backward(inputs, 1 / c.grad_accumulation) / c.grad_accumulation
        grad_norm = self.mesh_model.finish_gradients(c.grad_clip)
        total = mean_across(total, self.cluster)
        problem = self._check(total, grad_norm)
        if not problem:
            self.optimizer.step()
            if math.isfinite(grad_norm):
                self._weights_step = self.step + 1
        if self._held is None and not problem:  # this rank's shard of weights, gradients and state
            self._held = held_bytes(self.model, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        return total, lr, grad_norm, problem

    def _check(self, loss: float, grad_norm: float) -> str:
        """Why this step must not be applied, or ''. The detector sees every finite loss, skipped or not."""
        if not math.isfinite(loss):
            return f"the loss became {loss}"
        spike = self._detector.check(loss)
        if spike:
            return spike
        if not math.isfinite(grad_norm) and not self.scaler.is_enabled():
            return f"the gradient norm became {grad_norm} (loss {loss:.3f})"
        return ""

    def _distrust_weights(self, problem: str) -> None:
        """A bad loss or gradient at this step comes from the weights it ran on: mark bad every
        checkpoint holding them (those taken since the update that made them)."""
        for step, _, state in self.run.all_checkpoints():
            if step >= self._weights_step and state.get("good", True):
                self.run.mark_bad(step, f"at step {self.step}, {problem}")
                self.run.log(f"checkpoint of step {step} marked bad: step {self.step} ran on its weights and {problem}")

    def _my_arguments(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor | None]:
        """The forward's arguments for this rank's share of a global batch (all of it when training alone)."""
        parts, mine = self.cluster.world_size, self.cluster.rank
        if self.mesh_model:  # replicas split the batch; tensor and pipeline ranks of one replica share its rows
            parts, mine = self.layout.data, self.mesh_model.dp_rank
        return [t if t is None else t.chunk(parts)[mine].to(self.device) for t in model_arguments(batch, self._kinds)]

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _no_sync(self, skip: bool):
        """DDP would all-reduce gradients after every backward; between micro-batches it need not."""
        if skip or not hasattr(self.model, "no_sync"):
            return contextlib.nullcontext()
        return self.model.no_sync()

    def _metrics_row(self, report: StepReport, skipped: int) -> dict:
        row = {k: v for k, v in vars(report).items() if v is not None and k != "steps"}
        row["perplexity"] = math.exp(min(report.loss, 50.0))
        if report.val_loss is not None:
            row["val_perplexity"] = math.exp(min(report.val_loss, 50.0))
        row["memory_mb"] = peak_memory_mb(self.device)
        if skipped:
            row["skipped_steps"] = skipped
        return row

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float | None]:
        """The validation loss and, for an objective that reports val_accuracy, the accuracy."""
        self.model.eval()
        losses, right, seen = [], 0, 0
        for index in range(self.config.eval_batches):
            arguments = self._my_arguments(self.objective.batch(index, "val"))
            if self.mesh_model:
                with self._autocast():
                    losses.append(self.mesh_model.evaluate(arguments))
                continue
            with self._autocast():
                logits, loss = self.model(*arguments)
            losses.append(loss.item())
            if "val_accuracy" in self.objective.metrics:  # the objective reports it (classification)
                right += (logits.argmax(-1) == arguments[self._kinds.index("targets")]).sum().item()
                seen += logits.shape[0]
        accuracy = mean_across(right / seen, self.cluster) if seen else None
        return mean_across(sum(losses) / len(losses), self.cluster), accuracy

    @torch.no_grad()
    def evaluate_sources(self) -> dict[str, float]:
        """"val_loss/NAME" per source of a corpus of several (the objective's "val/NAME" samplers), each
        on that source's held-out documents only: what a mixture's weights buy each source (issue #20)."""
        self.model.eval()
        losses = {}
        for split in [s for s in getattr(self.objective, "samplers", {}) if s.startswith("val/")]:
            total = 0.0
            for index in range(self.config.eval_batches):
                arguments = self._my_arguments(self.objective.batch(index, split))
                with self._autocast():
                    total += (self.mesh_model.evaluate(arguments) if self.mesh_model else
                              self.model(*arguments)[1].item())
            losses[f"val_loss/{split[4:]}"] = mean_across(total / self.config.eval_batches, self.cluster)
        return losses

    def _whole_weights(self) -> dict[str, torch.Tensor]:
        """Every weight, unsharded (a collective when sharded: every rank must call it)."""
        if self.mesh_model:
            return self.mesh_model.full_state_dict()
        return full_state_dict(self.model, self.cluster, self.config.distributed)

    def checkpoint(self) -> bool:
        """Write a checkpoint of the current weights; False, writing nothing, when some are not finite."""
        weights = {name: tensor for name, tensor in self._whole_weights().items() if name not in self._aliases}
        bad, total = nonfinite_count(weights.values())
        if any_across(bad > 0, self.cluster):
            self._refusal = f"{bad:,} of {total:,} weights are NaN or infinite at step {self.step}"
            self.run.log(f"checkpoint of step {self.step} not written: {self._refusal}")
            return False
        shards = None
        if self.mesh_model:  # every rank writes its shards; rank 0 moves them into the checkpoint
            shards = self.run.path / "checkpoints" / f".shards_{self.step:06d}"
            save_sharded(shards, self.model, self.optimizer)
            torch.distributed.barrier()
        optimizer = {} if shards else optimizer_state(self.model, self.optimizer, self.cluster, self.config.distributed)
        saved = {"optimizer": optimizer, "torch_rng": torch.get_rng_state(), "scaler": self.scaler.state_dict()}
        state = {"seed": self.config.seed, "elapsed": time.perf_counter() - self._started,
                 "recent_losses": self._detector.state(), "skipped_steps": self._skipped}
        self.run.save_checkpoint(self.step, weights, saved, state, shards=shards)
        if shards:
            torch.distributed.barrier()  # the shards are in place before any rank reads or rewrites them
        self.run.set_status("running", step=self.step)
        return True

    def _diverged(self, message: str) -> str:
        """End the run as diverged, saying which checkpoint (if any) is still good."""
        good = self.run.checkpoints()
        kept = (f"the last good checkpoint (step {good[-1][0]}) is kept" if good else
                "no checkpoint is good to resume from: start a new run, e.g. with a lower learning_rate")
        self.run.set_status("diverged", f"{message}; {kept}", step=self.step)
        self.run.log(f"diverged: {message}; {kept}")
        return "diverged"

    def _fail(self, message: str) -> str:
        self.run.set_status("failed", message, step=self.step)
        self.run.log(f"failed: {message}")
        return "failed"


def _micro_batches(arguments: list[torch.Tensor | None], count: int) -> list[list[torch.Tensor | None]]:
    """The arguments cut into `count` micro-batches along the batch dimension; None stays None."""
    pieces = [[None] * count if t is None else t.chunk(count) for t in arguments]
    return [list(micro) for micro in zip(*pieces, strict=True)]


def _alias_names(model: torch.nn.Module) -> set[str]:
    """State-dict names that repeat an earlier name's tensor (tied weights): stored once."""
    seen, aliases = set(), set()
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:
            aliases.add(name)
        seen.add(id(tensor))
    return aliases


def _install_stop_handlers(trainer: Trainer):
    """Ctrl+C and SIGTERM ask for a checkpoint and a clean exit at the end of the current step."""

    def handler(signum, frame):
        trainer._stop_signalled = True

    try:
        return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (e.g. a test runner's worker): rely on the STOP file
        return {}


def _restore_stop_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
