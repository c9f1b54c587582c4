"""Commands in this module are registered on the top-level `llmledger` group."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
