"""Cloud Logging transport: ``entries.list`` pages of one project, as local NDJSON files.

The real google-cloud-logging client over its HTTP/JSON transport (``_use_grpc=False``), built in
one factory (``client_factory``) from the options and the environment: credentials from
google-auth's own chain (ADC, service-account keys, workload identity), or none with
``anonymous``; ``api_endpoint`` points it at a private endpoint or a local test server
(reference/vertex.md §2.2).

Every filter carries an explicit ``timestamp>=… AND timestamp<…`` window: the client silently
ANDs ``timestamp>=now-24h`` into any filter that does not mention ``timestamp`` (§2.1), which
would make backfills and first runs quietly lose everything older than a day. The source's own
clause (which entries, e.g. Vertex AI's Claude calls) comes from its declaration
(``entries(kinds=...)``); the user's ``filter`` option is ANDed to it.

Paging respects the API's read quota (60 ``entries.list`` calls per minute per project, which
cannot be raised, §2.4) with a token bucket on the run's clock; 429/503 (and connection
failures) are retried with google-api-core's exponential back-off up to a bounded deadline, then
the run stops with ``SourceUnavailable`` (exit 3). The runner commits each page with its cursor
(``timestamp|insertId``, which the format reads from the data) in one transaction, so a failed
run keeps the checkpoint of the last page it loaded and loses nothing.

Options read (declared by the source): ``project``, ``api_endpoint``, ``anonymous``, ``filter``,
``page_size``, ``overlap_minutes``, ``calls_per_minute``, ``retry_deadline_seconds``.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

from ingest import deadline as deadlines
from ingest.deadline import Deadline
from ingest.errors import ConfigError, LedgerError, SourceUnavailable
from ingest.source import LocalFile, Page, SourceRun, Transport

DEFAULT_ENDPOINT = "https://logging.googleapis.com"
DEFAULT_PAGE_SIZE = 1000  # the API's maximum; fewer calls against the 60/minute quota
DEFAULT_OVERLAP_MINUTES = 15
DEFAULT_CALLS_PER_MINUTE = 60
DEFAULT_LOOKBACK_DAYS = 30  # a first run without --since: the _Default bucket's retention
DEFAULT_RETRY_DEADLINE_SECONDS = 120
# Back-off between retries (seconds); module constants so tests can shrink them.
RETRY_INITIAL = 1.0
RETRY_MAXIMUM = 32.0

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def build_filter(start: datetime, end: datetime, kinds: str, extra: str | None = None) -> str:
    """The entries.list filter: explicit time window, the entry kinds, the user's extra clause."""
    parts = [
        f'timestamp>="{start.astimezone(UTC).strftime(_TIME_FORMAT)}"',
        f'timestamp<"{end.astimezone(UTC).strftime(_TIME_FORMAT)}"',
        f"({kinds})",
    ]
    if extra and extra.strip():
        parts.append(f"({extra.strip()})")
    return " AND ".join(parts)


