"""Privacy feeds: one pytest fixture per registered source, ``privacy_feed_<name>``, that plants
records carrying the body sentinel in every body field of that source's format and returns how
to ingest them (``Feed``). ``tests/test_privacy.py`` runs over every source in
``ingest.sources.SOURCES`` and fails for a source without a feed. A new family adds its own
module here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SENTINEL = "LLMLEDGER-BODY-SENTINEL"


@dataclass(frozen=True)
class Feed:
    """``llmledger ingest <source> *args`` (with ``env``) reads the planted records; ``landed``
    is a request id that must then appear in the usage export (the control), or, for a source
    whose rows are not requests (a bill), in ``landed_table`` of the snapshot."""

    args: list[str]
    landed: str
    env: dict[str, str] = field(default_factory=dict)
    landed_table: str = ""


def inputs(tmp_path: Path) -> Path:
    """Where a feed puts its input files: the privacy scan leaves this folder out."""
    folder = tmp_path / "input"
    folder.mkdir(exist_ok=True)
    return folder
