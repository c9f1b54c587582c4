"""A local HTTP server speaking the part of BigQuery's REST API that google-cloud-bigquery's
``query_and_wait`` uses (``POST /bigquery/v2/projects/<p>/queries``, jobs.query), over a billing
export table held in memory: the real client talks to it, as it would to BigQuery.

It understands only the query the ``gcp-billing`` source sends: rows whose ``usage_start_time``
is in ``[@start, @end)`` and whose service is a Claude one. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCHEMA = {
    "fields": [
        {"name": "billing_account_id", "type": "STRING"},
        {"name": "service", "type": "RECORD", "fields": [
            {"name": "id", "type": "STRING"}, {"name": "description", "type": "STRING"}]},
        {"name": "sku", "type": "RECORD", "fields": [
            {"name": "id", "type": "STRING"}, {"name": "description", "type": "STRING"}]},
        {"name": "usage_start_time", "type": "TIMESTAMP"},
        {"name": "usage_end_time", "type": "TIMESTAMP"},
        {"name": "project", "type": "RECORD", "fields": [{"name": "id", "type": "STRING"}]},
        {"name": "labels", "type": "RECORD", "mode": "REPEATED", "fields": [
            {"name": "key", "type": "STRING"}, {"name": "value", "type": "STRING"}]},
        {"name": "location", "type": "RECORD", "fields": [{"name": "region", "type": "STRING"}]},
        {"name": "cost", "type": "FLOAT"},
        {"name": "currency", "type": "STRING"},
        {"name": "usage", "type": "RECORD", "fields": [
            {"name": "amount", "type": "FLOAT"}, {"name": "unit", "type": "STRING"},
            {"name": "amount_in_pricing_units", "type": "FLOAT"},
            {"name": "pricing_unit", "type": "STRING"}]},
        {"name": "credits", "type": "RECORD", "mode": "REPEATED", "fields": [
            {"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT"},
            {"name": "type", "type": "STRING"}]},
        {"name": "cost_at_list", "type": "FLOAT"},
        {"name": "transaction_type", "type": "STRING"},
        {"name": "seller_name", "type": "STRING"},
        {"name": "export_time", "type": "TIMESTAMP"},
        {"name": "system_labels", "type": "RECORD", "mode": "REPEATED", "fields": [
            {"name": "key", "type": "STRING"}, {"name": "value", "type": "STRING"}]},
    ]
}  # fmt: skip


def _micros(text: str) -> str:
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return str(int(at.timestamp() * 1_000_000))


def _cell(field: dict[str, Any], value: Any) -> Any:
    if field.get("mode") == "REPEATED":  # BigQuery sends an empty list, never null
        return [{"v": _cell({**field, "mode": "NULLABLE"}, v)} for v in value or []]
    if value is None:
        return None
    if field["type"] == "RECORD":
        return {"f": [{"v": _cell(f, value.get(f["name"]))} for f in field["fields"]]}
    if field["type"] == "TIMESTAMP":
        return _micros(value)
    return str(value)


def encode(row: dict[str, Any]) -> dict[str, Any]:
    return {"f": [{"v": _cell(f, row.get(f["name"]))} for f in SCHEMA["fields"]]}


class FakeBigQuery:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                server.requests.append({"path": self.path, "body": body})
                if server.fail_with is not None:
                    return self._send(server.fail_with, {"error": {"code": server.fail_with,
                        "message": "Not found: Table acme-billing:billing.nope"}})  # fmt: skip
                if not self.path.split("?")[0].endswith("/queries"):
                    return self._send(404, {"error": {"code": 404, "message": self.path}})
                params = {
                    p["name"]: p["parameterValue"]["value"] for p in body.get("queryParameters", [])
                }
                start, end = (_micros(params[k].replace(" ", "T")) for k in ("start", "end"))
                rows = [
                    encode(r)
                    for r in server.rows
                    if start <= _micros(r["usage_start_time"]) < end
                    and r["service"]["description"].startswith("Claude")
                ]
                self._send(
                    200,
                    {
                        "kind": "bigquery#queryResponse",
                        "schema": SCHEMA,
                        "jobComplete": True,
                        "totalRows": str(len(rows)),
                        "rows": rows,
                        "queryId": f"q{len(server.requests)}",
                    },
                )

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeBigQuery:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
