"""Bedrock model invocation logs: one format (``format.py``) over three transports.

Records land in ``raw_bedrock`` keyed by ``requestId``, whichever way they came.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingest.errors import ConfigError
from ingest.source import FILE_MTIME, Option, Page, Source, SourceRun
from ingest.sources.bedrock import format
from ingest.transports import files

CREDENTIALS = (
    "AWS credentials come from boto3's standard chain (AWS_PROFILE or --profile, SSO, "
    "environment, instance role); AWS_ENDPOINT_URL points it at another endpoint."
)


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
        "exported .json / .json.gz files. Files already read (same size and mtime) are skipped."
    ),
    example=(
        "aws s3 sync s3://acme-bedrock-logs/bedrock-logs ./bedrock-logs\n"
        "llmledger --db ledger.duckdb ingest bedrock-files ./bedrock-logs"
    ),
    tables=(format.RAW,),
    cursor=FILE_MTIME,
    options=(
        Option(
            "path",
            argument=True,
            required=True,
            path=True,
            metavar="DIR",
            help="A folder (or one file) of Bedrock invocation logs.",
        ),
    ),
    transport=_local_pages,
    parse=format.page_format("files"),
)
