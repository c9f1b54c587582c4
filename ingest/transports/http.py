"""HTTP: pages of a JSON API saved as files (I/O only; stdlib urllib, retries with tenacity).

A ``Client`` sends ``Authorization: Bearer <token>`` (the token comes from the secret env var a
source's option names), bounds each request as a whole, body included (the run's ``Deadline``:
``request_timeout``, ``run_timeout``), retries 5xx/429 answers and connection failures with
backoff, and turns what stays broken into ``SourceUnavailable``. The texts telling a user what
to do are the source's (``Hints``). Which pages to ask for (and how to cut a time range into
them) is the source's business.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ingest import deadline as deadlines
from ingest.deadline import Deadline
from ingest.errors import SourceUnavailable

ATTEMPTS = 4
TIMEOUT_SECONDS = 60


class _Retryable(Exception):
    """A response worth retrying (5xx, 429) or a connection failure."""


@dataclass(frozen=True)
class Hints:
    """What a user should do when the API is unreachable, refuses the token, or answers an
    error status (the source knows its API)."""

    unreachable: str
    refused: str
    status: str


@dataclass
class Client:
    source: str
    base_url: str
    token: str
    hints: Hints
    attempts: int = ATTEMPTS
    timeout: float = TIMEOUT_SECONDS  # one connect or one read
    requests: int = 0
    deadline: Deadline | None = None  # the run's (the transport hands it in)

    def get(self, path: str, params: dict[str, Any], *, missing_ok: bool = False) -> bytes | None:
        """GET ``path``: the body on 200; None on 404/405/422 when ``missing_ok`` (an endpoint an
        older server lacks); SourceUnavailable after retries, on 401/403 and on other errors."""
        from tenacity import (
            RetryError,
            retry,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")

        guard = self.deadline or Deadline(self.source)

        @retry(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.25, max=8),
            retry=retry_if_exception_type(_Retryable),
        )
        def _get() -> bytes:
            self.requests += 1
            req = urllib.request.Request(
                url,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Accept": "application/json",
                    "User-Agent": "llmledger",
                },
            )
            try:
                with (
                    guard.request(self.base_url),
                    deadlines.urlopen(req, timeout=guard.timeout(self.timeout)) as resp,
                ):
                    return deadlines.read_all(resp)
            except urllib.error.HTTPError as exc:
                if exc.code in (429,) or exc.code >= 500:
                    raise _Retryable(f"HTTP {exc.code} from {path}") from None
                raise
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise _Retryable(f"{reason}") from None

        try:
            return _get()
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SourceUnavailable(
                self.source,
                f"cannot reach {self.base_url} after {self.attempts} attempts: {cause}",
                self.hints.unreachable,
            ) from None
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code in (404, 405, 422):
                return None
            if exc.code in (401, 403):
                raise SourceUnavailable(
                    self.source,
                    f"{self.base_url} refused the key (HTTP {exc.code} on {path})",
                    self.hints.refused,
                ) from None
            raise SourceUnavailable(
                self.source,
                f"{self.base_url} answered HTTP {exc.code} on {path}",
                self.hints.status,
            ) from None
