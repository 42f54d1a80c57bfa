"""DESIGN.md's one rule, checked: imports point down (cli -> gui -> core -> kernels) and core never imports
Qt. The contracts are in pyproject.toml; import-linter runs in its own process because it puts the
current folder on sys.path, which the test process must not have (see workbench/__init__.py)."""

import subprocess
import sys

from tests.conftest import REPO

# import-linter asks importlib where `workbench` lives; once imported, its spec names the checkout.
LINT = "import sys, workbench; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def test_import_contracts_are_kept():
    done = subprocess.run([sys.executable, "-P", "-c", LINT], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


def test_a_core_module_importing_qt_breaks_a_contract(tmp_path):
    """The check can fail: a copy of the contracts over a tree where core imports the window."""
    tree = tmp_path / "tree"
    for layer in ("cli", "core", "gui", "kernels"):
        (tree / layer).mkdir(parents=True)
        (tree / layer / "__init__.py").write_text("")
    (tree / "core" / "bad.py").write_text("import workbench.gui\n")
    (tree / "kernels" / "fine.py").write_text("import torch\n")
    (tmp_path / "workbench").mkdir()
    (tmp_path / "workbench" / "__init__.py").write_text(f"__path__[:] = [{str(tree)!r}]\n")
    config = (REPO / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(config[config.index("[tool.importlinter]"):])
    code = LINT.replace("import sys, workbench;", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import workbench;")
    done = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "Layers point down" in done.stdout and "BROKEN" in done.stdout
