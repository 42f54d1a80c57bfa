"""The source of the app's own classes and functions, gathered for a file that runs on torch alone.

`SourceCollector.use(obj)` copies a class or function of core/ or kernels/ (inspect.getsource, so
the file shows exactly the code the app runs), then follows every global name the copy reads: other
definitions of core/ and kernels/ are copied too (functions, classes and module-level constants such
as a table of activations), torch and the standard library become import lines, and anything else
is an ExportError, because the file could not import it. Definitions come out dependencies first.

A replacement stands in for a definition that cannot leave the app, e.g. kernels.attention's
dispatcher to fused kernels becomes its PyTorch SDPA path.
"""

import ast
import functools
import importlib
import inspect
import sys
import textwrap
from dataclasses import dataclass

from workbench.core.export.report import ExportError

COPIED = ("workbench.core", "workbench.kernels")  # packages whose definitions are copied into the file
IMPORTABLE = ("torch", *sys.stdlib_module_names)  # packages the file may import


@dataclass(frozen=True)
class Replacement:
    source: str  # the definition to write instead
    resolve_in: str  # module whose globals the replacement's names refer to


@dataclass(frozen=True)
class Definition:
    module: str  # where it was copied from, for the file's section comments
    name: str
    source: str


class SourceCollector:
    def __init__(self, replacements: dict[tuple[str, str], Replacement]):
        self.replacements = replacements  # (module, name) -> what to write instead
        self.imports: set[str] = set()  # "import math", "from torch import nn"
        self.definitions: list[Definition] = []  # dependencies before the code that uses them
        self._done: set[tuple[str, str]] = set()

    def use(self, obj) -> str:
        """How the file refers to the class or function `obj`, after arranging that it can."""
        home = obj.__module__
        if _copied(home):
            self._copy(home, obj.__name__, obj)
            return obj.__name__
        if getattr(importlib.import_module("torch.nn"), obj.__name__, None) is obj:
            self.imports.add("from torch import nn")
            return f"nn.{obj.__name__}"
        self._import_from(home, obj.__name__, obj, f"{obj.__name__} (from {home})")
        return obj.__name__

    def parts(self) -> tuple[str, str]:
        """The import lines, and the definitions with a comment naming the file each run comes from."""
        def order(line: str) -> tuple[bool, str]:  # isort's: `import x` lines, then `from x import y`
            return line.startswith("from"), line

        stdlib = sorted((line for line in self.imports if _package(line.split()[1]) != "torch"), key=order)
        torch_lines = sorted((line for line in self.imports if _package(line.split()[1]) == "torch"), key=order)
        body, module = [], None
        for definition in self.definitions:
            if definition.module != module:
                module = definition.module
                body.append(f"# ----- from {module.replace('.', '/')}.py -----")
            body.append(definition.source)
        return "\n\n".join(block for block in ("\n".join(stdlib), "\n".join(torch_lines)) if block), "\n\n\n".join(body)

    # ----- following names -----

    def _copy(self, module: str, name: str, obj) -> None:
        key = (module, name)
        if key in self._done:
            return
        self._done.add(key)
        replacement = self.replacements.get(key)
        if replacement is not None:
            source, resolve_in = textwrap.dedent(replacement.source).strip(), replacement.resolve_in
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            source, resolve_in = textwrap.dedent(inspect.getsource(obj)).strip(), module
        else:
            source, resolve_in = _assignment_source(module, name), module
        for used in sorted(_global_names(source)):
            self._follow(resolve_in, used)
        self.definitions.append(Definition(module, name, source))

    def _follow(self, module: str, name: str) -> None:
        namespace = vars(sys.modules[module])
        if name not in namespace:
            return  # a builtin, or a local name of the copied code
        value = namespace[name]
        if inspect.ismodule(value):
            self._import_module(name, value)
        elif (inspect.isclass(value) or inspect.isfunction(value)) and _copied(value.__module__):
            self._copy(value.__module__, value.__name__, value)
        elif inspect.isclass(value) or inspect.isfunction(value):
            self._import_from(value.__module__, name, value, f"{name} (used by {module})")
        elif _copied(module):  # a constant: copy it from the module that assigns it
            home = next((m for m in (module, *sorted(sys.modules)) if _copied(m) and _assigns(m, name)),
                        module)
            self._copy(home, name, value)
        else:
            self._import_from(module, name, value, f"{name} (from {module})")

    def _import_module(self, name: str, value) -> None:
        full = value.__name__
        if _package(full) not in IMPORTABLE:
            raise ExportError(f"the generated file would need the package {full!r}; it may import only torch "
                              "and the standard library")
        if full == name:
            self.imports.add(f"import {name}")
        elif full.endswith("." + name):
            self.imports.add(f"from {full.rsplit('.', 1)[0]} import {name}")
        else:
            self.imports.add(f"import {full} as {name}")

    def _import_from(self, home: str, name: str, value, what: str) -> None:
        if _package(home) not in IMPORTABLE or getattr(importlib.import_module(home), name, None) is not value:
            raise ExportError(f"the generated file cannot import {what}: it may import only torch and the "
                              "standard library")
        self.imports.add(f"from {home} import {name}")


def _package(module: str) -> str:
    return module.split(".")[0]


def _copied(module: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in COPIED)


def _global_names(source: str) -> set[str]:
    """Every name the code reads; those the module does not define turn out to be locals or builtins."""
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


@functools.cache
def _module_assignments(module: str) -> dict[str, str]:
    """Module-level `NAME = …` statements of a module, by name, as source text."""
    text = inspect.getsource(sys.modules[module])
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        else:
            targets = [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = ast.get_source_segment(text, node)
    return found


def _assigns(module: str, name: str) -> bool:
    return name in _module_assignments(module)


def _assignment_source(module: str, name: str) -> str:
    try:
        return _module_assignments(module)[name]
    except KeyError:
        raise ExportError(f"the generated file needs {name!r} from {module}, which is not a plain "
                          "assignment the file can copy") from None
