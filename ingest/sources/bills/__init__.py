"""The providers' bills: AWS CUR 2.0 (Data Exports) and the GCP Cloud Billing export.

Bills are not requests: their rows land in ``raw_aws_cur`` / ``raw_gcp_billing``, are staged by
``models/staging/stg_bill_*.sql`` and feed the ``bill_lines`` and ``bill_check`` marts, never
``usage_events``.

- ``aws-cur-files PATH``: a local copy of an export (``aws s3 sync``), read by manifest
  (``deliveries.py``);
- ``aws-cur-s3 --bucket B --prefix P``: the same from S3;
- ``gcp-billing-files PATH``: Cloud Billing export rows exported as CSV, JSON lines or Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ingest import aws
from ingest.errors import ConfigError
from ingest.source import FILE_MTIME, TIMESTAMP, Option, Page, Source, SourceRun
from ingest.sources.bills import cur, deliveries, gcp
from ingest.transports import files

AWS_CREDENTIALS = (
    "AWS credentials come from boto3's standard chain (AWS_PROFILE or --profile, SSO, "
    "environment, instance role); AWS_ENDPOINT_URL points it at another endpoint."
)
_CUR_DESCRIPTION = (
    "Reads each billing period's current delivery as its Manifest.json names it (Parquet or "
    "gzip CSV); a re-delivered month replaces the earlier delivery. A manifest naming missing "
    "files (a delivery still being written) is rejected and read on a later run. Keeps Bedrock "
    "and AWS Marketplace Claude lines; other services' lines are skipped."
)

AWS_CUR_FILES = Source(
    name="aws-cur-files",
    family="aws-cur",
    summary="Ingest an AWS CUR 2.0 (Data Exports) export from a local copy.",
    description=_CUR_DESCRIPTION,
    example=(
        "aws s3 sync s3://acme-billing/cur/llm-cur ./llm-cur\n"
        "llmledger --db ledger.duckdb ingest aws-cur-files ./llm-cur"
    ),
    tables=(cur.RAW, cur.DELIVERIES),
    cursor=TIMESTAMP,
    options=(
        Option(
            "path",
            argument=True,
            required=True,
            path=True,
            metavar="DIR",
            help="The export's folder (holding data/ and metadata/), or a folder above it.",
        ),
    ),
    transport=deliveries.local_pages,
    parse=cur.parse,
)


def _s3_client(options: dict[str, Any]) -> Any:
    return aws.client("s3", region=options.get("region"), profile=options.get("profile"))


AWS_CUR_S3 = Source(
    name="aws-cur-s3",
    family="aws-cur",
    summary="Ingest an AWS CUR 2.0 (Data Exports) export from S3.",
    description=_CUR_DESCRIPTION,
    example=(
        "llmledger --db ledger.duckdb ingest aws-cur-s3 --bucket acme-billing \\\n"
        "    --prefix cur/llm-cur/"
    ),
    credentials=AWS_CREDENTIALS,
    tables=(cur.RAW, cur.DELIVERIES),
    cursor=TIMESTAMP,
    options=(
        Option("bucket", required=True, metavar="NAME", help="Bucket the export is delivered to."),
        Option(
            "prefix",
            default="",
            metavar="P",
            help="Key prefix of the export (<prefix>/<export name>/), or any prefix above it.",
        ),
        Option("region", metavar="R", help="Bucket region (else AWS_REGION / the profile's)."),
        Option("profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default)."),
    ),
    client=_s3_client,
    transport=deliveries.s3_pages,
    parse=cur.parse,
    unit="objects",
)


def _gcp_pages(run: SourceRun) -> Iterator[Page]:
    root = run.path("path")
    if not root.exists():
        raise ConfigError(f"gcp-billing-files: {root} does not exist; pass an existing folder")
    yield from files.pages(run, root, accept=lambda f: f.size > 0, max_files=100)


GCP_BILLING_FILES = Source(
    name="gcp-billing-files",
    family="gcp-billing",
    summary="Ingest GCP Cloud Billing export rows exported as CSV, JSON lines or Parquet.",
    description=(
        "Files from `bq extract` or `EXPORT DATA` of the billing export table (gzip or plain, "
        "read by content). Keeps the Claude services' lines; other lines are skipped. "
        "Exporting the same rows again updates them (no duplicates)."
    ),
    example=(
        "bq extract --destination_format NEWLINE_DELIMITED_JSON \\\n"
        "    acme-billing:billing.gcp_billing_export_v1_0A1B2C gs://acme-exports/bill-*.json\n"
        "llmledger --db ledger.duckdb ingest gcp-billing-files ./bill-export"
    ),
    tables=(gcp.RAW,),
    cursor=FILE_MTIME,
    options=(
        Option(
            "path",
            argument=True,
            required=True,
            path=True,
            metavar="DIR",
            help="A folder (or one file) of exported billing rows.",
        ),
    ),
    transport=_gcp_pages,
    parse=gcp.parse,
)
