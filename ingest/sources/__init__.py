"""Every source llmledger reads, by name: the one registry line a new source adds.

The CLI's ``ingest <name>`` commands, the config schema's ``[[sources.<name>]]`` tables and the
raw tables every build needs are generated from ``SOURCES``.
"""

from __future__ import annotations

from ingest.source import Source
from ingest.sources.bedrock import BEDROCK_CLOUDWATCH, BEDROCK_FILES, BEDROCK_S3
from ingest.sources.bills import AWS_CUR_FILES, AWS_CUR_S3, GCP_BILLING, GCP_BILLING_FILES
from ingest.sources.gateway import (
    GATEWAY_CLOUDWATCH,
    GATEWAY_FILES,
    GATEWAY_LOGGING,
    GATEWAY_S3,
)
from ingest.sources.litellm import LITELLM, LITELLM_API, LITELLM_FILES
from ingest.sources.otel import OTEL_FILES, OTEL_S3
from ingest.sources.vertex import VERTEX, VERTEX_FILES

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        BEDROCK_FILES,
        BEDROCK_S3,
        BEDROCK_CLOUDWATCH,
        LITELLM,
        LITELLM_API,
        LITELLM_FILES,
        VERTEX,
        VERTEX_FILES,
        OTEL_FILES,
        OTEL_S3,
        AWS_CUR_FILES,
        AWS_CUR_S3,
        GCP_BILLING_FILES,
        GCP_BILLING,
        GATEWAY_FILES,
        GATEWAY_S3,
        GATEWAY_CLOUDWATCH,
        GATEWAY_LOGGING,
    )
}


def get(name: str) -> Source | None:
    """The source called ``name`` (the old ``bedrock_files`` spelling is accepted too)."""
    return SOURCES.get(name) or SOURCES.get(name.replace("_", "-"))
