"""Our packages live under one import name, `workbench`, so they neither shadow nor are shadowed by
real packages with generic names (Hugging Face's `kernels`, which transformers imports, was the
live case: the repository root on sys.path made `from kernels import CUDAProperties` find ours)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

GENERIC = ("core", "gui", "kernels")


def test_transformers_models_import_beside_our_attention_kernels():
    import workbench.kernels.attention  # noqa: F401  (ours first, as the app and tests do)
    from transformers.models.bert import modeling_bert
    from transformers.models.gpt2 import modeling_gpt2
    from transformers.models.llama import modeling_llama

    assert modeling_gpt2.GPT2LMHeadModel and modeling_llama.LlamaForCausalLM and modeling_bert.BertForMaskedLM
    kernels = sys.modules.get("kernels")  # Hugging Face's, when transformers wants it; never ours
    assert kernels is None or Path(kernels.__file__).resolve() != REPO / "kernels" / "__init__.py"


def test_no_generic_top_level_names_enter_a_process():
    """Importing the whole app, window included, adds `workbench` and nothing named core, gui or kernels."""
    code = ("import sys, workbench.main, workbench.gui.main_window, workbench.kernels.attention, "
            "workbench.core.compiler; print(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (GENERIC,))
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={"QT_QPA_PLATFORM": "offscreen", **os.environ})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_main_py_run_as_a_script_takes_the_checkout_off_sys_path():
    """`python main.py` puts the checkout first on sys.path; main.py takes it off before importing."""
    code = ("import runpy, sys; sys.argv = ['main.py', '--help']\n"
            "try: runpy.run_path('main.py', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "import importlib.util; print(importlib.util.find_spec('kernels') is None or "
            "'site-packages' in importlib.util.find_spec('kernels').origin)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
