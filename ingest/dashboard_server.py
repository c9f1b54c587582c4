"""Serving the Streamlit dashboard on the published snapshot, for `llmledger dashboard` and
`llmledger demo`."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from ingest.context import AppContext
from ingest.errors import ConfigError

# What the dashboard reads from its environment (it must not import ingest; see pyproject).
SNAPSHOT_ENV = "LLMLEDGER_SNAPSHOT"
AUTH_ENV = "LLMLEDGER_AUTH"
ADMINS_ENV = "LLMLEDGER_ADMINS"
TITLE_ENV = "LLMLEDGER_TITLE"
MEMORY_LIMIT_ENV = "LLMLEDGER_MEMORY_LIMIT"  # [database] memory_limit, for the snapshot opens
TEMP_DIRECTORY_ENV = "LLMLEDGER_TEMP_DIRECTORY"  # [database] temp_directory
STALE_ENV = "LLMLEDGER_STALE_AFTER_HOURS"  # [doctor] stale_after_hours, for Data health


def app_script() -> Path:
    """dashboard/app.py, found without importing the dashboard package."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the dashboard package is not installed; install it with "
            "`pip install 'llmledger[dashboard]'`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def streamlit_command(script: Path, port: int, address: str | None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",  # an installed app, not a dev session
        "--client.toolbarMode",
        "viewer",
    ]
    if address:
        command += ["--server.address", address]
    return command


def dashboard_env(
    snapshot: Path,
    section: dict[str, Any],
    *,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
    stale_after_hours: int | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    if stale_after_hours is not None and STALE_ENV not in env:  # the environment wins
        env[STALE_ENV] = str(stale_after_hours)
    env[SNAPSHOT_ENV] = str(snapshot.resolve())
    if memory_limit:
        env[MEMORY_LIMIT_ENV] = memory_limit
    if temp_directory is not None:
        env[TEMP_DIRECTORY_ENV] = str(temp_directory.resolve())
    env[AUTH_ENV] = "1" if section.get("auth") else "0"
    env[ADMINS_ENV] = ",".join(str(a) for a in section.get("admins", []))
    if section.get("title"):
        env[TITLE_ENV] = str(section["title"])
    return env


def serve(app: AppContext, *, port: int = 8501, address: str | None = None) -> None:
    """Run the dashboard on ``app``'s snapshot until it stops; exit with Streamlit's code.

    Shared by `llmledger dashboard` and `llmledger demo`.
    """
    snapshot = app.snapshot_path
    if not snapshot.is_file():
        raise ConfigError(
            f"no snapshot at {snapshot}; run `llmledger ingest` (or `llmledger demo`) first"
        )
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError(
            "streamlit is not installed; install it with `pip install 'llmledger[dashboard]'`"
        )
    script = app_script()
    section = app.config.section("dashboard")
    env = dashboard_env(
        snapshot,
        section,
        memory_limit=app.memory_limit,
        temp_directory=app.temp_directory,
        stale_after_hours=app.config.section("doctor").get("stale_after_hours"),
    )
    address = bind_address(address, signed_in=bool(section.get("auth")))
    check_port(address, port)  # before the URL is printed: a busy port is one line, exit 2
    shown = "localhost" if address == LOOPBACK else address
    app.log(
        "dashboard",
        f"dashboard on http://{shown}:{port} (snapshot {snapshot}; Ctrl-C stops it)",
        port=port,
        address=address,
        snapshot=str(snapshot),
    )
    sys.exit(run_streamlit(streamlit_command(script, port, address), env))


LOOPBACK = "127.0.0.1"


def bind_address(address: str | None, *, signed_in: bool) -> str:
    """Where the dashboard listens: ``--address`` if given; else every interface when sign-in
    is on, and only this machine when it is off (no sign-in means anyone who can reach the
    port sees every team's spend)."""
    if address:
        return address
    return "0.0.0.0" if signed_in else LOOPBACK  # noqa: S104 - only with sign-in on


def check_port(address: str, port: int) -> None:
    """Fail now, in one line, if ``address:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConfigError(
                f"cannot serve the dashboard on {address}:{port}: {reason.lower()}; "
                "pick another port with --port (or stop what is using it)"
            ) from None


def run_streamlit(command: list[str], env: dict[str, str]) -> int:
    """Run Streamlit as a child; pass SIGTERM on so stopping llmledger stops the server."""
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # Ctrl-C reaches the child too; wait for it to stop
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            child.wait()