class TokenBucket:
    """At most ``per_minute`` acquisitions in any 60-second window.

    A burst of ``burst`` calls, then a refill of ``(per_minute - burst) / 60`` per second, so the
    burst plus a minute of refill never exceeds the quota. ``clock`` and ``sleep`` are injectable
    so tests run on a fake clock instead of sleeping.
    """

    def __init__(
        self,
        per_minute: int = DEFAULT_CALLS_PER_MINUTE,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if burst is None:
            burst = max(1, per_minute // 6)
        self.burst = max(1, min(burst, per_minute - 1)) if per_minute > 1 else 1
        self.rate = (per_minute - self.burst) / 60.0 if per_minute > 1 else 1 / 60.0
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(self.burst)
        self.last = clock()
        self.waited = 0.0  # total seconds slept, for logs and tests

    def acquire(self) -> None:
        while True:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0 - 1e-9:  # float rounding must not strand us just below 1
                self.tokens = max(0.0, self.tokens - 1.0)
                return
            wait = (1.0 - self.tokens) / self.rate
            self.waited += wait
            self.sleep(wait)


def make_client(
    project: str, *, api_endpoint: str | None = None, anonymous: bool = False, name: str
) -> Any:
    """The google-cloud-logging client over HTTP/JSON, credentials from google-auth's chain."""
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import logging as gcl
    except ImportError:
        raise ConfigError(
            f"{name}: google-cloud-logging is not installed; pip install 'llmledger[gcp]'"
        ) from None
    credentials = AnonymousCredentials() if anonymous else None  # None: ADC (google.auth.default)
    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    return gcl.Client(
        project=project, credentials=credentials, _use_grpc=False, client_options=options
    )


def client_factory(name: str) -> Callable[[Mapping[str, Any]], Any]:
    """A source's ``client=``: the client for its options, credential failures as exit 3."""

    def build(options: Mapping[str, Any]) -> Any:
        project = str(options["project"])
        try:
            return make_client(
                project,
                api_endpoint=options.get("api_endpoint"),
                anonymous=bool(options.get("anonymous")),
                name=name,
            )
        except LedgerError:
            raise
        except Exception as exc:  # noqa: BLE001 - only SDK and transport errors are mapped
            mapped = _map_error(exc, name=name, project=project, **_where(options))
            if mapped is None:
                raise
            raise mapped from None

    return build


def _where(options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "endpoint": options.get("api_endpoint") or DEFAULT_ENDPOINT,
        "deadline": float(options.get("retry_deadline_seconds") or DEFAULT_RETRY_DEADLINE_SECONDS),
    }


def make_retry(deadline: float, on_error: Callable[[Exception], None] | None = None) -> Any:
    """google-api-core's exponential back-off on 429, 5xx and connection failures."""
    import requests
    from google.api_core import exceptions as gexc
    from google.api_core import retry as gretry

    return gretry.Retry(
        predicate=gretry.if_exception_type(
            gexc.TooManyRequests,
            gexc.ServiceUnavailable,
            gexc.InternalServerError,
            gexc.BadGateway,
            gexc.GatewayTimeout,
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
        ),
        initial=RETRY_INITIAL,
        maximum=RETRY_MAXIMUM,
        multiplier=2.0,
        timeout=deadline,
        on_error=on_error,
    )


class _CallFailed(Exception):
    """An entries.list call failed for good (after retries); carries the original error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _responses(
    client: Any,
    *,
    project: str,
    filter_: str,
    page_size: int,
    limiter: TokenBucket,
    retry: Any,
    guard: Deadline | None = None,
    endpoint: str = DEFAULT_ENDPOINT,
) -> Generator[tuple[int, list[dict[str, Any]]], None, None]:
    """(response number, its entries) of each non-empty ``client.list_entries`` response (I/O
    only), oldest entries first.

    Each HTTP call goes through the rate limiter and the retry policy, and its raw response is
    kept: pages are handed on as the API's own JSON, so parsing stays in SQL. If the client
    cannot turn an entry into an object, the listing resumes from the next page token (the
    format then rejects that entry with its reason).
    """
    from google.cloud import logging as gcl

    responses: list[dict[str, Any]] = []
    connection = client._connection  # the client's own HTTP connection; wrapped, not replaced
    original = connection.api_request
    guard = guard or Deadline("cloud-logging")
    # each call as a whole (the body too) ends at request_timeout: its socket is cut then
    deadlines.watch_requests_session(connection.http)

    def api_request(*args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            limiter.acquire()
            with guard.request(f"Cloud Logging at {endpoint}"):
                return original(*args, **{**kwargs, "timeout": guard.timeout(60)})

        try:
            response = retry(call)()
        except Exception as exc:  # noqa: BLE001 - re-raised as _CallFailed, mapped by pages()
            raise _CallFailed(exc) from exc
        responses.append(response if isinstance(response, dict) else {})
        return response

    connection.api_request = api_request  # instance attribute shadows the bound method
    try:
        token: str | None = None
        yielded = 0
        while True:
            entries = client.list_entries(
                resource_names=[f"projects/{project}"],
                filter_=filter_,
                order_by=gcl.ASCENDING,
                page_size=page_size,
                page_token=token,
            )
            consumed = 0
            try:
                for _entry in entries:
                    consumed += 1
                    if consumed == len(responses[-1].get("entries") or []):
                        yielded = len(responses)
                        yield yielded, list(responses[-1]["entries"])
                        consumed = 0
                return
            except _CallFailed:
                raise
            except (ValueError, KeyError, TypeError, AttributeError):
                # The client's own entry parsing failed on this page; the format reports why.
                if len(responses) > yielded:
                    yielded = len(responses)
                    yield yielded, list(responses[-1].get("entries") or [])
                token = responses[-1].get("nextPageToken") if responses else None
                if not token:
                    return
    finally:
        del connection.api_request


def entries(kinds: str) -> Transport:
    """The transport of a source whose entries match the filter clause ``kinds``."""

    def transport(run: SourceRun) -> Iterator[Page]:
        return pages(run, kinds=kinds)

    return transport


def pages(run: SourceRun, *, kinds: str) -> Iterator[Page]:
    """One ``Page`` per entries.list response of the project (partition: the project), each an
    NDJSON file in ``run.scratch``; the format reads the cursor from the entries."""
    options = run.options
    project = str(options["project"])
    where = _where(options)
    endpoint, deadline = where["endpoint"], where["deadline"]
    page_size = int(options.get("page_size") or DEFAULT_PAGE_SIZE)
    per_minute = int(options.get("calls_per_minute") or DEFAULT_CALLS_PER_MINUTE)
    overlap = timedelta(minutes=int(options.get("overlap_minutes", DEFAULT_OVERLAP_MINUTES)))
    first_run = timedelta(days=DEFAULT_LOOKBACK_DAYS)
    window = run.window(project, overlap=overlap, first_run=first_run)
    start = window.start or run.now - first_run  # always bounded: see the module docstring
    end = window.end or run.now
    if start >= end:
        return
    filter_ = build_filter(start, end, kinds, options.get("filter"))

    def on_error(exc: Exception) -> None:
        run.log("source_retry", f"{_describe(exc)} from {endpoint}; retrying", project=project)

    limiter = TokenBucket(per_minute, clock=run.clock, sleep=run.sleep)
    responses = _responses(
        run.client,
        project=project,
        filter_=filter_,
        page_size=page_size,
        limiter=limiter,
        retry=make_retry(deadline, on_error),
        guard=run.guard(),
        endpoint=endpoint,
    )
    try:
        for number, listed in responses:
            path = os.path.join(run.scratch, f"page-{number}.ndjson")
            with open(path, "w", encoding="utf-8") as fh:
                for entry in listed:  # serialising the API's dicts; parsing happens in SQL
                    fh.write(json.dumps(entry, separators=(",", ":")))
                    fh.write("\n")
            yield Page(
                files=[LocalFile(path, f"projects/{project} entries.list page {number} line")],
                meta={"partition": project},
                release=functools.partial(_remove, path),
                units=len(listed),
            )
    except LedgerError:
        raise
    except Exception as exc:  # noqa: BLE001 - only SDK and transport errors are mapped
        mapped = _map_error(
            exc, name=run.name, project=project, endpoint=endpoint, deadline=deadline
        )
        if mapped is None:
            raise
        raise mapped from None
    finally:
        responses.close()  # restores the client's connection now, also when stopped early


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        try:
            return f"HTTP {int(code)} {HTTPStatus(int(code)).phrase}"
        except ValueError:
            return f"HTTP {int(code)}"
    return "no connection" if "Connection" in type(exc).__name__ else type(exc).__name__


def _server_message(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()
    text = message[0] if message else ""
    return text[:200]


def _map_error(
    exc: BaseException, *, name: str, project: str, endpoint: str, deadline: float
) -> LedgerError | None:
    """An SDK/transport failure as one line naming the problem and the fix; None if not ours."""
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, _CallFailed):
        exc = exc.error
    if isinstance(exc, LedgerError):  # a deadline (request_timeout, run_timeout)
        return exc
    kept = f"the checkpoint for project {project} was kept"
    if isinstance(exc, gexc.RetryError):
        cause = exc.cause
        what = (
            "could not connect"
            if isinstance(cause, requests.exceptions.RequestException)
            else f"kept answering {_describe(cause)}"
            if cause is not None
            else "kept failing"
        )
        return SourceUnavailable(
            name,
            f"Cloud Logging at {endpoint} {what} for {deadline:g}s of retries",
            f"Check the endpoint and the network, or try again later; {kept}",
        )
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return SourceUnavailable(
            name,
            "no Google credentials found",
            "Run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to "
            "a service-account key file, or pass --anonymous with a local --api-endpoint",
        )
    if isinstance(exc, (auth_exc.RefreshError, auth_exc.TransportError)):
        return SourceUnavailable(
            name,
            "Google credentials were refused (the access token could not be refreshed)",
            f"Check GOOGLE_APPLICATION_CREDENTIALS or re-run `gcloud auth application-default "
            f"login`; {kept}",
        )
    if isinstance(exc, (gexc.Unauthorized, gexc.Forbidden)):
        return SourceUnavailable(
            name,
            f"Cloud Logging refused the credentials for project {project} ({_describe(exc)})",
            "Grant the caller roles/logging.privateLogViewer on the project (Data Access audit "
            f"logs need it) or check GOOGLE_APPLICATION_CREDENTIALS; {kept}",
        )
    if isinstance(exc, gexc.BadRequest):
        return ConfigError(
            f"{name}: Cloud Logging rejected the filter for project {project} "
            f"({_server_message(exc)}); fix the extra filter (--filter or sources.{name}.filter)"
        )
    if isinstance(exc, gexc.NotFound):
        return SourceUnavailable(
            name,
            f"Cloud Logging at {endpoint} does not know project {project} (HTTP 404)",
            "Check --project and --api-endpoint",
        )
    if isinstance(exc, gexc.GoogleAPICallError):
        return SourceUnavailable(
            name,
            f"Cloud Logging at {endpoint} answered {_describe(exc)}",
            f"Try again later; {kept}",
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return SourceUnavailable(
            name,
            f"could not connect to Cloud Logging at {endpoint}",
            f"Check the endpoint and the network; {kept}",
        )
    return None
