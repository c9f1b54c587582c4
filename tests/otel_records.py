"""Claude Code telemetry in OTLP JSON, as the OpenTelemetry Collector's file exporter writes it
(one ExportLogsServiceRequest / ExportMetricsServiceRequest per line), for the otel tests and
the privacy feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in values.items() if v is not None]


def nanos(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC)
    return str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def api_request(
    *,
    at: str = "2026-11-02T10:00:03Z",
    model: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    input_tokens: int = 100,
    output_tokens: int = 50,
    cache_read: int = 0,
    cache_creation: int = 0,
    cost: float = 0.00105,
    email: str | None = None,
    user_id: str = "0" * 64,
    session: str = "11111111-1111-4111-8111-111111111111",
    sequence: int = 1,
    request_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``claude_code.api_request`` log record (reference/otel.md)."""
    attrs: dict[str, Any] = {
        "event.name": "api_request",
        "event.timestamp": at,
        "event.sequence": sequence,
        "session.id": session,
        "user.id": user_id,
        "user.email": email,
        "prompt.id": f"prompt-{sequence}",
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_creation_tokens": cache_creation,
        "cost_usd": cost,
        "duration_ms": 2100,
        "request_id": request_id,
        "query_source": "repl_main_thread",
        **(extra or {}),
    }
    return {
        "timeUnixNano": nanos(at),
        "observedTimeUnixNano": nanos(at),
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": attributes(attrs),
    }


def event(name: str, at: str = "2026-11-02T10:00:01Z", **attrs: Any) -> dict[str, Any]:
    """Any other Claude Code event (``user_prompt``, ``tool_result``, ``api_error``...)."""
    return {
        "timeUnixNano": nanos(at),
        "body": {"stringValue": f"claude_code.{name}"},
        "attributes": attributes({"event.name": name, "event.timestamp": at, **attrs}),
    }


def logs_line(records: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> str:
    """One ExportLogsServiceRequest as an OTLP JSON line."""
    base = {"service.name": "claude-code", "service.version": "2.1.197"}
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {"attributes": attributes({**base, **(resource or {})})},
                    "scopeLogs": [
                        {
                            "scope": {"name": "com.anthropic.claude_code.events"},
                            "logRecords": records,
                        }
                    ],
                }
            ]
        }
    )


def metrics_line(
    points: list[tuple[str, dict[str, Any], int | float, str, str]],
    *,
    temporality: int = 1,
    resource: dict[str, Any] | None = None,
) -> str:
    """One ExportMetricsServiceRequest: (metric, attributes, value, start, time) points."""
    metrics = []
    for name, attrs, value, start, end in points:
        point: dict[str, Any] = {
            "attributes": attributes(attrs),
            "startTimeUnixNano": nanos(start),
            "timeUnixNano": nanos(end),
        }
        point["asInt" if isinstance(value, int) else "asDouble"] = (
            str(value) if isinstance(value, int) else value
        )
        metrics.append(
            {
                "name": name,
                "sum": {
                    "dataPoints": [point],
                    "aggregationTemporality": temporality,
                    "isMonotonic": True,
                },
            }
        )
    return json.dumps(
        {
            "resourceMetrics": [
                {
                    "resource": {"attributes": attributes({"service.name": "claude-code"})}
                    if resource is None
                    else {"attributes": attributes(resource)},
                    "scopeMetrics": [
                        {"scope": {"name": "com.anthropic.claude_code"}, "metrics": metrics}
                    ],
                }
            ]
        }
    )
