"""`llmledger collect`: an OTLP/HTTP receiver for Claude Code telemetry (ingest/collector.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.collector import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_ROTATE_BYTES,
    DEFAULT_ROTATE_SECONDS,
    TOKEN_ENV,
    CollectorSettings,
    serve,
)
from ingest.errors import ConfigError


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4318,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Folder the OTLP JSON-lines files are written to (created if missing).",
)
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    metavar="A",
    help="Address to bind; 0.0.0.0 to accept other machines (then set a token).",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    metavar="T",
    help=f"Bearer token clients must send (env {TOKEN_ENV}, preferred: a flag shows in ps); "
    "none: no token asked.",
)
@click.option(
    "--max-request-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_REQUEST_BYTES,
    show_default=True,
    metavar="N",
    help="Largest request body accepted (also after gzip); larger ones get 413.",
)
@click.option(
    "--rotate-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_ROTATE_BYTES,
    show_default=True,
    metavar="N",
    help="Finish a file once it reaches this size (and at every new UTC hour).",
)
@click.option(
    "--rotate-seconds",
    type=click.FloatRange(min=0),
    default=DEFAULT_ROTATE_SECONDS,
    show_default=True,
    metavar="S",
    help="Finish a file (rename .jsonl.part to .jsonl, readable by ingest) once it is this old.",
)
def collect(
    port: int,
    out: str,
    address: str,
    token: str | None,
    max_request_bytes: int,
    rotate_bytes: int,
    rotate_seconds: float,
) -> None:
    """Receive Claude Code telemetry over OTLP/HTTP and write it to files for `ingest otel-files`.

    Accepts POST /v1/logs and /v1/metrics, http/protobuf or http/json, gzip or not, and
    appends each request as one OTLP JSON line (the OpenTelemetry Collector file exporter's
    shape) to a .jsonl.part file, renamed .jsonl when finished (--rotate-seconds). Prompt
    text, tool parameters and bodies are removed before writing. With a token set, requests
    without `Authorization: Bearer <token>` get 401. Point Claude Code at it with
    CLAUDE_CODE_ENABLE_TELEMETRY=1 OTEL_LOGS_EXPORTER=otlp OTEL_METRICS_EXPORTER=otlp
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4318.

    \b
    Example:
      LLMLEDGER_COLLECT_TOKEN=s3cret llmledger collect --port 4318 --out ./otel
      llmledger --db ledger.duckdb ingest otel-files ./otel
    """
    token = token or None
    if token is not None and not token.isprintable():
        raise ConfigError("collect: the token holds unprintable characters")
    server = serve(
        address,
        port,
        CollectorSettings(
            out=Path(out),
            token=token,
            max_request_bytes=max_request_bytes,
            rotate_bytes=rotate_bytes,
            rotate_seconds=rotate_seconds,
            log=lambda line: click.echo(line, err=True),
        ),
    )
    auth = "bearer token required" if token else "no token"
    click.echo(f"collect: listening on {server.url} ({auth}), writing to {out}", err=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
