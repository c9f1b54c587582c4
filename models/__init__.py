"""llmledger models layer: SQL models (staging -> marts), price book, identity, reports, exports.

This package never imports ``ingest`` or ``dashboard``; it works on a DuckDB connection and plain
Python data handed to it.
"""
