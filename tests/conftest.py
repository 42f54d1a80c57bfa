"""Test-wide settings. Environment variables come first: Triton reads TRITON_INTERPRET when a
kernel is defined, and Qt reads QT_QPA_PLATFORM when the application starts."""

import os

import torch

# The Triton kernels run compiled where there is a GPU and in Triton's interpreter elsewhere; setting
# TRITON_INTERPRET by hand still wins.
os.environ.setdefault("TRITON_INTERPRET", "0" if torch.cuda.is_available() else "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _runs_folder_outside_the_checkout(tmp_path_factory):
    """Runs, and the token cache of projects without a pipeline (core/data/text_tokens.py), go to a
    temporary folder unless a test chooses one: never into the checkout's runs/."""
    previous = os.environ.get("WORKBENCH_RUNS_DIR")
    os.environ["WORKBENCH_RUNS_DIR"] = str(tmp_path_factory.mktemp("runs"))
    yield
    if previous is None:
        del os.environ["WORKBENCH_RUNS_DIR"]
    else:
        os.environ["WORKBENCH_RUNS_DIR"] = previous


def shrink_project(project, corpus: Path | None = None):
    """The default preset scaled down so a few training steps take well under a second."""
    graph = project.graph
    graph.set_param("tokens", "context_length", 32)
    graph.set_param("tok_emb", "width", 32)
    graph.set_param("layers", "repeat", 2)
    graph.nodes["layers"].graph.set_param("attn", "heads", 2)
    graph.history.clear()
    project.train = project.train.replace(
        steps=6, batch_size=4, warmup_steps=2, log_every=1, eval_every=3, eval_batches=2,
        checkpoint_every=3, sample_every=3, sample_length=16, threads=1,
    )
    if corpus is not None:
        project.data.corpus = corpus
    return project


@pytest.fixture
def tiny_project(tmp_path):
    """A small copy of the default project, saved in tmp_path with a 30 kB slice of the corpus."""
    from workbench.core.project import load_project

    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:30_000])
    project = shrink_project(load_project(), corpus)
    project.save(tmp_path / "tiny.json")
    return project


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A small real run folder, trained once per test session: 12 steps of the tiny default GPT with
    metrics every step, validation, samples, attention snapshots and checkpoints every 4 steps.
    Panels are tested against it instead of mocks; a test must not write into it."""
    from workbench.core.project import load_project
    from workbench.core.training.trainer import start_run

    folder = tmp_path_factory.mktemp("trained")
    corpus = folder / "corpus.txt"
    corpus.write_text((REPO / "assets/corpus/shakespeare.txt").read_text()[:30_000])
    project = shrink_project(load_project(), corpus)
    project.train = project.train.replace(steps=12, eval_every=4, checkpoint_every=4, sample_every=4)
    project.save(folder / "tiny.json")
    run_dir = folder / "run"
    start_run(project, run_dir, ["pytest"]).train()
    return run_dir


HANG_S = 600  # no test here takes a minute; one that waits this long is stuck (a thread waiting on a thread)


@pytest.fixture(autouse=True)
def _no_test_hangs_the_suite():
    """A deadlocked test (seen once in CI, in a journey, main thread parked on a lock) would hold the run
    until CI's 90-minute limit: after HANG_S every thread's Python stack goes to stderr and the process
    ends, so the run fails at once with the stacks that say where."""
    import faulthandler

    faulthandler.dump_traceback_later(HANG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
