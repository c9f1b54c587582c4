"""Bedrock model invocation logs: one format (``format.py``) over three transports.

Records land in ``raw_bedrock`` keyed by ``requestId``, whichever way they came: S3 objects
(``bedrock-s3``, the S3 layout in ``layout.py``), a CloudWatch Logs log group
(``bedrock-cloudwatch``) or local files (``bedrock-files``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ingest import aws
from ingest.errors import ConfigError
from ingest.source import (
    DEADLINES,
    EPOCH_MS,
    FILE_MTIME,
    OBJECT_KEY,
    Option,
    Page,
    Source,
    SourceRun,
    path_argument,
)
from ingest.sources.bedrock import format, layout
from ingest.transports import cloudwatch, files, s3


def _profile(help: str) -> Option:
    return Option("profile", metavar="NAME", help=help)


# ----------------------------------------------------------------------------------------------
# bedrock-s3


def _s3_client(options: dict[str, Any]) -> Any:
    return aws.client(
        "s3",
        region=options.get("region"),
        profile=options.get("profile"),
        read_timeout=options.get("request_timeout"),
    )


def _s3_pages(run: SourceRun) -> Iterator[Page]:
    bucket = str(run.options["bucket"])
    prefix = str(run.options["prefix"] or "")

    def partitions(client: Any) -> list[s3.Partition]:
        found = layout.partitions(client, bucket, prefix)
        found += layout.export_partitions(client, bucket, prefix)
        if not found:
            run.log(
                "no_partitions",
                f"no Bedrock logs under s3://{bucket}/{layout.logs_root(prefix)}"
                f"<account>/{layout.LOGS_FOLDER}/<region>/ nor CloudWatch Logs export tasks "
                f"under s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}"
                "<task id>/ (check --prefix)",
                bucket=bucket,
                prefix=prefix,
            )
        return found

    yield from s3.pages(
        run,
        bucket=bucket,
        partitions=partitions,
        accept=lambda parts, size: format.skip_reason(parts, size) is None,
        delimiter=layout.DATA_DELIMITER,
        overlap=timedelta(hours=int(run.options["overlap_hours"])),
        max_objects=int(run.options["batch_objects"]),
    )


BEDROCK_S3 = Source(
    name="bedrock-s3",
    family="bedrock",
    summary="Ingest Bedrock invocation logs from S3 (every account and region under the prefix).",
    description=(
        "Lists only keys newer than each account/region's cursor (less the overlap) and skips "
        "objects already read (key + ETag), data/ bodies and permission-check markers. "
        "CloudWatch Logs export tasks (CreateExportTask) under the prefix, "
        "<prefix>/<task id>/<log stream>/000000.gz, are read too."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest bedrock-s3 --bucket acme-bedrock-logs \\\n"
        "    --prefix bedrock-logs --region us-east-1 --since 2026-11-01"
    ),
    credentials=aws.CREDENTIALS,
    tables=(format.RAW,),
    cursor=OBJECT_KEY,
    options=(
        Option("bucket", required=True, metavar="NAME", help="Bucket the logs are delivered to."),
        Option(
            "prefix",
            default="",
            metavar="P",
            help="Key prefix of the logging configuration (the part before AWSLogs/), or an "
            "export task's destination prefix.",
        ),
        Option("region", metavar="R", help="Bucket region (else AWS_REGION / the profile's)."),
        _profile("AWS profile (else AWS_PROFILE / the default)."),
        Option(
            "overlap_hours",
            type=int,
            default=1,
            minimum=0,
            help="Hours re-listed before the cursor, for late deliveries.",
        ),
        Option(
            "batch_objects",
            type=int,
            default=s3.MAX_OBJECTS,
            minimum=1,
            cli=False,
            help="Objects per batch (one parse, one transaction).",
        ),
        *DEADLINES,
    ),
    client=_s3_client,
    transport=_s3_pages,
    parse=format.page_format("s3"),
    unit="objects",
    shards="account/region/day prefixes (an export task's folder whole)",
)


# ----------------------------------------------------------------------------------------------
# bedrock-cloudwatch


def _logs_client(options: dict[str, Any]) -> Any:
    return aws.client(
        "logs",
        region=options.get("region"),
        profile=options.get("profile"),
        read_timeout=options.get("request_timeout"),
    )


def _cloudwatch_pages(run: SourceRun) -> Iterator[Page]:
    yield from cloudwatch.pages(
        run,
        group=str(run.options["log_group"]),
        overlap=timedelta(minutes=int(run.options["overlap_minutes"])),
        page_events=int(run.options["page_events"]),
        batch_events=int(run.options["batch_events"]),
    )


BEDROCK_CLOUDWATCH = Source(
    name="bedrock-cloudwatch",
    family="bedrock",
    summary="Ingest Bedrock invocation logs from a CloudWatch Logs log group.",
    example=(
        "llmledger --db ledger.duckdb ingest bedrock-cloudwatch \\\n"
        "    --log-group /aws/bedrock/modelinvocations --region us-east-1"
    ),
    credentials=aws.CREDENTIALS,
    tables=(format.RAW,),
    cursor=EPOCH_MS,
    options=(
        Option("log_group", required=True, metavar="G", help="Log group Bedrock writes to."),
        Option("region", metavar="R", help="Log group region (else AWS_REGION / the profile's)."),
        _profile("AWS profile (else AWS_PROFILE / the default)."),
        Option(
            "overlap_minutes",
            type=int,
            default=15,
            minimum=0,
            help="Minutes re-read before the cursor, for late events.",
        ),
        Option(
            "page_events",
            type=int,
            default=cloudwatch.PAGE_EVENTS,
            minimum=1,
            maximum=cloudwatch.PAGE_EVENTS,
            cli=False,
            help="Events per filter_log_events call (at most 10,000).",
        ),
        Option(
            "batch_events",
            type=int,
            default=cloudwatch.BATCH_EVENTS,
            minimum=1,
            cli=False,
            help="Events per batch (one parse, one transaction).",
        ),
        *DEADLINES,
    ),
    client=_logs_client,
    transport=_cloudwatch_pages,
    parse=format.page_format("cloudwatch"),
    unit="events",
)


# ----------------------------------------------------------------------------------------------
# bedrock-files


def _local_pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.exists():
        raise ConfigError(f"bedrock-files: {root} does not exist; pass an existing folder")
    yield from files.pages(run, root, accept=lambda f: format.skip_reason(f.parts, f.size) is None)


BEDROCK_FILES = Source(
    name="bedrock-files",
    family="bedrock",
    summary="Ingest Bedrock invocation logs from local files.",
    description=(
        "DIR is a copy of the S3 tree (`aws s3 sync s3://BUCKET/PREFIX DIR`) or a folder of "
        "exported logs: JSON lines, JSON arrays, pretty-printed JSON, CloudWatch Logs exports "
        "(export to S3, Logs Insights JSON or CSV), gzip or plain, read by content whatever "
        "the file name. Files already read (same size and mtime) are skipped."
    ),
    example=(
        "aws s3 sync s3://acme-bedrock-logs/bedrock-logs ./bedrock-logs\n"
        "llmledger --db ledger.duckdb ingest bedrock-files ./bedrock-logs"
    ),
    tables=(format.RAW,),
    cursor=FILE_MTIME,
    options=(path_argument("A folder (or one file) of Bedrock invocation logs.", metavar="DIR"),),
    transport=_local_pages,
    parse=format.page_format("files"),
    shards=files.SHARDS,
)
