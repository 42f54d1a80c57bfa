"""Set up .venv/ and run the app or the test suite, the same on Linux, macOS and Windows.

    python scripts/bootstrap.py app [ARGS...]     set up (first time only) and open the app
    python scripts/bootstrap.py test [ARGS...]    set up with the test tools and run pytest
    python scripts/bootstrap.py lock              re-resolve pyproject.toml's ranges, write requirements.lock
    python scripts/bootstrap.py latest            the suite against the newest releases, and what broke

app.sh / test.sh (and app.cmd / test.cmd on Windows) call this file, so the two README commands
behave alike everywhere. It needs only the standard library and Python 3.11+.

Set-up is idempotent: a stamp in .venv/ records the hash of what was installed (pyproject.toml,
requirements.lock, this file), so a second start returns at once. Everything installs under the
constraints of requirements.lock, the exact versions CI saw, so a fresh machine next month gets
the same environment. PyTorch comes first and alone: its build depends on the platform (see
`torch_source`), and asking pip for a bare "torch" on a machine without a GPU pulls several GB of
CUDA libraries.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
TORCH_VERSION = "2.13.0"  # the release every platform installs; the lock pins the same
# PyTorch's own wheel indexes: CPU-only builds for Linux, CUDA builds for Windows (PyPI's Windows
# wheels are CPU-only, PyPI's Linux wheels carry CUDA, macOS has one build for CPU and Metal).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
# Variables that would let something outside the fresh .venv satisfy an import or an install.
LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PIP_USER", "PIP_TARGET", "PIP_PREFIX")


# --- what differs per platform (unit-tested in tests/test_bootstrap.py) ---------------------------

@dataclass(frozen=True)
class TorchSource:
    attempts: tuple[tuple[str, ...], ...]  # pip install arguments, tried in order until one works;
    # then a plain `pip install torch==V` brings any dependencies the attempt left out
    why: str  # said before installing, so a long download is expected


def torch_source(system: str, has_cuda: bool, version: str = TORCH_VERSION) -> TorchSource:
    """How to install PyTorch `version` on `system` ("Linux", "Darwin", "Windows")."""
    exact = f"torch=={version}"
    if system == "Darwin":
        return TorchSource(((exact,),), f"PyTorch {version} (CPU and Apple Metal)")
    if system == "Windows":
        if has_cuda:
            return TorchSource((("--index-url", TORCH_CUDA_INDEX, exact), (exact,)),
                               f"PyTorch {version} with CUDA (an NVIDIA driver was found); about 3 GB")
        return TorchSource(((exact,),), f"PyTorch {version}, CPU build")
    if has_cuda:
        return TorchSource(((exact,),), f"PyTorch {version} with CUDA (an NVIDIA driver was found); about 3 GB")
    # Linux without a GPU: a wheel that pip's configuration already offers offline (a wheelhouse or
    # find-links folder) first, then the CPU-only index instead of PyPI's CUDA build.
    return TorchSource((("--no-index", "--no-deps", exact), ("--index-url", TORCH_CPU_INDEX, exact)),
                       f"PyTorch {version}, CPU build")


def venv_python(venv: Path, system: str) -> Path:
    return venv / "Scripts" / "python.exe" if system == "Windows" else venv / "bin" / "python"


def has_nvidia_driver() -> bool:
    return shutil.which("nvidia-smi") is not None


def parse_lock(text: str) -> dict[str, str]:
    """`name==version` lines of a lock (comments and blank lines ignored), keyed by normalised name."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[normalise(name)] = version.strip()
    return pins


