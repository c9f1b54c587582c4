"""The dashboard's only door to data: the published snapshot, opened read-only and briefly.

The process holds one read-only handle on the snapshot (``models.snapshot.attach_snapshot``)
for as long as the file at the snapshot path is the one it opened: each query first compares
the path's inode, size and mtime with the held file's (a stat, microseconds) and reopens when an
ingest has published a new snapshot (an atomic rename, which never waits for the dashboard).
Opening a DuckDB file costs tens of milliseconds, more on a busy machine, and a page runs ten
queries, so opening per query made every page slow. Results are cached with ``st.cache_data``
keyed on the snapshot's identity (an id inside the file), so a new snapshot invalidates them;
each script run pins one snapshot (:func:`pin`) so a page never mixes two.

The snapshot path comes from ``LLMLEDGER_SNAPSHOT``, which ``llmledger dashboard`` sets.

Who may see what is decided here, once: :func:`query` runs every view through
``models.views.read`` with the viewer's ``Scope`` (set by ``access.current_viewer`` in the
session; nothing until then), which narrows every filter to the viewer's teams in SQL and
refuses company-wide queries to non-admins. Pages never pass a scope themselves.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from models import snapshot, views

SNAPSHOT_ENV = "LLMLEDGER_SNAPSHOT"
MEMORY_LIMIT_ENV = "LLMLEDGER_MEMORY_LIMIT"  # [database] memory_limit, set by `llmledger dashboard`
TEMP_DIRECTORY_ENV = "LLMLEDGER_TEMP_DIRECTORY"  # [database] temp_directory
SCOPE_KEY = "llmledger_scope"
PIN_KEY = "llmledger_snapshot"  # the snapshot this script run reads (see pin)

# One snapshot connection at a time in this process, used by one query at a time. Rollup
# queries take milliseconds, so serialising them costs nothing visible.
_OPEN_LOCK = threading.Lock()
# the held handle: ((path, device, inode, size, mtime) of the file it opened, connection,
# the snapshot's identity). The snapshot is attached to an in-memory database rather than opened
# by path: DuckDB shares one open database between connections to the same path, so another
# open of the path (a test, `report` in this process) would otherwise get this old file.
_HELD: dict[str, tuple[tuple[Any, ...], Any, str]] = {}


class NoSnapshot(Exception):
    """The snapshot is not configured or not published yet."""


class SnapshotMoved(Exception):
    """A new snapshot was published while this script run was reading the pinned one."""


def snapshot_path() -> Path:
    value = os.environ.get(SNAPSHOT_ENV)
    if not value:
        raise NoSnapshot(
            f"{SNAPSHOT_ENV} is not set; start the dashboard with `llmledger dashboard`"
        )
    path = Path(value)
    if not path.is_file():
        raise NoSnapshot(
            f"no snapshot at {path}; run `llmledger ingest` (or `llmledger demo`) first"
        )
    return path


def _to_frame(result: Any) -> Any:
    if isinstance(result, pa.Table):
        return result.to_pandas()
    return result


def _open(path: Path) -> Any:
    """The snapshot, read-only, with the memory limit and spill folder the config gives."""
    temp = os.environ.get(TEMP_DIRECTORY_ENV)
    return snapshot.attach_snapshot(
        path,
        memory_limit=os.environ.get(MEMORY_LIMIT_ENV) or None,
        temp_directory=Path(temp) if temp else None,
    )


def _connection(path: Path) -> tuple[Any, str]:
    """The held connection to the file now at ``path`` and its identity, opened anew when a
    publish has replaced the file. Call with _OPEN_LOCK held.

    The stat comes before the open: a file replaced in between leaves a key that no longer
    matches, so the next query reopens (never a new key on an old handle)."""
    info = path.stat()
    key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    held = _HELD.get("snapshot")
    if held is not None and held[0] == key:
        return held[1], held[2]
    if held is not None:
        del _HELD["snapshot"]
        held[1].close()  # frees the replaced file's disk space
    con = _open(path)
    try:
        identity = snapshot.identity(con)
    except BaseException:
        con.close()
        raise
    _HELD["snapshot"] = (key, con, identity)
    return con, identity


def run_view(
    path: str,
    name: str,
    *args: Any,
    scope: views.Scope = views.EVERYONE,
    expect: str | None = None,
    **kwargs: Any,
) -> Any:
    """``models.views.read(scope, con, name, ...)`` on the snapshot now at ``path`` (no
    cache). Pages use :func:`query`, which always passes the viewer's scope. With ``expect``
    (a snapshot identity), raises SnapshotMoved if the file is no longer that snapshot."""
    with _OPEN_LOCK:
        con, identity = _connection(Path(path))
        if expect is not None and identity != expect:
            raise SnapshotMoved(path)
        return _to_frame(views.read(scope, con, name, *args, **kwargs))


def pin() -> str:
    """Fix the snapshot this script run reads: every :func:`query` of the run answers from it
    or raises SnapshotMoved (the entry script then reruns on the new one). Without this, a
    publish between two queries of one run mixes two snapshots on one page, e.g. the date
    range of the old one with the totals of the new one."""
    path = snapshot_path()
    with _OPEN_LOCK:
        _, pinned = _connection(path)
    st.session_state[PIN_KEY] = pinned
    return pinned


@st.cache_data(show_spinner=False, max_entries=1024)
def _cached(
    version: str,
    path: str,
    scope: views.Scope,
    name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
) -> Any:
    return run_view(path, name, *args, scope=scope, expect=version, **dict(kwargs))


def set_scope(scope: views.Scope) -> None:
    st.session_state[SCOPE_KEY] = scope


def current_scope() -> views.Scope:
    """The viewer's scope; nothing at all until sign-in has set one (fail closed)."""
    scope = st.session_state.get(SCOPE_KEY)
    return scope if isinstance(scope, views.Scope) else views.NOBODY


def is_admin() -> bool:
    return current_scope().admin


def query(name: str, *args: Any, **kwargs: Any) -> Any:
    """``models.views.<name>(con, *args, **kwargs)`` on the current snapshot as the viewer
    may see it, cached (the scope is part of the cache key)."""
    path = snapshot_path()
    pinned = st.session_state.get(PIN_KEY)
    return _cached(
        pinned if isinstance(pinned, str) else pin(),
        str(path),
        current_scope(),
        name,
        args,
        tuple(sorted(kwargs.items())),
    )


def frame(name: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
    result = query(name, *args, **kwargs)
    assert isinstance(result, pd.DataFrame)
    return result
