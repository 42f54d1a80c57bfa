"""scripts/bootstrap.py's platform choices and lock handling (CI is Linux only, so these are the
only check that Windows and macOS get the right PyTorch and paths)."""

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("bootstrap", REPO / "scripts" / "bootstrap.py")
bootstrap = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bootstrap  # dataclasses look their module up there
spec.loader.exec_module(bootstrap)


def test_linux_without_a_gpu_never_asks_pypi_for_the_cuda_build():
    source = bootstrap.torch_source("Linux", has_cuda=False, version="2.13.0")
    assert source.attempts[0] == ("--no-index", "--no-deps", "torch==2.13.0")  # a wheel pip already has offline
    assert source.attempts[1] == ("--index-url", bootstrap.TORCH_CPU_INDEX, "torch==2.13.0")
    assert "CPU" in source.why


def test_linux_with_a_gpu_takes_pypis_cuda_build():
    assert bootstrap.torch_source("Linux", has_cuda=True).attempts == ((f"torch=={bootstrap.TORCH_VERSION}",),)


def test_windows_with_a_gpu_uses_the_cuda_index_and_falls_back_to_the_cpu_build():
    source = bootstrap.torch_source("Windows", has_cuda=True, version="2.13.0")
    assert source.attempts == (("--index-url", bootstrap.TORCH_CUDA_INDEX, "torch==2.13.0"), ("torch==2.13.0",))
    assert bootstrap.torch_source("Windows", has_cuda=False, version="2.13.0").attempts == (("torch==2.13.0",),)


def test_macos_has_one_build():
    assert bootstrap.torch_source("Darwin", has_cuda=False, version="2.13.0").attempts == (("torch==2.13.0",),)


@pytest.mark.parametrize("system, relative", [("Windows", "Scripts/python.exe"), ("Linux", "bin/python"),
                                              ("Darwin", "bin/python")])
def test_venv_python_per_platform(system, relative):
    assert bootstrap.venv_python(Path("v"), system) == Path("v") / relative


def test_freeze_becomes_a_sorted_lock_without_our_package_or_local_build_labels():
    freeze = "torch==2.13.0+cpu\nPySide6_Essentials==6.11.3\n-e /x\ntransformer-workbench==0.1.0\n# c\nNumPy==2.4.6\n"
    lock = bootstrap.freeze_to_lock(freeze, "# header\n")
    assert lock == "# header\nnumpy==2.4.6\npyside6-essentials==6.11.3\ntorch==2.13.0\n"
    assert bootstrap.parse_lock(lock) == {"numpy": "2.4.6", "pyside6-essentials": "6.11.3", "torch": "2.13.0"}


def test_newer_than_lock_lists_changed_and_new_packages_only():
    changed = bootstrap.newer_than_lock({"a": "1", "b": "3", "c": "1", "torch": "2.13.0+cpu"},
                                        {"a": "1", "b": "2", "torch": "2.13.0"})
    assert changed == {"b": ("2", "3"), "c": ("(not in the lock)", "1")}  # a local build label is the same release


def test_the_lock_pins_every_dependency_and_the_torch_release_setup_installs():
    pins = bootstrap.parse_lock((REPO / "requirements.lock").read_text())
    assert pins["torch"] == bootstrap.TORCH_VERSION
    for needed in ("pyside6-essentials", "transformers", "pytest", "import-linter", "numpy", "networkx"):
        assert needed in pins, needed
    assert int(pins["pyside6-essentials"].split(".")[1]) < 12  # 6.12.0 crashes CPython 3.11


def test_failing_tests_become_node_ids(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase file="tests/core/test_a.py" classname="tests.core.test_a" name="test_x[1]"><failure/></testcase>'
        '<testcase file="tests/core/test_a.py" classname="tests.core.test_a.TestB" name="test_y"><error/></testcase>'
        '<testcase file="tests/core/test_a.py" classname="tests.core.test_a" name="test_ok"/>'
        '</testsuite></testsuites>')
    assert bootstrap.failing_tests(report) == ["tests/core/test_a.py::test_x[1]",
                                               "tests/core/test_a.py::TestB::test_y"]


def test_setup_leaves_variables_out_that_would_leak_packages_in(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = bootstrap.clean_environment()
    assert "PYTHONPATH" not in env and env["PYTHONNOUSERSITE"] == "1"
