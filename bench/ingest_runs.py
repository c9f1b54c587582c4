"""What the ingest benchmarks share: one source run into a database, and a measurement's
wall time, CPU time (every thread of the process) and peak memory."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any


def run_source(db: Path, source: str, options: dict[str, Any]) -> dict[str, Any]:
    """``source`` through the runner into ``db``: its new and rejected rows."""
    from ingest.context import AppContext
    from ingest.runner import run_source as run

    app = AppContext.create(str(db), None, quiet=True)
    con = app.connect()
    result = run(app, con, source, options)
    con.close()
    return {"new": result.new_rows, "rejected": result.rejected_rows}


def finish(detail: dict[str, Any], started: float) -> dict[str, Any]:
    """``detail`` with the seconds since ``started`` and this process's CPU time and peak."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    detail["seconds"] = time.perf_counter() - started
    detail["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # every DuckDB thread included
    detail["maxrss_mb"] = usage.ru_maxrss / 1024
    return detail
