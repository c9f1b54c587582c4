"""The providers' bills: AWS CUR 2.0 (Data Exports) and the GCP Cloud Billing export.

Bills are not requests: their rows land in ``raw_aws_cur`` / ``raw_gcp_billing``, are staged by
``models/staging/stg_bill_*.sql`` and feed the ``bill_lines`` and ``bill_check`` marts, never
``usage_events``.

- ``aws-cur-files PATH``: a local copy of an export (``aws s3 sync``), read by manifest
  (``deliveries.py``);
- ``aws-cur-s3 --bucket B --prefix P``: the same from S3;
- ``gcp-billing-files PATH``: Cloud Billing export rows exported as CSV, JSON lines or Parquet;
- ``gcp-billing --table P.D.T``: the export table itself, through google-cloud-bigquery (an
  optional extra), one query per run with explicit usage-time bounds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ingest import aws
from ingest.errors import ConfigError
from ingest.source import FILE_MTIME, TIMESTAMP, Option, Page, Source, SourceRun, path_argument
from ingest.sources.bills import cur, deliveries, gcp
from ingest.transports import bigquery, files

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
        path_argument(
            "The export's folder (holding data/ and metadata/), or a folder above it.",
            metavar="DIR",
        ),
    ),
    transport=deliveries.local_pages,
    parse=cur.parse,
    shards=deliveries.SHARDS,
)


AWS_CUR_S3 = Source(
    name="aws-cur-s3",
    family="aws-cur",
    summary="Ingest an AWS CUR 2.0 (Data Exports) export from S3.",
    description=_CUR_DESCRIPTION,
    example=(
        "llmledger --db ledger.duckdb ingest aws-cur-s3 --bucket acme-billing \\\n"
        "    --prefix cur/llm-cur/"
    ),
    credentials=aws.CREDENTIALS,
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
        *aws.options("Bucket"),
    ),
    client=aws.client_factory("s3"),
    transport=deliveries.s3_pages,
    parse=cur.parse,
    unit="objects",
    shards=deliveries.SHARDS,
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
    options=(path_argument("A folder (or one file) of exported billing rows.", metavar="DIR"),),
    transport=_gcp_pages,
    parse=gcp.parse,
)


_TABLE = re.compile(r"^[A-Za-z0-9_.:-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")


def _validate_table(options: dict[str, Any]) -> None:
    if not _TABLE.match(str(options["table"])):
        raise ConfigError(
            f"gcp-billing: --table must be PROJECT.DATASET.TABLE, got {options['table']!r}"
        )


def _bq_client(options: dict[str, Any]) -> Any:
    table = str(options["table"])
    return bigquery.make_client(
        options.get("project") or table.rsplit(".", 2)[0],
        api_endpoint=options.get("api_endpoint"),
        anonymous=bool(options.get("anonymous")),
        name="gcp-billing",
    )


def _bq_pages(run: SourceRun) -> Iterator[Page]:
    table = str(run.options["table"])
    overlap = timedelta(days=int(run.options["overlap_days"]))
    window = run.window(table, overlap=overlap, first_run=timedelta(days=35))
    start = window.start or (run.now - timedelta(days=35))
    end = window.end or run.now
    # Explicit bounds on usage time (the export is partitioned by day): never a full scan.
    sql = (
        f"select * from `{table}` where usage_start_time >= @start and usage_start_time < @end "
        "and starts_with(service.description, 'Claude')"
    )
    yield from bigquery.query_page(
        run,
        sql=sql,
        parameters=[("start", "TIMESTAMP", start), ("end", "TIMESTAMP", end)],
        location=f"bq://{table}",
        cursors={table: min(end, run.now).isoformat()},
        endpoint=run.options.get("api_endpoint"),
    )


GCP_BILLING = Source(
    name="gcp-billing",
    family="gcp-billing",
    summary="Ingest the GCP Cloud Billing export table from BigQuery (Claude services).",
    description=(
        "One query per run over usage_start_time in [the cursor less --overlap-days, now) "
        "(first run: the last 35 days; --since/--until override), Claude services only, "
        "through google-cloud-bigquery (pip install 'llmledger[bigquery]'). Rows already "
        "read are updated, never added twice."
    ),
    example=(
        "llmledger --db ledger.duckdb ingest gcp-billing \\\n"
        "    --table acme-billing.billing.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"
    ),
    credentials=(
        "Google credentials come from Application Default Credentials "
        "(GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, workload "
        "identity)."
    ),
    tables=(gcp.RAW,),
    cursor=TIMESTAMP,
    options=(
        Option("table", required=True, metavar="P.D.T", help="The billing export table."),
        Option("project", metavar="P", help="Project that runs the query (default: the table's)."),
        Option(
            "api_endpoint",
            metavar="URL",
            help="BigQuery endpoint (default https://bigquery.googleapis.com): a private "
            "endpoint or a local test server.",
        ),
        Option(
            "anonymous",
            type=bool,
            help="Send no credentials (for a local endpoint); otherwise google-auth's chain.",
        ),
        Option(
            "overlap_days",
            type=int,
            default=3,
            minimum=0,
            help="Days re-read before the cursor: billing rows arrive and change late.",
        ),
    ),
    client=_bq_client,
    validate=_validate_table,
    transport=_bq_pages,
    parse=gcp.parse,
    unit="rows",
)
