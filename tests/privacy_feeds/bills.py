"""Privacy feeds for the bill sources (AWS CUR 2.0 files and S3, GCP billing export files).

Bills carry no prompt or response bodies; the sentinel goes in the fields a bill does carry
that are not kept (user resource tags, a non-principal tag, GCP system labels), and the
``landed`` control is a bill line's account/project in ``bill_lines``: bill rows are not
requests and never reach the usage export.
"""

# ruff: noqa: F811 - pytest fixtures imported from moto_server are redefined as arguments

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bills_fixtures import cur_line, deliver, gcp_jsonl_bytes, gcp_row, parquet_bytes, upload
from moto_server import aws, moto_endpoint  # noqa: F401 - fixtures

from privacy_feeds import SENTINEL, Feed, inputs

BILL_ACCOUNT = "777788889999"


def _lines() -> list[dict[str, Any]]:
    line = cur_line(
        "2026-11-12",
        "USE1-Claude4.6Sonnet-input-tokens-cross-region-global",
        10,
        "0.03",
        account=BILL_ACCOUNT,
        tags={"iamPrincipal/team": "platform", "user:note": SENTINEL},
    )
    line["resource_tags"] = {"user:prompt": SENTINEL}
    return [line]


def _tree(tmp_path: Path) -> Path:
    root = inputs(tmp_path) / "cur"
    deliver(root, "exec-privacy", [("acme-cur-00001.snappy.parquet", parquet_bytes(_lines()))])
    return root


@pytest.fixture
def privacy_feed_aws_cur_files(tmp_path: Path) -> Feed:
    return Feed(args=[str(_tree(tmp_path))], landed=BILL_ACCOUNT, landed_table="bill_lines")


@pytest.fixture
def privacy_feed_aws_cur_s3(aws: Any, tmp_path: Path) -> Feed:
    upload(aws.client("s3"), _tree(tmp_path))
    return Feed(
        args=["--bucket", "acme-billing", "--prefix", "cur/"],
        landed=BILL_ACCOUNT,
        landed_table="bill_lines",
    )


@pytest.fixture
def privacy_feed_gcp_billing_files(tmp_path: Path) -> Feed:
    row = gcp_row(
        "2026-11-12",
        "Claude Sonnet 4.6",
        "Claude Sonnet 4.6 — Input Tokens — global — Context Window Size from 0 to 200000 Tokens",
        1000,
        "0.003",
    )
    row["project"]["id"] = "privacy-proj-7"
    row["system_labels"] = [{"key": "prompt", "value": SENTINEL}]
    folder = inputs(tmp_path) / "gcp"
    folder.mkdir()
    (folder / "bill-000.json").write_bytes(gcp_jsonl_bytes([row]))
    return Feed(args=[str(folder)], landed="privacy-proj-7", landed_table="bill_lines")


@pytest.fixture
def privacy_bigquery_server() -> Iterator[Any]:
    from bigquery_server import FakeBigQuery

    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def privacy_feed_gcp_billing(privacy_bigquery_server: Any) -> Feed:
    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()  # inside the first run
    row = gcp_row(
        day,
        "Claude Sonnet 4.6",
        "Claude Sonnet 4.6 — Input Tokens — global — Context Window Size from 0 to 200000 Tokens",
        1000,
        "0.003",
    )
    row["project"]["id"] = "privacy-proj-bq"
    row["system_labels"] = [{"key": "prompt", "value": SENTINEL}]
    privacy_bigquery_server.rows = [row]
    return Feed(
        args=[
            "--table",
            "acme-billing.billing.gcp_billing_export_v1_X",
            "--api-endpoint",
            privacy_bigquery_server.url,
            "--anonymous",
        ],
        landed="privacy-proj-bq",
        landed_table="bill_lines",
    )
