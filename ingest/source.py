"""What a source is: a declaration that one runner, the CLI and the config schema consume.

A source (dlt's ``@dlt.resource``, harlequin's ``ADAPTER_OPTIONS``) is data, not code paths::

    SOURCE = Source(
        name="bedrock-files",            # config [[sources.bedrock-files]], `ingest bedrock-files`,
        family="bedrock",                # the `source` recorded in cursors, rejects and runs
        summary="Ingest Bedrock invocation logs from local files.",
        tables=(bedrock.RAW,),           # raw tables: DDL and natural key
        cursor=FILES,                    # how its cursor values compare and map to time
        options=(Option("path", argument=True, required=True, path=True, help=...),),
        transport=files.pages,           # I/O only: yields Pages of local files
        parse=bedrock.parse_page,        # SQL over a page: raw rows + rejects
    )

The **transport** moves bytes (S3 objects, CloudWatch events, local files, Cloud Logging pages,
PostgreSQL COPY pages, HTTP pages) into local files and owns the cursor kind; the **format**
(``parse``) turns a page into raw rows and rejects with SQL over the whole page. The **runner**
(``ingest/runner.py``) owns everything else: options and their defaults, the window, reading
the cursor, fetching ahead while a page parses, the one transaction per page (rows + rejects +
cursor + processed objects), progress, and errors. ``ingest/sources/__init__.py`` lists the
sources; the CLI's ``ingest <name>`` commands and the config schema are generated from it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb

from ingest.deadline import DEFAULT_REQUEST_TIMEOUT, DEFAULT_RUN_TIMEOUT, Deadline
from ingest.errors import ConfigError
from ingest.progress import Task


class Host(Protocol):
    """What a run needs of the application: a logger (``AppContext`` is one)."""

    def log(self, event: str, message: str, **fields: Any) -> None: ...


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option of a source, declared once: the config key, the flag, the default, the help.

    ``name`` is the config key (``log_group``); the flag is ``--log-group``. ``secret_env``
    marks an option whose value is the *name* of an environment variable holding a secret
    (a DSN, a master key): the secret itself never appears in the config or on the command
    line. ``path`` options are resolved relative to the config file. ``cli=False`` keeps an
    option out of the flags (config only, e.g. a page size only a big site would change).
    """

    name: str
    type: type = str
    help: str = ""
    default: Any = None
    required: bool = False
    argument: bool = False
    metavar: str | None = None
    envvar: str | None = None
    secret_env: bool = False
    path: bool = False
    minimum: int | None = None
    maximum: int | None = None
    cli: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, where: str) -> Any:
        """``value`` converted to the option's type, or a ConfigError naming ``where``."""
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                    value = int(value)
                else:
                    raise ConfigError(f"{where} must be an integer, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(f"{where} must be at least {self.minimum}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise ConfigError(f"{where} must be at most {self.maximum}, got {value}")
            return value
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {type(value).__name__} {value!r}")
        return value


REQUEST_TIMEOUT = Option(
    "request_timeout",
    type=int,
    default=DEFAULT_REQUEST_TIMEOUT,
    minimum=1,
    metavar="SECONDS",
    help="The most one request may take, including its whole body (then exit 3).",
)
RUN_TIMEOUT = Option(
    "run_timeout",
    type=int,
    default=DEFAULT_RUN_TIMEOUT,
    minimum=1,
    metavar="SECONDS",
    help="The most one run of this source may take; pages loaded before stay (then exit 3).",
)
# every source that reads over the network declares both (ingest/deadline.py)
DEADLINES = (REQUEST_TIMEOUT, RUN_TIMEOUT)


def path_argument(help: str, *, metavar: str = "PATH") -> Option:  # noqa: A002 - click's name
    """The local file or folder a files source reads: its one positional argument (config key
    ``path``), which must exist."""
    return Option("path", argument=True, required=True, path=True, metavar=metavar, help=help)


@dataclass(frozen=True)
class RawTable:
    """A raw table a source writes: its DDL and natural key (loads upsert on it: the loader
    keeps the key unique; the DDL declares its columns NOT NULL but no PRIMARY KEY)."""

    name: str
    ddl: str
    key: tuple[str, ...]
    prefer: str | None = None  # order-by picking one row among a page's duplicate keys


# ----------------------------------------------------------------------------------------------
# Cursors
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CursorKind:
    """How one kind of cursor value is ordered and placed in time.

    ``order`` turns a value into something comparable (None: not a value of this kind);
    ``time_of`` gives the moment a value stands for, which the runner uses to start the next
    read a little before it (late records) and to keep a cursor from running ahead of now.
    """

    name: str
    order: Callable[[str], Any]
    time_of: Callable[[str], datetime | None]

    def newer(self, old: str | None, new: str | None) -> str | None:
        """The later of two values; a value that does not parse never wins (never backwards)."""
        if new is None or self._key(new) is None:
            return old
        if old is None or self._key(old) is None:
            return new
        return new if self._key(new) > self._key(old) else old

    def _key(self, value: str) -> Any:
        try:
            return self.order(value)
        except (ValueError, TypeError, IndexError):
            return None


def parse_time(value: str) -> datetime:
    """An ISO timestamp (``Z`` or an offset; naive means UTC) as an aware UTC datetime."""
    at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _ms_time(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _key_time(value: str) -> datetime | None:
    """The hour of an S3 key in a ``.../YYYY/MM/DD/HH/...`` layout."""
    parts = value.split("/")
    for i in range(len(parts) - 4, -1, -1):
        try:
            return datetime.strptime("/".join(parts[i : i + 4]), "%Y/%m/%d/%H").replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _stamp_id_time(value: str) -> datetime:
    return parse_time(value.split("|", 1)[0])


def _stamp_id_order(value: str) -> tuple[datetime, str]:
    stamp, _, insert_id = value.partition("|")
    if not insert_id:
        raise ValueError(value)
    return parse_time(stamp), insert_id


OBJECT_KEY = CursorKind("newest object key committed", order=str, time_of=_key_time)
EPOCH_MS = CursorKind("newest event time (epoch ms)", order=int, time_of=_ms_time)
TIMESTAMP = CursorKind("newest record timestamp", order=parse_time, time_of=parse_time)
TIMESTAMP_ID = CursorKind(
    "newest (timestamp, id) read", order=_stamp_id_order, time_of=_stamp_id_time
)
# Local files: processed_objects (path + size:mtime) decides what is new; the cursor is the
# newest modification time read, for information.
FILE_MTIME = CursorKind("newest file modification time", order=parse_time, time_of=parse_time)


@dataclass(frozen=True)
class Window:
    """The [start, end) a run reads for one partition; None is open."""

    start: datetime | None
    end: datetime | None
    cursor: str | None = None


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count`` (``--shard K/N``, K from 0): it reads only the units it
    owns. A transport names its units (an S3 account/region/day prefix, a day folder below the
    walked folder, a bill's period); a unit belongs to one shard, the same one on every run and
    machine (a hash of its name, not Python's per-process ``hash``), so N workers cover
    everything once."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` with 0 <= K < N; anything else is a ConfigError saying so."""
        index, slash, count = text.strip().partition("/")
        if slash and index.isdigit() and count.isdigit() and int(index) < int(count):
            return cls(int(index), int(count))
        raise ConfigError(
            f"--shard must be K/N with 0 <= K < N (K counts from 0, e.g. 0/3), got {text!r}"
        )

    def owns(self, unit: str) -> bool:
        digest = hashlib.blake2b(unit.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


# ----------------------------------------------------------------------------------------------
# Pages
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalFile:
    """A local file of records: where it is, where users see it, and how it is remembered in
    processed_objects (``key`` + ``fingerprint``: an ETag or ``size:mtime_ns``; an empty key is
    not remembered, e.g. a CloudWatch page)."""

    path: str
    location: str
    key: str = ""
    fingerprint: str = ""
    size: int = 0
    line_locations: Sequence[str] | None = None  # line N's location, when a line is a record


@dataclass
class Page:
    """What a transport hands the format: local files, and the cursor they reach.

    ``cursors`` are what the transport itself knows (the newest S3 key per partition, the
    newest CloudWatch event time); the format may add cursors it reads from the data. ``kind``
    lets a format with several record types tell them apart (LiteLLM spend rows vs its key
    snapshot). ``release`` deletes local copies once parsed. ``units`` advances the progress bar.
    """

    files: Sequence[LocalFile]
    cursors: Mapping[str, str] = field(default_factory=dict)
    kind: str = "records"
    release: Callable[[], None] | None = None
    units: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Parsed:
    """A page parsed: rows per raw table (a temp table/view name, a relation or Arrow), the
    rejects (location, reason; never record text), good records per local file, cursors the
    data itself reached, and what to drop once written."""

    rows: Mapping[str, Any]
    rejected: Sequence[tuple[str, str]] = ()
    records_per_file: Mapping[str, int] = field(default_factory=dict)
    cursors: Mapping[str, str] = field(default_factory=dict)
    count: int = 0  # good records, for the log
    # Valid records out of the source's scope (another vendor's model in the same stream), by
    # kind: counted in the run's summary, neither loaded nor rejected.
    skipped: Mapping[str, int] = field(default_factory=dict)
    cleanup: Callable[[duckdb.DuckDBPyConnection], None] | None = None  # drop temp tables

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.cleanup is not None:
            self.cleanup(con)
            self.cleanup = None


# ----------------------------------------------------------------------------------------------
# The run a transport and a format see
# ----------------------------------------------------------------------------------------------


@dataclass
class SourceRun:
    """One run of one source: its options (defaults filled, checked), window, client, scratch.

    Built by the runner; transports and formats read it and never open their own state.
    """

    app: Host
    con: duckdb.DuckDBPyConnection
    source: Source
    options: dict[str, Any]
    since: date | None
    until: date | None
    client: Any
    scratch: Path
    now: datetime
    progress: Task | None = None
    # Bookkeeping reads (cursors, processed objects) come from the transport's thread and the
    # runner's: they share this connection of their own, one query at a time.
    reader: duckdb.DuckDBPyConnection | None = None
    # The clock a transport paces itself by (rate limits); tests hand in a fake one.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # request_timeout / run_timeout of a source that declares them (ingest/deadline.py)
    deadline: Deadline | None = None
    # --shard K/N: the transport reads only the units this worker owns (Source.shards)
    shard: Shard | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.source.name

    def _read(self, sql: str, params: list[Any]) -> list[Any]:
        with self._lock:
            return (self.reader or self.con).execute(sql, params).fetchall()

    def guard(self) -> Deadline:
        """The run's deadlines (unbounded for a source that declares none)."""
        if self.deadline is None:
            self.deadline = Deadline(self.source.name)
        return self.deadline

    def cursor(self, partition: str) -> str | None:
        rows = self._read(
            "select value from ingest_cursors where source = ? and partition = ?",
            [self.source.name, partition],
        )
        return None if not rows else str(rows[0][0])

    def window(
        self,
        partition: str,
        *,
        overlap: timedelta = timedelta(0),
        first_run: timedelta | None = None,
    ) -> Window:
        """--since if given; else the cursor's time less ``overlap``; else ``now - first_run``
        (None: everything). The end is --until, else open."""
        cursor = self.cursor(partition)
        end = _midnight(self.until) if self.until is not None else None
        if self.since is not None:
            return Window(_midnight(self.since), end, cursor)
        at = self.time_of(cursor) if cursor else None
        if at is not None:
            return Window(at - overlap, end, cursor)
        return Window(self.now - first_run if first_run is not None else None, end, cursor)

    def time_of(self, cursor: str) -> datetime | None:
        """The cursor's moment; a value this kind cannot read counts as no cursor."""
        try:
            return self.source.cursor.time_of(cursor)
        except (ValueError, TypeError, IndexError, OverflowError):
            return None

    def processed(self, prefix: str = "") -> dict[str, str]:
        """Object key -> fingerprint of what this source already read (under ``prefix``)."""
        rows = self._read(
            "select object_key, etag from processed_objects "
            "where source = ? and starts_with(object_key, ?)",
            [self.source.name, prefix],
        )
        return {str(k): str(e) for k, e in rows}

    def secret(self, option: str) -> str:
        """The secret held in the environment variable the option names."""
        variable = str(self.options[option])
        value = os.environ.get(variable, "")
        if not value:
            raise ConfigError(
                f"{self.name}: ${variable} is not set; export it (or name another variable "
                f"with {self.source.option(option).flag})"
            )
        return value

    def path(self, option: str) -> Path:
        return Path(str(self.options[option]))

    def log(self, event: str, message: str, **fields: Any) -> None:
        self.app.log(event, f"{self.name}: {message}", source=self.name, **fields)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


Transport = Callable[[SourceRun], Iterator[Page]]
Format = Callable[[duckdb.DuckDBPyConnection, Page, SourceRun], Parsed]


@dataclass(frozen=True)
class Source:
    """A source, declared. See the module docstring."""

    name: str
    family: str
    summary: str
    tables: tuple[RawTable, ...]
    cursor: CursorKind
    transport: Transport
    parse: Format
    options: tuple[Option, ...] = ()
    description: str = ""
    example: str = ""
    credentials: str = ""
    # Builds the SDK client from the options and the environment (one factory per family);
    # tests hand a client pointed at a local server to the runner instead.
    client: Callable[[dict[str, Any]], Any] | None = None
    # Checks across options (beyond each option's type), raising ConfigError.
    validate: Callable[[dict[str, Any]], None] | None = None
    unit: str = "files"  # what the progress bar counts
    # What one --shard K/N worker owns (its transport honours SourceRun.shard); empty: the
    # source does not shard (run one worker per source and `llmledger merge` them instead).
    shards: str = ""

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def configure(self, given: Mapping[str, Any], *, base_dir: Path, where: str) -> dict[str, Any]:
        """The options of one run: ``given`` (config table or flags) checked, defaults filled,
        paths resolved against ``base_dir``. Unknown keys and missing required ones are a
        ConfigError naming ``where``."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{where}: unknown key '{unknown[0]}'; valid keys here: {valid}")
        options: dict[str, Any] = {}
        for option in self.options:
            value = given.get(option.name)
            if value is None or (value == "" and option.required):
                if option.required:
                    how = option.flag if not option.argument else option.name.upper()
                    raise ConfigError(
                        f"{self.name} needs {option.name} ({where}: add {option.name} = ..., "
                        f"or pass {how})"
                    )
                options[option.name] = option.default
                continue
            value = option.check(value, f"{where}.{option.name}")
            if option.path and isinstance(value, str):
                p = Path(os.path.expanduser(value))
                value = str(p if p.is_absolute() else base_dir / p)
            options[option.name] = value
        if self.validate is not None:
            self.validate(options)
        return options
