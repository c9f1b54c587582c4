"""BigQuery: one parameterised query per run, its result rows into a local Parquet file.

A source hands in the SQL (standard SQL, named ``@parameters``) and the parameters; the query
runs through google-cloud-bigquery's REST client (``query_and_wait``, no Storage API), the rows
come back as Arrow with their nested columns intact, and land in the run's scratch as one
Parquet file that the source's format reads with DuckDB. Failures become ``SourceUnavailable``
(exit 3) or, for a table that does not exist or a query BigQuery refuses, a ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ingest.errors import ConfigError, LedgerError, SourceUnavailable
from ingest.source import LocalFile, Page, SourceRun

DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"
TIMEOUT_SECONDS = 300.0


def make_client(
    project: str | None, *, api_endpoint: str | None = None, anonymous: bool = False, name: str
) -> Any:
    """The google-cloud-bigquery client, credentials from google-auth's chain."""
    try:
        import google.cloud.bigquery as bigquery
        from google.auth.credentials import AnonymousCredentials
    except ImportError:
        raise ConfigError(
            f"{name}: google-cloud-bigquery is not installed; pip install 'llmledger[bigquery]'"
        ) from None
    credentials = AnonymousCredentials() if anonymous else None  # None: ADC
    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    try:
        return bigquery.Client(project=project, credentials=credentials, client_options=options)
    except Exception as exc:  # noqa: BLE001 - credential discovery failures are mapped
        raise _map_error(exc, name=name, endpoint=api_endpoint or DEFAULT_ENDPOINT) from None


def query_page(
    run: SourceRun,
    *,
    sql: str,
    parameters: Sequence[tuple[str, str, Any]],
    location: str,
    cursors: Mapping[str, str],
    endpoint: str | None = None,
) -> Iterator[Page]:
    """One page: the query's rows as a local Parquet file (``parameters``: name, type, value)."""
    import google.cloud.bigquery as bigquery
    import pyarrow.parquet as pq

    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(n, t, v) for n, t, v in parameters]
    )
    try:
        rows = run.client.query_and_wait(sql, job_config=config, wait_timeout=TIMEOUT_SECONDS)
        table = rows.to_arrow(create_bqstorage_client=False)
    except LedgerError:
        raise
    except Exception as exc:  # noqa: BLE001 - SDK and transport errors are mapped
        raise _map_error(exc, name=run.name, endpoint=endpoint or DEFAULT_ENDPOINT) from None
    path = run.scratch / "bigquery-result.parquet"
    pq.write_table(table, path)

    def release() -> None:
        path.unlink(missing_ok=True)

    yield Page(
        files=[LocalFile(str(path), location)],
        cursors=dict(cursors),
        units=table.num_rows,
        release=release,
    )


def _map_error(exc: BaseException, *, name: str, endpoint: str) -> LedgerError:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    message = (str(getattr(exc, "message", "") or exc).strip().splitlines() or [""])[0][:200]
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return SourceUnavailable(
            name,
            "no Google credentials found",
            "Run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
            "or pass --anonymous with a local --api-endpoint",
        )
    if isinstance(exc, (gexc.Unauthorized, gexc.Forbidden)):
        return SourceUnavailable(
            name,
            f"BigQuery refused the credentials ({message})",
            "Grant roles/bigquery.dataViewer on the billing dataset and roles/bigquery.jobUser "
            "on the project running the query",
        )
    if isinstance(exc, gexc.NotFound):
        return ConfigError(f"{name}: BigQuery at {endpoint}: {message}; check --table")
    if isinstance(exc, gexc.BadRequest):
        return ConfigError(f"{name}: BigQuery refused the query ({message}); check --table")
    return SourceUnavailable(
        name,
        f"BigQuery at {endpoint} failed ({type(exc).__name__}: {message})",
        "Check the endpoint and the network, or try again later; the cursor was kept",
    )
