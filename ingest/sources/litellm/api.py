"""Source ``litellm-api``: the same LiteLLM records through the proxy's REST API.

For proxies whose database is out of reach. Spend logs come from ``GET /spend/logs/v2`` (the
paginated endpoint; the old ``/spend/logs`` is capped at 10,000 rows and not paginated), keys
from ``/key/list?return_full_object=true``, teams from ``/team/list``, users from ``/user/list``,
with ``Authorization: Bearer $LITELLM_MASTER_KEY`` (``ingest/transports/http.py``).

Two pitfalls of ``/spend/logs/v2`` shape the reading (reference/litellm.md section 3):

* ``total`` is capped at 10,000 (``total_is_capped``), and
* pages are OFFSET pages ordered by ``"startTime"`` with no tie-breaker, so rows sharing a start
  time can move between pages and be skipped or repeated.

So the time range is cut into slices (``start_date``/``end_date`` take seconds, both inclusive)
and a slice holding more than one page is halved until each slice fits in a single page, where
order cannot matter. Only a single second with more rows than a page is paged, and then re-read
until every row its ``total`` announces has been seen. Rows are de-duplicated on ``request_id``
and re-read from ``overlap_minutes`` before the cursor, as with the database source.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError, SourceUnavailable
from ingest.source import LocalFile, Page, SourceRun
from ingest.transports import http
from ingest.transports.http import Client

NAME = "litellm-api"
DEFAULT_KEY_ENV = "LITELLM_MASTER_KEY"
DEFAULT_OVERLAP_MINUTES = 30
DEFAULT_PAGE_SIZE = 1000  # the endpoint's maximum
DEFAULT_SLICE_MINUTES = 360  # first cut; a slice over one page is cut finer
DEFAULT_FIRST_RUN_DAYS = 30  # with no cursor and no --since, how far back the first run reads
TOTAL_CAP = 10_000  # /spend/logs/v2 never reports a total above this
BATCH_ROWS = 20_000  # rows parsed and written per transaction
REREADS = 8  # a crowded second is re-read until its rows are all seen, at most this often
ATTEMPTS = http.ATTEMPTS

HINTS = http.Hints(
    unreachable="Check the proxy URL and that the proxy is up",
    refused="Set the key environment variable (default LITELLM_MASTER_KEY) to the "
    "proxy's master key or an admin key",
    status="Check the proxy URL; /spend/logs/v2 needs a recent LiteLLM (else use the "
    "database source, `llmledger ingest litellm`)",
)


def make_client(options: dict[str, Any]) -> Client:
    """The proxy's client: its URL and the key held in the variable ``key_env`` names."""
    url = str(options.get("url") or "").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"litellm-api: url must be http(s)://host[:port], got {url!r}")
    env = options.get("key_env") or DEFAULT_KEY_ENV
    key = os.environ.get(env, "").strip()
    if not key:
        raise ConfigError(
            f"litellm-api: environment variable {env} is not set; export the proxy's master "
            "key (or an admin key) in it, or name another variable with --key-env / key_env"
        )
    return Client(
        source=NAME,
        base_url=url,
        token=key,
        hints=HINTS,
        attempts=int(options.get("attempts") or ATTEMPTS),
    )


# --------------------------------------------------------------------------------------------
# Fetching (I/O only): slices of spend logs, each as the page files that cover it
# --------------------------------------------------------------------------------------------


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Slice:
    start: datetime
    end: datetime  # inclusive, whole seconds
    pages: list[Path] = field(default_factory=list)
    total: int = 0
    complete: bool = True


def _page(client: Client, s: datetime, e: datetime, page: int, size: int) -> tuple[bytes, dict]:
    body = client.get(
        "/spend/logs/v2",
        {
            "start_date": _stamp(s),
            "end_date": _stamp(e),
            "page": page,
            "page_size": size,
            "sort_by": "startTime",
            "sort_order": "asc",
        },
    )
    assert body is not None
    try:
        envelope = json.loads(body)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), list):
            raise ValueError
    except ValueError:
        raise SourceUnavailable(
            NAME,
            f"{client.base_url}/spend/logs/v2 did not answer with a page of spend logs",
            "Check the proxy URL (it must be the LiteLLM proxy itself)",
        ) from None
    return body, envelope


