"""What every registered export format promises (core/export/formats.py): a module that writes and checks
it, a unique flag and file name, a place in `main.py export`, and a round trip on the tiny GPT preset
that its own check passes."""

import subprocess
import sys

import pytest

from workbench.cli import commands, parser
from workbench.core.export.exporter import ExportSource, run_export, targets_in
from workbench.core.export.formats import FORMATS, registered

from .tiny import tiny_project


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.id)
def test_each_format_names_a_module_that_writes_and_checks_it(fmt):
    implementation = fmt.implementation()
    assert callable(implementation.write_and_check)
    assert isinstance(implementation.TOLERANCE, float) and implementation.TOLERANCE >= 0
    assert fmt.name and fmt.label and fmt.help and fmt.check
    assert fmt.id.isidentifier() and fmt.flag.startswith("--")


def test_ids_flags_and_file_names_are_unique():
    assert len(registered()) == len(FORMATS)
    assert len({fmt.flag for fmt in FORMATS}) == len(FORMATS)
    assert len({str(path) for path in targets_in("out", list(registered())).values()}) == len(FORMATS)


def test_the_command_line_offers_a_flag_per_format(tmp_path):
    export = parser(commands())
    args = export.parse_args(["export", "p.json", *(part for fmt in FORMATS for part in (fmt.flag, f"x{fmt.suffix}"))])
    assert {fmt.id: str(getattr(args, fmt.id)) for fmt in FORMATS} == {fmt.id: f"x{fmt.suffix}" for fmt in FORMATS}


def test_listing_the_formats_loads_no_torch():
    script = ("import sys\nfrom workbench.core.export.formats import registered\nregistered()\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.id)
def test_each_format_round_trips_the_tiny_gpt_preset(fmt, tmp_path):
    project = tiny_project("gpt", layers=1)
    source = ExportSource(project, project.compile(), "tiny gpt")
    target = fmt.target(tmp_path)
    report = run_export(source, {fmt.id: target})
    [check] = report.checks
    assert (check.format, check.check) == (fmt.name, fmt.check)
    assert not check.error, f"{fmt.id}: {check.error}"
    assert check.diffs and max(check.diffs.values()) <= check.tolerance
    assert target.is_dir() if fmt.is_folder else target.is_file()
