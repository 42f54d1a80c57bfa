"""Transformer Workbench: the checkout's packages under one import name of their own.

The project's folders are `core/`, `gui/` and `kernels/` at the top of the checkout (DESIGN.md),
but those names are far too generic to import as they are: Hugging Face's `kernels` package,
which current `transformers` imports, would find ours (or we theirs) first, depending only on the
order of `sys.path`. So nothing puts the checkout itself on `sys.path`. The editable install
(scripts/bootstrap.py) maps this one name, `workbench`, to this folder, and this package's search
path is the checkout root: `workbench.core` is `./core`, `workbench.kernels` is `./kernels`,
`workbench.main` is `./main.py`. Only `workbench` enters `sys.modules` at the top level.
"""

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

# Submodules are searched for in the checkout root, not in this folder. The list is the spec's own
# `submodule_search_locations` too, so tools that ask importlib where the package lives (grimp,
# behind import-linter) walk the real tree.
__path__[:] = [str(CHECKOUT)]