def fetch_slices(
    client: Client,
    start: datetime,
    end: datetime,
    *,
    page_size: int,
    slice_minutes: int,
    workdir: Path,
) -> Iterator[Slice]:
    """Yield consecutive slices covering [start, end], each with the page files holding its rows."""
    counter = 0

    def save(body: bytes) -> Path:
        nonlocal counter
        counter += 1
        path = workdir / f"page-{counter:06d}.json"
        path.write_bytes(body)
        return path

    def read(s: datetime, e: datetime) -> Iterator[Slice]:
        # [s, e] both inclusive on whole seconds; neighbouring slices share their boundary
        # instant, so a row at x.500 is never between two slices (duplicates are dropped)
        body, env = _page(client, s, e, 1, page_size)
        total = int(env.get("total") or 0)
        capped = bool(env.get("total_is_capped")) or total >= TOTAL_CAP
        if total <= page_size and not capped:
            yield Slice(s, e, [save(body)], total)
            return
        seconds = int((e - s).total_seconds())
        if seconds > 1:
            # cut into parts expected to hold about half a page each (16 when the total is
            # capped and so unknown); a part that is still too full is cut again
            parts = 16 if capped else -(-2 * total // page_size)
            parts = max(2, min(parts, seconds))
            bounds = [s + timedelta(seconds=seconds * i // parts) for i in range(parts + 1)]
            for lo, hi in zip(bounds, bounds[1:], strict=False):
                yield from read(lo, hi)
            return
        # one second with more rows than a page: OFFSET pages, re-read until all are seen
        yield _crowded(client, s, e, total, page_size, save, first=(body, env))

    t = start.replace(microsecond=0)
    step = timedelta(minutes=slice_minutes)
    while t < end:
        e = min(t + step, end.replace(microsecond=0) + timedelta(seconds=1))
        yield from read(t, e)
        t = e


def _crowded(
    client: Client,
    s: datetime,
    e: datetime,
    total: int,
    page_size: int,
    save: Any,
    *,
    first: tuple[bytes, dict],
) -> Slice:
    result = Slice(s, e, total=total, complete=False)
    seen: set[str] = set()
    pages = -(-total // page_size)
    for attempt in range(REREADS):
        for page in range(1, pages + 1):
            if attempt == 0 and page == 1:
                body, env = first
            else:
                body, env = _page(client, s, e, page, page_size)
            result.pages.append(save(body))
            seen.update(str(r.get("request_id")) for r in env["data"] if isinstance(r, dict))
        if len(seen) >= total:
            result.complete = True
            break
    return result


def fetch_dimension(client: Client, kind: str) -> Iterator[bytes]:
    """Pages of keys, teams or users (an endpoint an older proxy lacks yields nothing)."""
    if kind == "teams":
        body = client.get("/team/list", {}, missing_ok=True)
        if body is not None:
            yield body
        return
    page, size = 1, 100  # /key/list allows at most 100 per page
    while True:
        if kind == "keys":
            got = client.get(
                "/key/list",
                {
                    "return_full_object": "true",
                    "page": page,
                    "size": size,
                    "include_team_keys": "true",
                },
                missing_ok=True,
            )
        else:
            got = client.get("/user/list", {"page": page, "page_size": size}, missing_ok=True)
        if got is None:
            return
        yield got
        try:
            env = json.loads(got)
        except ValueError:
            return
        total_pages = int(env.get("total_pages") or 1) if isinstance(env, dict) else 1
        if page >= total_pages:
            return
        page += 1


def _unlink(paths: list[Path]) -> Any:
    def release() -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    return release


def _files(paths: list[Path]) -> list[LocalFile]:
    return [LocalFile(path=str(p), location=p.name) for p in paths]


def pages(run: SourceRun) -> Iterator[Page]:
    """The key, team and user snapshots, then the spend-log slices from the window's start,
    consecutive slices grouped into pages of up to BATCH_ROWS rows (one transaction each)."""
    proxy: Client = run.client
    proxy.deadline = run.guard()
    options = run.options
    page_size = int(options["page_size"])
    slice_minutes = int(options["slice_minutes"])
    window = run.window(
        proxy.base_url,
        overlap=timedelta(minutes=int(options["overlap_minutes"])),
        first_run=timedelta(days=int(options["first_run_days"])),
    )
    start = window.start if window.start is not None else run.now
    end = window.end - timedelta(seconds=1) if window.end is not None else run.now
    for kind in ("keys", "teams", "users"):
        saved: list[Path] = []
        for i, body in enumerate(fetch_dimension(proxy, kind)):
            path = run.scratch / f"{kind}-{i:04d}.json"
            path.write_bytes(body)
            saved.append(path)
        if saved:
            yield Page(files=_files(saved), kind=kind, release=_unlink(saved), units=0)
    batch: list[Path] = []
    rows = 0
    for piece in fetch_slices(
        proxy, start, end, page_size=page_size, slice_minutes=slice_minutes, workdir=run.scratch
    ):
        if not piece.complete:
            run.log(
                "warning",
                f"{_stamp(piece.start)} holds {piece.total} rows; "
                f"not all were seen after {REREADS} reads",
            )
        if piece.total == 0:
            _unlink(piece.pages)()
            continue
        batch.extend(piece.pages)
        rows += piece.total
        if rows >= BATCH_ROWS:
            yield Page(files=_files(batch), kind="spend", release=_unlink(batch), units=rows)
            batch, rows = [], 0
    if batch:
        yield Page(files=_files(batch), kind="spend", release=_unlink(batch), units=rows)
