"""llmledger ingest layer: one module per source, the loader, cursors, the CLI and the scheduler."""

__version__ = "0.1.0"
