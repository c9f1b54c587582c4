"""Every `--help` example that reads the demo database runs on it (issue 10 item 12): exit 0
and some output, so no example writes an empty file or names a month the demo does not hold.

Examples are read from each command's help text (the lines under "Example:"). The ones that
name the demo database (``llmledger-demo.duckdb``) run in-process against the session's sample
database, in a temporary working directory (for their ``--out`` files). Shell pieces are
honoured as the shell would: ``> FILE`` and ``| ...`` take stdout, ``|| ...`` accepts exit 1.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from ingest.cli import EPILOG, cli

REPO = Path(__file__).resolve().parent.parent
DEMO_DB = "llmledger-demo.duckdb"
DEMO_CONFIG = "sample_data/llmledger.toml"
# Commands whose examples need the network, serve, ingest the sample again or write a lake:
# tests/test_scheduler.py, test_dashboard_cli.py, test_lake.py and the demo fixture run those.
NOT_RUN = {"demo", "ingest", "run", "build", "dashboard", "collect", "lake"}
ROOT_OPTIONS = {"--db", "--config"}


def _example_lines(text: str | None) -> list[str]:
    lines, inside = [], False
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped == "Example:":
            inside = True
        elif inside and not stripped:
            inside = False
        elif inside and stripped.startswith("llmledger "):
            lines.append(stripped)
    return lines


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[Any]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            if sub is not None:
                found += _commands(sub, (*path, name))
    return found


def examples() -> list[str]:
    found = _example_lines(EPILOG)
    for _, command in _commands(cli):
        found += _example_lines(command.help) + _example_lines(command.epilog)
    return list(dict.fromkeys(found))


def _command_words(words: list[str]) -> list[str]:
    """The command path of an example's arguments (root options skipped)."""
    out, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ROOT_OPTIONS:
            skip = True
        elif word.startswith("-"):
            break
        else:
            out.append(word)
    return out


def runnable() -> list[str]:
    return [
        line
        for line in examples()
        if DEMO_DB in line and _command_words(shlex.split(line)[1:])[0] not in NOT_RUN
    ]


def test_the_examples_are_found() -> None:
    lines = runnable()
    assert len(lines) >= 14, lines
    # every read command's example is among them
    for command in ("report", "export", "prices", "doctor"):
        assert any(f" {command} " in line for line in lines), command
    assert not [line for line in examples() if "2025-" in line]  # the demo's month is 2026-11


def _id(line: str) -> str:
    return line.replace(f"llmledger --db {DEMO_DB} ", "")


# `report --bill` is a check: it exits 1 when the bill differs past the tolerance, and the
# demo's bill has a planted gap (an account billed whose logs nobody ingests).
CHECKS = {"--bill": "2 group(s) differ from the bill by more than 2%\n"}


@pytest.mark.parametrize("line", runnable(), ids=_id)
def test_help_example_runs_on_the_demo(
    line: str, sample_ledger: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    words = shlex.split(line, comments=True)[1:]
    shell = next((i for i, w in enumerate(words) if w in ("|", "||", ">")), len(words))
    tail, args = words[shell:], words[:shell]
    args = [
        str(sample_ledger.db)
        if a == DEMO_DB
        else str(REPO / DEMO_CONFIG)
        if a == DEMO_CONFIG
        else a
        for a in args
    ]
    result = CliRunner().invoke(cli, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    allowed = (0, 1) if tail[:1] == ["||"] else (0,)
    check = next((text for flag, text in CHECKS.items() if flag in args), None)
    if check is not None:
        assert (result.exit_code, result.stderr) == (1, check), line
    else:
        assert result.exit_code in allowed, (line, result.stderr)
    written = [tmp_path / args[i + 1] for i, a in enumerate(args) if a == "--out"]
    written = [p for p in written if p.name != "-"]
    if written:
        assert written[0].stat().st_size > 0, line
        lines = written[0].read_text(encoding="utf-8").splitlines()
        assert len(lines) > 1, f"{line}: only a header"
    else:
        assert result.stdout.strip(), line
