"""The training loop: causal-LM objective, AdamW with warmup + cosine, gradient clipping.

It reports each logged step to a callback (the CLI's progress bar), writes the run folder the
window tails, checks for a stop request every step, and can resume from the latest checkpoint
with the same batches and the same learning rates as an uninterrupted run.
"""

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from core.compiler import CompileError, compile_graph
from core.data.batching import BlockSampler, split_train_val
from core.decoding import sample
from core.project import Project, ProjectError
from core.training.config import TrainConfig
from core.training.runs import RunFolder, RunFolderError, load_checkpoint
from core.training.schedule import warmup_cosine


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


def start_run(project: Project, run_dir: Path, command: list[str], steps: int | None = None) -> "Trainer":
    config = project.train.replace(steps=steps) if steps else project.train
    project.check()
    run = RunFolder.create(run_dir, project.to_dict(), config.to_dict(), command)
    run.log(f"new run of {project.name!r}: {config.steps} steps")
    return Trainer(project, run, config)


def resume_run(run_dir: Path, steps: int | None = None) -> "Trainer":
    run = RunFolder.open(run_dir)
    try:
        project = Project.from_dict(run.info["project"])
        config = TrainConfig.from_dict(run.info["config"])
    except (ProjectError, ValueError) as exc:
        raise RunFolderError(f"{run.path}/run.json: {exc}") from None
    if steps:
        config = config.replace(steps=steps)
        run.info["config"] = config.to_dict()
    checkpoint = run.latest_checkpoint()
    if checkpoint is None:
        raise RunFolderError(f"{run.path} has no checkpoint to resume from")
    run.clear_stop()
    return Trainer(project, run, config, resume_from=checkpoint)


class Trainer:
    def __init__(self, project: Project, run: RunFolder, config: TrainConfig, resume_from: Path | None = None):
        self.project, self.run, self.config = project, run, config
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                                   "cpu" if config.device == "auto" else config.device)
        torch.manual_seed(config.seed)
        try:
            self.compiled = compile_graph(project.graph)
        except CompileError as exc:
            raise TrainingError(f"the graph does not compile: {exc}") from None
        if self.compiled.training_module is None:
            raise TrainingError("the graph has no loss node, so there is nothing to train")
        self.model = self.compiled.training_module.to(self.device)
        self.context = self.compiled.ctx.context_length
        train_tokens, val_tokens = split_train_val(project.load_tokens(), project.data.val_fraction)
        self.train_batches = BlockSampler(train_tokens, self.context, config.batch_size, config.seed)
        self.val_batches = BlockSampler(val_tokens, self.context, config.batch_size, config.seed + 1)
        self.optimizer = _adamw(self.model, config)
        self.step = 0
        self.elapsed_before = 0.0  # seconds trained before a resume, so `elapsed` keeps counting
        self._started = time.perf_counter()
        self._stop_signalled = False
        if resume_from is not None:
            self._restore(resume_from)

    def _restore(self, checkpoint: Path) -> None:
        saved, state = load_checkpoint(checkpoint, self.model)
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        self.step = state["step"]
        self.elapsed_before = state.get("elapsed", 0.0)
        self.run.truncate_after(self.step)
        self.run.log(f"resumed from step {self.step}")

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
                loss, lr, grad_norm = self._train_step(self.step)
                self.step += 1
                window_tokens += config.batch_size * self.context
                if not math.isfinite(loss):
                    return self._fail(f"the loss became {loss} at step {self.step}; the last good checkpoint is kept")
                if self.step % config.log_every == 0 or self.step == config.steps:
                    now = time.perf_counter()
                    report = StepReport(self.step, config.steps, loss, lr, window_tokens / max(now - window_start, 1e-9),
                                        grad_norm, now - started)
                    if self.step % config.eval_every == 0 or self.step == config.steps:
                        report.val_loss = self.evaluate()
                    run.append_metrics({k: v for k, v in vars(report).items() if v is not None and k != "steps"})
                    if on_report:
                        on_report(report)
                    window_start, window_tokens = time.perf_counter(), 0
                if config.sample_every and self.step % config.sample_every == 0:
                    run.append_sample({"step": self.step, "text": self.sample_text()})
                if self.step % config.checkpoint_every == 0:
                    self.checkpoint()
                if self._stop_signalled or run.stop_requested():
                    self.checkpoint()
                    run.clear_stop()
                    run.set_status("stopped", f"stopped at step {self.step}", step=self.step)
                    run.log(f"stopped at step {self.step}")
                    return "stopped"
            self.checkpoint()
            run.set_status("finished", step=self.step)
            run.log(f"finished {self.step} steps in {time.perf_counter() - started:.1f} s")
            return "finished"
        except Exception as exc:
            self._fail(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _restore_stop_handlers(previous)

    def _train_step(self, index: int) -> tuple[float, float, float]:
        lr = warmup_cosine(index, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = (t.to(self.device) for t in self.train_batches.batch(index))
        self.model.train()
        _, loss = self.model(x, y)
        loss.backward()
        clip = self.config.grad_clip if self.config.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if torch.isfinite(loss):
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.item(), lr, grad_norm.item()

    @torch.no_grad()
    def evaluate(self) -> float:
        self.model.eval()
        losses = []
        for index in range(self.config.eval_batches):
            x, y = (t.to(self.device) for t in self.val_batches.batch(index))
            losses.append(self.model(x, y)[1].item())
        return sum(losses) / len(losses)

    def sample_text(self) -> str:
        """A fixed-seed sample from the first validation token, so samples compare across steps."""
        self.compiled.module.eval()
        prompt = self.val_batches.tokens[:1].view(1, 1).to(self.device)
        generator = torch.Generator().manual_seed(self.config.seed)
        ids = sample(self.compiled.module, prompt, self.config.sample_length, context_length=self.context,
                     temperature=0.8, generator=generator)
        return self.project.tokenizer.decode(ids[0].tolist())

    def checkpoint(self) -> None:
        saved = {"optimizer": self.optimizer.state_dict(), "torch_rng": torch.get_rng_state()}
        elapsed = time.perf_counter() - self._started
        self.run.save_checkpoint(self.step, self.model, saved, {"seed": self.config.seed, "elapsed": elapsed})
        self.run.set_status("running", step=self.step)

    def _fail(self, message: str) -> str:
        self.run.set_status("failed", message, step=self.step)
        self.run.log(f"failed: {message}")
        return "failed"


def _adamw(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """Decay matrices (linear and embedding weights) only; norms and biases keep their scale."""
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(config.beta1, config.beta2))


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
