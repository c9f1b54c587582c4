"""Custom API gateways (Kong, a body-logging proxy, …): one family of formats over three
transports.

Each gateway log format (``formats.py``, picked with ``--format``) is SQL over the pages of
the existing transports: local files (``gateway-files``), an S3 prefix (``gateway-s3``) and a
CloudWatch Logs group (``gateway-cloudwatch``) and Cloud Logging (``gateway-logging``, e.g. Apigee's
MessageLogging). Records land in ``raw_gateway`` keyed by
(gateway name, request id); ``name`` is the gateway's name in reports (default: the format).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ingest import aws
from ingest.errors import ConfigError
from ingest.source import (
    EPOCH_MS,
    FILE_MTIME,
    OBJECT_KEY,
    TIMESTAMP_ID,
    Option,
    Page,
    Source,
    SourceRun,
    path_argument,
)
from ingest.sources.gateway import format, formats
from ingest.transports import cloud_logging, cloudwatch, files, s3


def _common() -> tuple[Option, ...]:
    return (
        Option(
            "format",
            required=True,
            metavar="F",
            help=f"The gateway's log format: {', '.join(formats.names())}.",
        ),
        Option(
            "name",
            metavar="NAME",
            help="The gateway's name in reports (default: the format).",
        ),
        Option(
            "fields",
            metavar="MAP",
            help="For --format mapping: a JSON path per field, e.g. 'request_id=id; "
            "occurred_at=ts; model=body.model; input_tokens=usage.in; output_tokens=usage.out'.",
        ),
        Option(
            "user_field",
            metavar="KEY",
            help="Request header (or log field, metadata key) naming the user, e.g. "
            "x-user-email (the default; `user` for cloudflare).",
        ),
        Option(
            "team_field",
            metavar="KEY",
            help="Request header (or log field, metadata key) naming the team (default x-team).",
        ),
    )


def _validate(options: dict[str, Any]) -> None:
    formats.get(str(options["format"]), options)  # an unknown format or a bad mapping: exit 2


# ----------------------------------------------------------------------------------------------
# gateway-files


def _local_pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.exists():
        raise ConfigError(f"gateway-files: {root} does not exist; pass an existing file or folder")
    yield from files.pages(run, root, accept=lambda f: f.size > 0)


GATEWAY_FILES = Source(
    name="gateway-files",
    family="gateway",
    summary="Ingest an API gateway's logs (Kong, a body-logging proxy, …) from local files.",
    description=(
        "PATH is a log file or a folder of them: JSON lines or a JSON array export, gzip or "
        "plain whatever the name. Files already read (same size and mtime) are skipped."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest gateway-files /var/log/kong/ai.log --format kong \\\n"
        "    --name kong-prod"
    ),
    tables=(format.RAW,),
    cursor=FILE_MTIME,
    options=(
        path_argument("A gateway log file, or a folder of them.", metavar="PATH"),
        *_common(),
    ),
    validate=_validate,
    transport=_local_pages,
    parse=format.page_format("files"),
    shards=files.SHARDS,
)


# ----------------------------------------------------------------------------------------------
# gateway-s3


def _s3_pages(run: SourceRun) -> Iterator[Page]:
    bucket = str(run.options["bucket"])
    prefix = str(run.options["prefix"] or "")
    partition = s3.Partition(name=prefix or "/", prefix=prefix)
    yield from s3.pages(
        run,
        bucket=bucket,
        partitions=lambda client: [partition],
        accept=lambda parts, size: size > 0,
        overlap=timedelta(hours=int(run.options["overlap_hours"])),
    )


GATEWAY_S3 = Source(
    name="gateway-s3",
    family="gateway",
    summary="Ingest an API gateway's logs delivered to S3 (Firehose, Vector, Fluent Bit, …).",
    description=(
        "Reads every object under the prefix once (key + ETag). Keys dated "
        "<prefix>YYYY/MM/DD/HH/… (Firehose's layout) are listed from the cursor's hour."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest gateway-s3 --bucket acme-gateway-logs \\\n"
        "    --prefix kong/ --format kong --name kong-prod"
    ),
    credentials=aws.CREDENTIALS,
    tables=(format.RAW,),
    cursor=OBJECT_KEY,
    options=(
        Option("bucket", required=True, metavar="NAME", help="Bucket the logs are delivered to."),
        Option("prefix", default="", metavar="P", help="Key prefix of the gateway's logs."),
        *aws.options("Bucket"),
        Option(
            "overlap_hours",
            type=int,
            default=1,
            minimum=0,
            help="Hours re-listed before the cursor, for late deliveries.",
        ),
        *_common(),
    ),
    validate=_validate,
    client=aws.client_factory("s3"),
    transport=_s3_pages,
    parse=format.page_format("s3"),
    unit="objects",
    shards="day prefixes (PREFIX/YYYY/MM/DD/; other keys by their first three levels below it)",
)


# ----------------------------------------------------------------------------------------------
# gateway-cloudwatch


def _cloudwatch_pages(run: SourceRun) -> Iterator[Page]:
    yield from cloudwatch.pages(
        run,
        group=str(run.options["log_group"]),
        overlap=timedelta(minutes=int(run.options["overlap_minutes"])),
    )


GATEWAY_CLOUDWATCH = Source(
    name="gateway-cloudwatch",
    family="gateway",
    summary="Ingest an API gateway's logs from a CloudWatch Logs log group.",
    example=(
        "llmledger --db ledger.duckdb ingest gateway-cloudwatch --log-group /kong/ai \\\n"
        "    --format kong --region us-east-1"
    ),
    credentials=aws.CREDENTIALS,
    tables=(format.RAW,),
    cursor=EPOCH_MS,
    options=(
        Option("log_group", required=True, metavar="G", help="Log group the gateway writes to."),
        *aws.options("Log group"),
        Option(
            "overlap_minutes",
            type=int,
            default=15,
            minimum=0,
            help="Minutes re-read before the cursor, for late events.",
        ),
        *_common(),
    ),
    validate=_validate,
    client=aws.client_factory("logs"),
    transport=_cloudwatch_pages,
    parse=format.page_format("cloudwatch"),
    unit="events",
)


# ----------------------------------------------------------------------------------------------
# gateway-logging (Cloud Logging: Apigee's MessageLogging, any gateway logging to Google Cloud)

# Entries that can be a Claude request's log; the user's --filter narrows them (a log name).
LOGGING_KINDS = 'jsonPayload.model:"claude" OR textPayload:"claude"'

GATEWAY_LOGGING = Source(
    name="gateway-logging",
    family="gateway",
    summary="Ingest an API gateway's logs from Google Cloud Logging (e.g. Apigee MessageLogging).",
    description=(
        "Reads entries whose jsonPayload.model (or textPayload) names a Claude model, ANDed "
        "with --filter; the checkpoint per project is (timestamp, insertId)."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest gateway-logging --project acme-apigee \\\n"
        "    --format apigee --filter 'logName=\"projects/acme-apigee/logs/llm-gateway\"'"
    ),
    tables=(format.RAW,),
    cursor=TIMESTAMP_ID,
    options=(
        Option("project", required=True, metavar="P", help="Google Cloud project of the logs."),
        Option(
            "api_endpoint",
            metavar="URL",
            help="Cloud Logging endpoint (default https://logging.googleapis.com).",
        ),
        Option(
            "anonymous",
            type=bool,
            help="Send no credentials (a local endpoint); otherwise google-auth's chain.",
        ),
        Option("filter", metavar="F", help="Extra Cloud Logging filter, e.g. a logName."),
        Option(
            "page_size",
            type=int,
            minimum=1,
            maximum=1000,
            metavar="N",
            help="Entries per entries.list call (1-1000, default 1000).",
        ),
        *_common(),
    ),
    validate=_validate,
    transport=cloud_logging.entries(LOGGING_KINDS),
    parse=format.page_format("api"),
    client=cloud_logging.client_factory("gateway-logging"),
    unit="entries",
)
