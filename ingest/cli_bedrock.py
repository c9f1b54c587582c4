"""Ad hoc Bedrock ingest commands (placeholder until the Bedrock sources land)."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this family's `ingest <source>` commands to the ingest group."""