def freeze_to_lock(freeze: str, header: str) -> str:
    """`pip freeze` output as a lock: sorted exact pins, our own editable install and local build
    labels (2.13.0+cpu) left out, since each platform installs its own torch build."""
    pins = {}
    for line in freeze.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e", "-")) or "==" not in line:
            continue
        name, _, version = line.partition("==")
        if normalise(name) == "transformer-workbench":
            continue
        pins[normalise(name)] = version.split("+", 1)[0]
    body = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    return header + body


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def newer_than_lock(installed: dict[str, str], locked: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (locked version, installed version) for every package that is not the locked one. A local
    build label (2.13.0+cpu) is the platform's build of the same release, as the lock leaves it out."""
    return {name: (locked.get(name, "(not in the lock)"), version)
            for name, version in sorted(installed.items()) if locked.get(name) != version.split("+", 1)[0]}


# --- set-up ---------------------------------------------------------------------------------------

def clean_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_VARIABLES}
    env["PYTHONNOUSERSITE"] = "1"  # the user's ~/.local site-packages must not satisfy an import
    return env


def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], check=True, env=clean_environment(), **kwargs)


def pip(python: Path, *arguments: str, quiet: bool = True) -> None:
    run([python, "-m", "pip", *arguments, *(["--quiet"] if quiet else []), "--disable-pip-version-check"])


def install_torch(python: Path) -> None:
    if subprocess.run([str(python), "-c", "import torch"], capture_output=True, env=clean_environment()).returncode == 0:
        return
    source = torch_source(platform.system(), has_nvidia_driver())
    print(f"Installing {source.why}", flush=True)
    for index, attempt in enumerate(source.attempts):
        last = index == len(source.attempts) - 1
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               *attempt], env=clean_environment(), capture_output=not last)
        if done.returncode == 0:
            pip(python, "install", f"torch=={TORCH_VERSION}")  # its dependencies; the build stays
            return
    sys.exit(f"Could not install PyTorch {TORCH_VERSION}: pip failed (see above)")


def setup(venv: Path, extras: str, lock: Path | None) -> Path:
    """Make `venv` (once) and install the project with `extras` under `lock`'s constraints."""
    system = platform.system()
    python = venv_python(venv, system)
    if not python.exists():
        print(f"Creating {venv.name} with Python {platform.python_version()}", flush=True)
        run([sys.executable, "-m", "venv", venv])
    inputs = [ROOT / "pyproject.toml", Path(__file__).resolve()] + ([lock] if lock else [])
    digest = hashlib.sha1(b"".join(path.read_bytes() for path in inputs)).hexdigest()[:12]
    stamp = venv / f".installed-{digest}-{extras or 'app'}"
    if stamp.exists():
        return python
    install_torch(python)
    print(f"Installing Transformer Workbench{f' [{extras}]' if extras else ''}"
          f"{f' from {lock.name}' if lock else ' at the newest releases'}", flush=True)
    pip(python, "install", *(["--constraint", str(lock)] if lock else []), "--editable",
        f"{ROOT}{f'[{extras}]' if extras else ''}")
    run([python, "-m", "pip", "check", "--disable-pip-version-check"], stdout=subprocess.DEVNULL)
    for old in venv.glob(f".installed-*-{extras or 'app'}"):
        old.unlink()
    stamp.touch()
    return python


def freeze(python: Path) -> str:
    return run([python, "-m", "pip", "freeze", "--disable-pip-version-check", "--exclude-editable"],
               capture_output=True, text=True).stdout


def run_suite(python: Path, arguments: list[str]) -> int:
    """pytest with the checkout root kept off sys.path (-P): see workbench/__init__.py."""
    env = clean_environment()
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return subprocess.run([str(python), "-P", "-m", "pytest", *arguments], cwd=ROOT, env=env).returncode


# --- commands -------------------------------------------------------------------------------------

def command_app(arguments: list[str]) -> int:
    python = setup(VENV, "", LOCK)
    return subprocess.run([str(python), str(ROOT / "main.py"), *arguments], env=clean_environment()).returncode


def command_test(arguments: list[str]) -> int:
    return run_suite(setup(VENV, "test", LOCK), arguments)


