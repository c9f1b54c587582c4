"""Progress bars on stderr, only when stderr is a terminal (``AppContext.interactive``).

One rich ``Progress`` is shared per process, so the scheduler's bar over the sources and a
source's own bar over its files or pages show together in one display instead of fighting over
the terminal. Off a terminal (cron, systemd, Kubernetes, ``--log-json``) every call is a no-op.

    with progress.bar(app, "bedrock-s3 objects", total=len(keys)) as advance:
        for key in keys:
            ...
            advance(1)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.RLock()
_shared: Any = None  # the live rich Progress, when one is showing
_users = 0


class Task:
    """``task(n=1)`` advances the bar; ``task.describe(text)`` changes its label."""

    def __init__(self, progress: Any = None, task_id: Any = None) -> None:
        self._progress = progress
        self._task_id = task_id

    def __call__(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task_id, n)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task_id, description=text)


@contextmanager
def bar(app: Any, description: str, total: float | None = None) -> Iterator[Task]:
    """A task in the shared display. Quiet (a no-op Task) unless app.interactive."""
    global _shared, _users
    if not getattr(app, "interactive", False):
        yield Task()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with _lock:
        if _shared is None:
            _shared = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            _shared.start()
        _users += 1
        progress = _shared
        task = progress.add_task(description, total=total)

    try:
        yield Task(progress, task)
    finally:
        with _lock:
            progress.remove_task(task)
            _users -= 1
            if _users == 0:
                progress.stop()
                _shared = None


def console_print(app: Any, renderable: Any) -> None:
    """Print a rich renderable (a summary table) on stderr, above any live bars."""
    from rich.console import Console

    with _lock:
        target = _shared.console if _shared is not None else Console(stderr=True)
    target.print(renderable)
