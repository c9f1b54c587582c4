"""Where Bedrock delivers invocation logs in S3 (shared reference §2.1)::

    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<ts>_<hex>.json.gz
    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/data/...  (bodies)
    .../amazon-bedrock-logs-permission-check                                     (zero-byte marker)

One partition (and cursor) per account/region, found by Delimiter listings.

CloudWatch Logs export tasks (``CreateExportTask``, for logs delivered to a log group and
exported by hand) write another layout, one folder per task::

    <prefix>/<task id>/<log stream>/000000.gz      lines "<ISO time> <record>"
    <prefix>/aws-logs-write-test                   (permission marker)

Each task folder is a partition too, listed whole (its keys carry no dates).
"""

from __future__ import annotations

import re
from typing import Any

from ingest.transports import s3

LOGS_FOLDER = "BedrockModelInvocationLogs"
# Bodies over 100 KB sit under <HH>/data/: this delimiter rolls each hour's data/ folder into
# one CommonPrefix instead of listing every body object. (S3 accepts multi-character
# delimiters; if an S3-compatible store refuses it the transport lists without one and the
# format's skip_reason leaves out data/ keys.)
DATA_DELIMITER = "/data/"


def logs_root(prefix: str) -> str:
    """``<prefix>/AWSLogs/`` for a logging configuration's prefix (or one below AWSLogs/)."""
    parts = [p for p in prefix.strip("/").split("/") if p]
    if "AWSLogs" in parts:
        parts = parts[: parts.index("AWSLogs")]
    return "".join(f"{p}/" for p in parts) + "AWSLogs/"


def partitions(client: Any, bucket: str, prefix: str) -> list[s3.Partition]:
    """Every <account>/<region> under the prefix, by Delimiter listings (no object listing).

    ``prefix`` is the logging configuration's key prefix; it may also go further down
    (``.../AWSLogs/<account>`` or ``.../BedrockModelInvocationLogs/<region>``) to narrow the run.
    """
    parts = [p for p in prefix.strip("/").split("/") if p]
    account = region = None
    if "AWSLogs" in parts:
        below = parts[parts.index("AWSLogs") + 1 :]
        account = below[0] if below else None
        region = below[2] if len(below) > 2 else None
    root = logs_root(prefix)
    found = []
    for account_prefix in s3.folders(client, bucket, root):
        name = account_prefix[len(root) :].rstrip("/")
        if account and name != account:
            continue
        logs = f"{account_prefix}{LOGS_FOLDER}/"
        for region_prefix in s3.folders(client, bucket, logs):
            region_name = region_prefix[len(logs) :].rstrip("/")
            if region and region_name != region:
                continue
            found.append(s3.Partition(f"{name}/{region_name}", region_prefix))
    return found


# Export task ids are UUIDs (CreateExportTask's taskId).
_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def export_partitions(client: Any, bucket: str, prefix: str) -> list[s3.Partition]:
    """One undated partition per CloudWatch Logs export task under ``prefix`` (the task's
    destinationPrefix), or the one task ``prefix`` ends in."""
    parts = [p for p in prefix.strip("/").split("/") if p]
    if parts and _TASK_ID.fullmatch(parts[-1]):
        return [s3.Partition(f"export/{parts[-1]}", "".join(f"{p}/" for p in parts), False)]
    root = "".join(f"{p}/" for p in parts)
    found = []
    for folder in s3.folders(client, bucket, root):
        task = folder[len(root) :].rstrip("/")
        if _TASK_ID.fullmatch(task):
            found.append(s3.Partition(f"export/{task}", folder, dated=False))
    return found
