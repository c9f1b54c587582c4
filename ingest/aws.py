"""The one place boto3 clients are built, and AWS errors turned into one-line answers.

Credentials come from boto3's standard chain (environment, shared config and credentials
files, AWS_PROFILE or ``profile``, IAM Identity Center / SSO, container and instance roles);
nothing here reads or prints a secret. The region is the one passed, else AWS_REGION, else
AWS_DEFAULT_REGION or the profile's, as the AWS CLI picks it. ``AWS_ENDPOINT_URL`` (and the
per-service ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_LOGS``) are honoured by botocore
itself, which is how tests point the real client at moto's server. Retries are botocore's own
(``standard`` mode unless AWS_RETRY_MODE says otherwise, AWS_MAX_ATTEMPTS attempts, default
5), with exponential backoff and jitter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ingest.errors import ConfigError, SourceUnavailable
from ingest.source import DEADLINES, Option

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
DEFAULT_MAX_ATTEMPTS = 5

# Error codes that mean "these credentials are missing, expired or not allowed".
CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "MissingAuthenticationToken",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
CREDENTIALS_FIX = "run `aws sso login` (or refresh your credentials) or set AWS_PROFILE"
NETWORK_FIX = "check the network, the region and AWS_ENDPOINT_URL"


CREDENTIALS = (
    "AWS credentials come from boto3's standard chain (AWS_PROFILE or --profile, SSO, "
    "environment, instance role); AWS_ENDPOINT_URL points it at another endpoint."
)


def options(where: str = "Bucket") -> tuple[Option, ...]:
    """What every AWS source declares: region, profile and the deadlines (ingest/deadline.py)."""
    return (
        Option("region", metavar="R", help=f"{where} region (else AWS_REGION / the profile's)."),
        Option("profile", metavar="NAME", help="AWS profile (else AWS_PROFILE / the default)."),
        *DEADLINES,
    )


def client_factory(service: str) -> Callable[[dict[str, Any]], Any]:
    """A source's ``client=``: the ``service`` client from its region, profile and deadline."""

    def make(opts: dict[str, Any]) -> Any:
        return client(
            service,
            region=opts.get("region"),
            profile=opts.get("profile"),
            read_timeout=opts.get("request_timeout"),
        )

    return make


def client(
    service: str,
    *,
    region: str | None = None,
    profile: str | None = None,
    read_timeout: float | None = None,
) -> Any:
    """A botocore client for ``service`` from the environment's standard credential chain.

    Each connect waits at most CONNECT_TIMEOUT_SECONDS and each read at most ``read_timeout``
    (capped at READ_TIMEOUT_SECONDS); whole requests are bounded by the run's Deadline."""
    import boto3
    import botocore.exceptions
    from botocore.config import Config

    # botocore reads AWS_DEFAULT_REGION only; the AWS CLI and SDKs read AWS_REGION first.
    region = region or os.environ.get("AWS_REGION", "").strip() or None
    try:
        session = boto3.Session(profile_name=profile or None, region_name=region)
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(
            f"AWS profile '{profile}' not found in ~/.aws/config; pass an existing --profile "
            "or configure it with `aws configure sso`"
        ) from None
    region_name = session.region_name
    if region_name is None:
        if service != "s3":
            raise ConfigError(f"no AWS region for {service}; pass --region or set AWS_REGION")
        region_name = "us-east-1"  # S3 listing works from any region; botocore follows
    mode = os.environ.get("AWS_RETRY_MODE") or "standard"
    attempts = _int_env("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    options: dict[str, Any] = {
        "retries": {"mode": mode, "total_max_attempts": attempts},
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": min(READ_TIMEOUT_SECONDS, read_timeout or READ_TIMEOUT_SECONDS),
        "max_pool_connections": 16,
        "user_agent_extra": "llmledger",
    }
    if service == "s3" and (
        os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    ):
        # A local S3 (moto, MinIO) serves buckets by path, not by virtual host name.
        options["s3"] = {"addressing_style": "path"}
    made = session.client(service, region_name=region_name, config=Config(**options))
    watch_sockets(made)
    return made


