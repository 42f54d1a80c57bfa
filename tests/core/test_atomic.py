"""Saves replace files whole, keep their permissions, flush to disk, and clean up after killed saves
(issue #24, item 8)."""

import os
import stat
import time

import pytest

from workbench.core import atomic
from workbench.core.atomic import STALE_TEMP_S, replace_atomic, write_atomic
from workbench.core.graph import Graph

posix_only = pytest.mark.skipif(os.name == "nt", reason="permission bits and folder fsync are POSIX")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
@pytest.mark.parametrize("bits", [0o644, 0o640, 0o664])
def test_a_save_keeps_the_files_permissions(tmp_path, bits):
    path = tmp_path / "project.json"
    path.write_text("old")
    path.chmod(bits)
    write_atomic(path, "new")
    assert path.read_text() == "new" and mode(path) == bits


@posix_only
def test_a_new_file_gets_the_usual_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.json", "x")
    finally:
        os.umask(umask)
    assert mode(tmp_path / "new.json") == 0o644  # not mkstemp's 0o600


def test_a_project_save_keeps_0644(tiny_project):
    tiny_project.path.chmod(0o644)
    tiny_project.save()
    assert os.name == "nt" or mode(tiny_project.path) == 0o644
    assert [p.name for p in tiny_project.path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_file_and_its_folder_are_flushed_before_the_save_returns(tmp_path, monkeypatch):
    flushed = []
    real_fsync = os.fsync

    def fsync(handle):
        flushed.append(os.path.realpath(f"/proc/self/fd/{handle}") if os.path.exists("/proc/self/fd") else handle)
        real_fsync(handle)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    write_atomic(tmp_path / "a.json", "x")
    assert len(flushed) == (1 if os.name == "nt" else 2)
    if os.path.exists("/proc/self/fd"):
        assert flushed[0].endswith(".tmp") and flushed[1] == str(tmp_path.resolve())


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"old")

    def write(temp):
        temp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        replace_atomic(path, write)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["weights.safetensors"]


def test_a_killed_saves_stale_temp_goes_on_the_next_save(tmp_path):
    path = tmp_path / "tiny.json"
    stale, fresh = tmp_path / ".tiny.json.999.deadbeef.tmp", tmp_path / ".tiny.json.999.cafef00d.tmp"
    other = tmp_path / ".other.json.999.deadbeef.tmp"
    for temp in (stale, fresh, other):
        temp.write_text("half")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_atomic(path, "x")
    assert not stale.exists()
    assert fresh.exists()  # may be another process's save in progress
    assert other.exists()  # another file's: its own next save cleans it


def test_graph_save_is_atomic(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text("{}")
    path.chmod(0o640)
    Graph().save(path)
    assert '"nodes"' in path.read_text() and (os.name == "nt" or mode(path) == 0o640)


@posix_only
def test_weights_written_by_safetensors_get_the_usual_mode(tmp_path):
    """safetensors' save_file creates 0o600 files; a checkpoint or export in a shared folder must be
    readable like any other file there."""
    import torch
    from safetensors.torch import save_file

    umask = os.umask(0o022)
    try:
        replace_atomic(tmp_path / "a.safetensors", lambda temp: save_file({"w": torch.zeros(2)}, str(temp)))
        save_file({"w": torch.zeros(2)}, str(tmp_path / "b.safetensors"))
        assert mode(tmp_path / "b.safetensors") == 0o600  # the library's own mode, which this fixes
        atomic.give_default_mode(tmp_path / "b.safetensors")
    finally:
        os.umask(umask)
    assert mode(tmp_path / "a.safetensors") == 0o644 and mode(tmp_path / "b.safetensors") == 0o644


@posix_only
def test_a_checkpoint_is_readable_by_others(tiny_project, tmp_path):
    from workbench.core.training.trainer import start_run

    tiny_project.train = tiny_project.train.replace(steps=2, checkpoint_every=2, sample_every=0)
    umask = os.umask(0o022)
    try:
        start_run(tiny_project, tmp_path / "run", ["test"]).train()
    finally:
        os.umask(umask)
    weights = next((tmp_path / "run" / "checkpoints").glob("step_*/model.safetensors"))
    assert mode(weights) == 0o644
