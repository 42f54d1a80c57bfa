"""Rebuild mlm-shrunk.safetensors: the bert-tiny masked LM shrunk (width 64, 2 layers, 2 heads) and
pre-trained on the Shakespeare corpus with the real trainer, saved in fp16 (init_from casts to the
model's dtype). tests/core/peft/test_prompt_tuning_genre.py starts the equally shrunk genre classifier
from it, because a randomly initialised frozen encoder gives every passage nearly the same [CLS] vector.

    .venv/bin/python tests/core/peft/data/make_mlm_shrunk.py

800 steps with 2 threads take about 2 minutes on a 2-core CPU and reach a validation loss of 5.00
over the presets' 2,048 BPE tokens (5.85 at step 200). The seed and the batch order are the trainer's;
the file is 478 kB, most of it the token table.
"""

import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent

from workbench.core.project import ASSETS, Project  # noqa: E402
from workbench.core.training.trainer import start_run  # noqa: E402
from workbench.core.training.transfer import weights_file  # noqa: E402

STEPS = 800
OUT = HERE / "mlm-shrunk.safetensors"


def shrink(project: Project) -> Project:
    """The size both the masked LM and the classifier get, so their tensors share names and shapes."""
    graph = project.graph
    graph.set_param("tok_emb", "width", 64)
    graph.set_param("layers", "repeat", 2)
    graph.nodes["layers"].graph.set_param("attn", "heads", 2)
    graph.history.clear()
    return project


def main() -> None:
    project = shrink(Project.load(ASSETS / "presets" / "bert-tiny.json"))
    project.train = project.train.replace(steps=STEPS, warmup_steps=50, log_every=100, eval_every=STEPS // 4,
                                          sample_every=0, checkpoint_every=STEPS, threads=2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        trainer = start_run(project, Path(folder) / "run", [Path(__file__).name])
        trainer.train()
        print("validation loss:", ", ".join(f"{row['val_loss']:.2f} (step {row['step']})"
                                            for row in trainer.run.metrics() if "val_loss" in row))
        weights = load_file(weights_file(Path(folder) / "run"))
    save_file({name: t.to(torch.float16) if t.is_floating_point() else t for name, t in weights.items()}, OUT)
    print(f"{OUT} ({OUT.stat().st_size:,} bytes) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