def watch_sockets(aws_client: Any) -> None:
    """Let a ``Deadline.request`` cut this client's connections: its pools' connections register
    their socket with the request the calling thread runs under a deadline."""
    from botocore.awsrequest import (
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    from ingest.deadline import watch_socket

    session = getattr(getattr(aws_client, "_endpoint", None), "http_session", None)
    classes = getattr(session, "_pool_classes_by_scheme", None)
    if not isinstance(classes, dict):
        return

    class WatchedHTTP(AWSHTTPConnection):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            sent = super().request(*args, **kwargs)
            watch_socket(self.sock)
            return sent

    class WatchedHTTPS(AWSHTTPSConnection):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            sent = super().request(*args, **kwargs)
            watch_socket(self.sock)
            return sent

    class HTTPPool(AWSHTTPConnectionPool):
        ConnectionCls = WatchedHTTP

    class HTTPSPool(AWSHTTPSConnectionPool):
        ConnectionCls = WatchedHTTPS

    # the session's pool managers share this dict: connections opened from now on are watched
    classes.update({"http": HTTPPool, "https": HTTPSPool})


def guarded_pages(pages: Any, guard: Any, where: str) -> Iterator[Any]:
    """A paginator's pages, each fetched under ``guard`` (a ``Deadline``)."""
    iterator = iter(pages)
    while True:
        with guard.request(where):
            page = next(iterator, None)
        if page is None:
            return
        yield page


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else default


def endpoint_of(aws_client: Any) -> str:
    return str(getattr(getattr(aws_client, "meta", None), "endpoint_url", "") or "AWS")


@contextmanager
def translate_errors(
    source: str,
    aws_client: Any,
    *,
    what: str,
    missing: dict[str, str] | None = None,
) -> Iterator[None]:
    """Turn botocore's exceptions into SourceUnavailable (exit 3) or ConfigError (exit 2).

    ``what`` names the service for the message ("S3", "CloudWatch Logs"); ``missing`` maps
    "does not exist" error codes (NoSuchBucket, ResourceNotFoundException) to a usage message.
    Messages carry error codes and the endpoint, never credentials or AWS's message text for
    credential errors (which can echo a key id).
    """
    import botocore.exceptions as bex

    endpoint = endpoint_of(aws_client)
    try:
        yield
    except (bex.NoCredentialsError, bex.PartialCredentialsError):
        raise SourceUnavailable(
            source, f"{what} refused credentials (no AWS credentials found)", CREDENTIALS_FIX
        ) from None
    except (bex.SSOError, bex.TokenRetrievalError, bex.CredentialRetrievalError) as exc:
        raise SourceUnavailable(
            source, f"{what} refused credentials ({type(exc).__name__})", CREDENTIALS_FIX
        ) from None
    except (
        bex.EndpointConnectionError,
        bex.ConnectTimeoutError,
        bex.ReadTimeoutError,
        bex.ConnectionClosedError,
        bex.ProxyConnectionError,
    ) as exc:
        raise SourceUnavailable(
            source, f"cannot reach {what} at {endpoint} ({type(exc).__name__})", NETWORK_FIX
        ) from None
    except bex.ClientError as exc:
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if missing and code in missing:
            raise ConfigError(missing[code]) from None
        if code in CREDENTIAL_CODES or status in (401, 403):
            raise SourceUnavailable(
                source, f"{what} refused credentials ({code or status})", CREDENTIALS_FIX
            ) from None
        if code in ("Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded"):
            raise SourceUnavailable(
                source,
                f"{what} kept throttling after retries ({code})",
                "run again later or lower the request rate",
            ) from None
        raise SourceUnavailable(
            source,
            f"{what} at {endpoint} failed ({code or status}: {_short(error)})",
            "run again later; if it persists check the AWS service health",
        ) from None
    except bex.BotoCoreError as exc:  # anything else from the transport
        raise SourceUnavailable(
            source, f"cannot reach {what} at {endpoint} ({type(exc).__name__})", NETWORK_FIX
        ) from None


def _short(error: dict[str, Any]) -> str:
    message = str(error.get("Message") or "").splitlines()[0:1]
    return (message[0][:120] if message else "no message").rstrip(".")