def command_lock(_arguments: list[str]) -> int:
    """Resolve pyproject.toml's open ranges today, in a throw-away environment, into requirements.lock."""
    with tempfile.TemporaryDirectory(prefix="workbench-lock-") as folder:
        python = setup(Path(folder) / "venv", "test", None)
        header = (f"# Every package the app and its tests install, resolved {time.strftime('%Y-%m-%d')} from\n"
                  f"# pyproject.toml's ranges by `python scripts/bootstrap.py lock` (Python {platform.python_version()},\n"
                  f"# {platform.system()}). Set-up installs under these constraints; run that command to refresh it.\n")
        LOCK.write_text(freeze_to_lock(freeze(python), header))
    print(f"Wrote {LOCK.relative_to(ROOT)} ({len(parse_lock(LOCK.read_text()))} packages)")
    return 0


def command_latest(arguments: list[str]) -> int:
    """The whole suite in a throw-away environment built from pyproject.toml's open ranges (the newest
    releases), then, if it fails, which newly released package broke it: each one that differs from
    the lock is put back to its locked version in turn and the failing tests run again."""
    locked = parse_lock(LOCK.read_text())
    with tempfile.TemporaryDirectory(prefix="workbench-latest-") as folder:
        python = setup(Path(folder) / "venv", "test", None)
        changed = newer_than_lock(parse_lock(freeze(python)), locked)
        print("Newest releases that differ from requirements.lock:" if changed else
              "The newest releases are the locked ones.")
        for name, (old, new) in changed.items():
            print(f"  {name}: {old} -> {new}")
        print(f"(PyTorch stays at the platform's {TORCH_VERSION} build: a newer one is a separate, multi-GB choice.)")
        report = Path(folder) / "results.xml"
        code = run_suite(python, ["-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
                                  "--junit-xml", str(report), *arguments])
        if code == 0:
            print(f"PASSED: the suite passes with the newest releases ({len(changed)} differ from the lock).")
            return 0
        if not report.is_file():
            print(f"FAILED: the suite stopped before it finished (exit code {code}; a crash, see above), so no "
                  "failing test can be retried against the locked releases.")
            return 1
        failing = failing_tests(report)
        print(f"FAILED: {len(failing)} tests fail with the newest releases.")
        culprits = find_culprits(python, changed, failing)
        for name, (old, new) in culprits.items():
            print(f"  {name} {new} breaks them; {name}=={old} (the locked release) works: keep the pin "
                  f'"{name}<{new}" in pyproject.toml until it is fixed upstream or here.')
        if not culprits:
            print("  No single newer release explains it: the failures are in our code or need several releases.")
        return 1


def failing_tests(junit_xml: Path) -> list[str]:
    import xml.etree.ElementTree as ElementTree
    failing = []
    for case in ElementTree.parse(junit_xml).iter("testcase"):
        if case.find("failure") is None and case.find("error") is None:
            continue
        file = case.get("file", "")  # xunit1 names the file; classname is its module, then any class
        module = file.removesuffix(".py").replace("/", ".")
        test_class = case.get("classname", "")[len(module) + 1:]
        failing.append("::".join(part for part in (file, test_class, case.get("name", "")) if part))
    return failing


def find_culprits(python: Path, changed: dict[str, tuple[str, str]], failing: list[str]) -> dict:
    culprits = {}
    for name, (old, new) in changed.items():
        if old == "(not in the lock)":
            continue
        pip(python, "install", "--no-deps", f"{name}=={old}")
        passes = run_suite(python, ["-q", "-p", "no:cacheprovider", *failing]) == 0
        pip(python, "install", "--no-deps", f"{name}=={new}")
        if passes:
            culprits[name] = (old, new)
    return culprits


COMMANDS = {"app": command_app, "test": command_test, "lock": command_lock, "latest": command_latest}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bootstrap.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="passed on to the app or to pytest")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 11):
        sys.exit(f"Transformer Workbench needs Python 3.11 or newer; this is {platform.python_version()}")
    try:
        return COMMANDS[args.command](args.arguments)
    except subprocess.CalledProcessError as error:
        sys.exit(f"Set-up failed: `{' '.join(map(str, error.cmd))}` exited with {error.returncode} (its output is above)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
