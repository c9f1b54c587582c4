"""The gateway log formats, by ``--format`` name: each a module of SQL over a page's records
(``base.py`` says what they select)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.errors import ConfigError
from ingest.sources.gateway.formats import mapping
from ingest.sources.gateway.formats.anthropic_body import ANTHROPIC_BODY
from ingest.sources.gateway.formats.apigee import APIGEE
from ingest.sources.gateway.formats.base import OUTPUT_COLUMNS, TOKEN_COLUMNS, GatewayFormat
from ingest.sources.gateway.formats.cloudflare import CLOUDFLARE
from ingest.sources.gateway.formats.envoy_ai import ENVOY_AI
from ingest.sources.gateway.formats.kong import KONG

__all__ = ["OUTPUT_COLUMNS", "TOKEN_COLUMNS", "GatewayFormat", "get", "names"]

FORMATS: dict[str, GatewayFormat] = {
    f.name: f for f in (KONG, ANTHROPIC_BODY, ENVOY_AI, CLOUDFLARE, APIGEE)
}


def names() -> list[str]:
    return sorted([*FORMATS, "mapping"])


def get(name: str, options: Mapping[str, Any] | None = None) -> GatewayFormat:
    """The format called ``name``; ``mapping`` is built from the options' ``fields``."""
    if name == "mapping":
        fields = (options or {}).get("fields")
        if not fields:
            raise ConfigError(
                "gateway format mapping needs fields: one JSON path per field, e.g. "
                "--fields 'request_id=id; occurred_at=ts; model=model; "
                "input_tokens=usage.in; output_tokens=usage.out'"
            )
        return mapping.build(mapping.parse_mapping(str(fields)))
    found = FORMATS.get(name)
    if found is None:
        raise ConfigError(f"unknown gateway format '{name}'; use one of: {', '.join(names())}")
    return found
