"""Layer rules (import-linter contracts in pyproject.toml), no import cycles, every command's
--help."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import grimp
import pytest
from click.testing import CliRunner

from ingest.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    """A dev tool beside this Python (the dev extra). Absent: a skip on a laptop, a failure in
    CI, where a habit the suite enforces must never go unchecked."""
    path = str(Path(sys.executable).with_name(name))
    if not os.path.exists(path):
        path = shutil.which(name) or path
    if not os.path.exists(path):
        message = f"{name} is not installed (install the dev extra: pip install -e '.[dev]')"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_import_layers_hold() -> None:
    result = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# Modules left out of the cycle check, each with the reason. None today.
CYCLE_EXCEPTIONS: frozenset[str] = frozenset()


def test_no_import_cycles() -> None:
    """No module imports, directly or through others, a module that imports it back.

    grimp counts every import, including those inside functions (lazy imports): a cycle
    hidden behind a function-level import is still a cycle.
    """
    graph = grimp.build_graph("ingest", "models", "dashboard")
    for module in CYCLE_EXCEPTIONS:
        graph.remove_module(module)
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = prefix + (name,)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p))
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`llmledger {' '.join(path)} --help` shows no example"


def test_root_help_lists_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "3 a source unreachable or refusing credentials" in result.output


def test_ruff_lint_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout + result.stderr


def test_mypy_passes_on_ingest_and_models() -> None:
    """Type hints are checked (pyproject's [tool.mypy] names ingest and models)."""
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
