"""mapping: a format declared in the config, one JSON path per contract field, for any other
gateway."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingest.errors import ConfigError
from ingest.sources.gateway.formats.base import GatewayFormat, select_columns, timestamp

MAPPING_FIELDS = {
    "request_id": "request_id",
    "occurred_at": "ts_text",
    "model": "model_id",
    "provider": "provider",
    "user": "user_hint",
    "consumer": "consumer",
    "key_id": "key_id",
    "team": "team_hint",
    "route": "route",
    "service": "service",
    "status": "status_code",
    "error_type": "error_type",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "cache_write_5m_tokens": "cache_write_5m_tokens",
    "cache_write_1h_tokens": "cache_write_1h_tokens",
    "provider_request_id": "provider_request_id",
    "reported_cost_usd": "reported_cost",
    "total_ms": "total_ms",
    "upstream_ms": "upstream_ms",
    "gateway_ms": "gateway_ms",
}
MAPPING_REQUIRED = ("request_id", "occurred_at", "model", "input_tokens", "output_tokens")
_PATH_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@[]$")


def parse_mapping(spec: str) -> dict[str, str]:
    """``"request_id=req.id; model=body.model"`` as {contract field: JSON path}; a ConfigError
    naming what is wrong."""
    mapping: dict[str, str] = {}
    for part in spec.replace(",", ";").split(";"):
        if not part.strip():
            continue
        key, sep, path = (p.strip() for p in part.partition("="))
        if not sep or not path:
            raise ConfigError(f"gateway mapping: '{part.strip()}' is not field=path")
        if key not in MAPPING_FIELDS:
            raise ConfigError(
                f"gateway mapping: unknown field '{key}'; fields: {', '.join(MAPPING_FIELDS)}"
            )
        if not set(path) <= _PATH_CHARS:
            raise ConfigError(f"gateway mapping: {key}: '{path}' is not a JSON path like a.b[0].c")
        mapping[key] = path.removeprefix("$").removeprefix(".")
    for key in MAPPING_REQUIRED:
        if key not in mapping:
            raise ConfigError(
                f"gateway mapping: no path for {key}; add {key}=<JSON path> to fields "
                "(--fields 'request_id=id; occurred_at=ts; model=model; "
                "input_tokens=usage.in; output_tokens=usage.out')"
            )
    return mapping


def build(mapping: Mapping[str, str]) -> GatewayFormat:
    def value(path: str) -> str:
        return f"json_extract_string(j, '$.{path}')"

    def select(recs: str, options: Mapping[str, Any]) -> str:
        columns = {MAPPING_FIELDS[k]: value(p) for k, p in mapping.items()}
        columns["occurred_at"] = timestamp(value(mapping["occurred_at"]))
        has_cache = "cache_read_tokens" in mapping and any(
            k in mapping for k in ("cache_write_tokens", "cache_write_5m_tokens")
        )
        columns["token_detail"] = "'exact'" if has_cache else "'partial'"
        return select_columns(columns, f"({recs})")

    labels = {("model" if k == "model" else MAPPING_FIELDS[k]): p for k, p in mapping.items()}
    labels["occurred_at"] = mapping["occurred_at"]
    return GatewayFormat("mapping", select, labels=labels)
