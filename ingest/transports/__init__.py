"""Transports: I/O only. Each moves bytes or pages into local files and yields ``Page`` objects
(``ingest/source.py``) for the runner; none parses a record or writes to the database.

- ``files``: a local tree (any depth, ``.gz`` or plain), new or changed files
  (cursor FILE_MTIME; processed_objects decides);
- ``s3``: objects under a prefix, per partition the source finds (OBJECT_KEY + processed_objects);
- ``cloudwatch``: ``filter_log_events`` pages of a log group (EPOCH_MS);
- ``cloud_logging``: ``entries.list`` pages of a project (TIMESTAMP_ID);
- ``postgres``: keyset ``COPY`` pages of a table (TIMESTAMP);
- ``http``: pages of a JSON API (TIMESTAMP).
"""
