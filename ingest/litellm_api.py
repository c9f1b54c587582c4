"""Source ``litellm-api``: the same LiteLLM records through the proxy's REST API.

For proxies whose database is out of reach. Spend logs come from ``GET /spend/logs/v2`` (the
paginated endpoint; the old ``/spend/logs`` is capped at 10,000 rows and not paginated), keys
from ``/key/list?return_full_object=true``, teams from ``/team/list``, users from ``/user/list``,
with ``Authorization: Bearer $LITELLM_MASTER_KEY``.

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
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingest import store
from ingest.errors import ConfigError, SourceUnavailable
from ingest.litellm import (
    KEYS_TABLE,
    TEAMS_TABLE,
    USERS_TABLE,
    dimension_relation,
    later,
)
from ingest.litellm_parse import RAW_TABLE, WIRE_COLUMNS, parse_spend
from ingest.loader import Loader, LoadResult, PageWrite

NAME = "litellm-api"
NATURAL_KEY = ["request_id"]
DEFAULT_KEY_ENV = "LITELLM_MASTER_KEY"
DEFAULT_OVERLAP_MINUTES = 30
DEFAULT_PAGE_SIZE = 1000  # the endpoint's maximum
DEFAULT_SLICE_MINUTES = 360  # first cut; a slice over one page is cut finer
DEFAULT_FIRST_RUN_DAYS = 30  # with no cursor and no --since, how far back the first run reads
TOTAL_CAP = 10_000  # /spend/logs/v2 never reports a total above this
BATCH_ROWS = 20_000  # rows parsed and written per transaction
REREADS = 8  # a crowded second is re-read until its rows are all seen, at most this often
ATTEMPTS = 4
TIMEOUT_SECONDS = 60

# wire column -> field of a /spend/logs/v2 row
API_FIELDS = {
    "request_id": "request_id",
    "call_type": "call_type",
    "api_key": "api_key",
    "spend": "spend",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "start_time": "startTime",
    "end_time": "endTime",
    "model": "model",
    "model_id": "model_id",
    "model_group": "model_group",
    "custom_llm_provider": "custom_llm_provider",
    "api_base": "api_base",
    "user_id": "user",
    "team_id": "team_id",
    "organization_id": "organization_id",
    "session_id": "session_id",
    "status": "status",
    "cache_hit": "cache_hit",
    "request_tags": "request_tags",
    "metadata": "metadata",
}
assert list(API_FIELDS) == WIRE_COLUMNS
KEY_FIELDS = {  # raw_litellm_keys column -> JSON path in a /key/list full object
    "token": "$.token",
    "key_alias": "$.key_alias",
    "key_name": "$.key_name",
    "user_id": "$.user_id",
    "team_id": "$.team_id",
    "organization_id": "$.organization_id",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "tpd_limit": "$.tpd_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
    "blocked": "$.blocked",
    "expires_at": "$.expires",
    "created_at": "$.created_at",
    "model_tpm_limit": "$.metadata.model_tpm_limit",
    "model_rpm_limit": "$.metadata.model_rpm_limit",
}
TEAM_FIELDS = {
    "team_id": "$.team_id",
    "team_alias": "$.team_alias",
    "organization_id": "$.organization_id",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "tpd_limit": "$.tpd_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
    "blocked": "$.blocked",
    "model_tpm_limit": "$.metadata.model_tpm_limit",
    "model_rpm_limit": "$.metadata.model_rpm_limit",
}
USER_FIELDS = {
    "user_id": "$.user_id",
    "user_alias": "$.user_alias",
    "user_email": "$.user_email",
    "team_id": "$.team_id",
    "user_role": "$.user_role",
    "tpm_limit": "$.tpm_limit",
    "rpm_limit": "$.rpm_limit",
    "max_parallel_requests": "$.max_parallel_requests",
    "max_budget": "$.max_budget",
    "budget_duration": "$.budget_duration",
}


# --------------------------------------------------------------------------------------------
# HTTP (stdlib urllib; retries with tenacity)
# --------------------------------------------------------------------------------------------


class _Retryable(Exception):
    """A response worth retrying (5xx, 429) or a connection failure."""


@dataclass
class Client:
    base_url: str
    key: str
    attempts: int = ATTEMPTS
    requests: int = 0

    def get(self, path: str, params: dict[str, Any], *, missing_ok: bool = False) -> bytes | None:
        """GET ``path``: the body on 200; None on 404/405/422 when ``missing_ok`` (an endpoint an
        older proxy lacks); SourceUnavailable after retries, on 401/403 and on other errors."""
        from tenacity import (
            RetryError,
            retry,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")

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
                    "Authorization": f"Bearer {self.key}",
                    "Accept": "application/json",
                    "User-Agent": "llmledger",
                },
            )
            try:
                with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
                    return bytes(resp.read())
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
                NAME,
                f"cannot reach {self.base_url} after {self.attempts} attempts: {cause}",
                "Check the proxy URL and that the proxy is up",
            ) from None
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code in (404, 405, 422):
                return None
            if exc.code in (401, 403):
                raise SourceUnavailable(
                    NAME,
                    f"{self.base_url} refused the key (HTTP {exc.code} on {path})",
                    "Set the key environment variable (default LITELLM_MASTER_KEY) to the "
                    "proxy's master key or an admin key",
                ) from None
            raise SourceUnavailable(
                NAME,
                f"{self.base_url} answered HTTP {exc.code} on {path}",
                "Check the proxy URL; /spend/logs/v2 needs a recent LiteLLM (else use the "
                "database source, `llmledger ingest litellm`)",
            ) from None


def client_from_env(options: dict[str, Any]) -> Client:
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
    return Client(base_url=url, key=key, attempts=int(options.get("attempts", ATTEMPTS)))


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


# --------------------------------------------------------------------------------------------
# Parsing (DuckDB, whole pages)
# --------------------------------------------------------------------------------------------


def _files_sql(paths: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def spend_wire(con: duckdb.DuckDBPyConnection, pages: list[Path], name: str) -> None:
    """The rows of /spend/logs/v2 page files as a VARCHAR wire table (each row parsed once)."""
    shape = ", ".join(
        f'"{api_field}": "{"JSON" if wire in ("metadata", "request_tags") else "VARCHAR"}"'
        for wire, api_field in API_FIELDS.items()
    )
    exprs = []
    for wire, api_field in API_FIELDS.items():
        if wire in ("metadata", "request_tags"):  # objects / arrays stay JSON text
            exprs.append(f'cast(r."{api_field}" as varchar) as {wire}')
        else:
            exprs.append(f'r."{api_field}" as {wire}')
    con.execute(
        f"""
        create or replace temp table {name} as
        select {", ".join(exprs)},
               'spend/logs/v2/' || coalesce(r.request_id, page || '#' || ordinal) as location
        from (
            select json_transform(row, '{{{shape}}}') as r, page, ordinal
            from (
                select unnest(rows) as row, generate_subscripts(rows, 1) as ordinal,
                       regexp_extract(filename, '[^/]+$') as page
                from (
                    select from_json(json, '{{"data": ["JSON"]}}').data as rows, filename
                    from read_json_objects({_files_sql(pages)}, filename=true)
                )
            )
        )
        """
    )


def dimension_wire(con: duckdb.DuckDBPyConnection, pages: list[Path], kind: str, name: str) -> None:
    fields = {"keys": KEY_FIELDS, "teams": TEAM_FIELDS, "users": USER_FIELDS}[kind]
    # /key/list -> {"keys": [...]}, /user/list -> {"users": [...]}, /team/list -> [...]
    if kind == "teams":
        rows = f"select json as row from read_json_objects({_files_sql(pages)}, format='array')"
    else:
        rows = (
            f"select unnest(cast(json_extract(json, '$.{kind}') as json[])) as row "
            f"from read_json_objects({_files_sql(pages)})"
        )
    exprs = []
    for column, path in fields.items():
        if column.startswith("model_"):
            exprs.append(f"cast(json_extract(row, '{path}') as varchar) as {column}")
        else:
            exprs.append(f"json_extract_string(row, '{path}') as {column}")
    con.execute(
        f"create or replace temp table {name} as select {', '.join(exprs)} from ({rows})"
        " where json_type(row) = 'OBJECT'"
    )


# --------------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------------


def run(
    app: Any,
    con: duckdb.DuckDBPyConnection,
    options: dict[str, Any],
    *,
    since: date | None,
    until: date | None,
) -> LoadResult:
    client = client_from_env(options)
    page_size = max(1, min(int(options.get("page_size", DEFAULT_PAGE_SIZE)), 1000))
    overlap = int(options.get("overlap_minutes", DEFAULT_OVERLAP_MINUTES))
    slice_minutes = max(1, int(options.get("slice_minutes", DEFAULT_SLICE_MINUTES)))
    partition = client.base_url
    cursor = store.get_cursor(con, NAME, partition)
    now = datetime.now(UTC)
    if since is not None:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    elif cursor is not None:
        start = datetime.fromisoformat(cursor.replace("Z", "+00:00")) - timedelta(minutes=overlap)
    else:
        start = now - timedelta(days=int(options.get("first_run_days", DEFAULT_FIRST_RUN_DAYS)))
    end = (
        datetime(until.year, until.month, until.day, tzinfo=UTC) - timedelta(seconds=1)
        if until is not None
        else now
    )
    total = LoadResult()
    with tempfile.TemporaryDirectory(prefix="llmledger-litellm-api-") as tmp:
        workdir = Path(tmp)
        total += _load_dimensions(con, client, workdir)
        loader = Loader(con, source=NAME, table=RAW_TABLE, key=NATURAL_KEY)
        batch: list[Path] = []
        rows = 0

        def flush() -> None:
            nonlocal cursor, rows
            if batch:
                spend_wire(con, batch, "_litellm_api_wire")
                parsed = parse_spend(
                    con,
                    "_litellm_api_wire",
                    proxy=client.base_url,
                    source_kind="api",
                    source_location=f"{client.base_url}/spend/logs/v2",
                )
                cursor = later(cursor, parsed.max_start)
                loader.write(
                    PageWrite(
                        rows=parsed.table,
                        rejected=parsed.rejected,
                        cursors={partition: cursor} if cursor else {},
                        prefer="start_time desc",
                    )
                )
                parsed.drop(con)
            for path in batch:
                path.unlink(missing_ok=True)
            batch.clear()
            rows = 0

        # consecutive slices are written together, up to BATCH_ROWS rows per transaction
        for piece in fetch_slices(
            client, start, end, page_size=page_size, slice_minutes=slice_minutes, workdir=workdir
        ):
            if not piece.complete and app is not None:
                app.log(
                    "warning",
                    f"{NAME}: {_stamp(piece.start)} holds {piece.total} rows; "
                    f"not all were seen after {REREADS} reads",
                    source=NAME,
                )
            if piece.total == 0:
                for path in piece.pages:
                    path.unlink(missing_ok=True)
                continue
            batch.extend(piece.pages)
            rows += piece.total
            if rows >= BATCH_ROWS:
                flush()
        flush()
        total += loader.total
    con.execute("drop table if exists _litellm_api_wire")
    return total


def _load_dimensions(con: duckdb.DuckDBPyConnection, client: Client, workdir: Path) -> LoadResult:
    result = LoadResult()
    for kind, table in (("keys", KEYS_TABLE), ("teams", TEAMS_TABLE), ("users", USERS_TABLE)):
        pages: list[Path] = []
        for i, body in enumerate(fetch_dimension(client, kind)):
            path = workdir / f"{kind}-{i:04d}.json"
            path.write_bytes(body)
            pages.append(path)
        if not pages:
            continue
        dimension_wire(con, pages, kind, "_litellm_api_dim")
        rel = dimension_relation(
            con, table, "_litellm_api_dim", proxy=client.base_url, source_kind="api"
        )
        loader = Loader(con, source=NAME, table=table, key=[rel.columns[0]])
        result += loader.write(PageWrite(rows=rel))
        con.execute("drop table if exists _litellm_api_dim")
    return result
