"""What every command shares: the resolved database path, the configuration, and logging."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest import config as config_mod
from ingest import store

DEFAULT_DB = "llmledger.duckdb"


def raw_table_ddl() -> list[str]:
    """Every source family's raw tables, so models build even where a source has no data yet."""
    from ingest import sources  # no SDK imports at module level

    return list(dict.fromkeys(t.ddl for s in sources.SOURCES.values() for t in s.tables))


@dataclass
class AppContext:
    db_path: Path
    config: config_mod.Config
    log_json: bool = False
    quiet: bool = False
    # `--lake DIR|s3://BUCKET/PREFIX`: report/export read this lake, not the database
    lake: Path | str | None = None

    @classmethod
    def create(
        cls, db: str | None, config_path: str | None, *, log_json: bool = False, quiet: bool = False
    ) -> AppContext:
        cfg = config_mod.load(config_path)
        if db:
            db_path = Path(db)
        elif cfg.database_path is not None:
            db_path = cfg.database_path
        else:
            db_path = Path(DEFAULT_DB)
        return cls(db_path=db_path, config=cfg, log_json=log_json, quiet=quiet)

    @property
    def snapshot_path(self) -> Path:
        configured = self.config.section("database").get("snapshot")
        if configured:
            return self.config.resolve(configured)
        return self.db_path.with_name(self.db_path.stem + ".snapshot.duckdb")

    @property
    def scratch_dir(self) -> Path:
        """Where runs keep local copies while they parse them (private, beside the database)."""
        configured = self.config.section("database").get("scratch")
        if configured:
            return self.config.resolve(configured)
        return self.db_path.parent / f".{self.db_path.name}.scratch"

    @property
    def memory_limit(self) -> str:
        """``[database] memory_limit`` (DuckDB's size, or a share of memory), default 50%."""
        from models import limits

        return str(
            self.config.section("database").get("memory_limit") or limits.DEFAULT_MEMORY_LIMIT
        )

    @property
    def temp_directory(self) -> Path:
        """Where DuckDB spills what does not fit in memory_limit: ``[database] temp_directory``,
        else a private folder in the scratch directory."""
        configured = self.config.section("database").get("temp_directory")
        if configured:
            return self.config.resolve(configured)
        return self.scratch_dir / "duckdb"

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = store.connect(
            self.db_path, memory_limit=self.memory_limit, temp_directory=self.temp_directory
        )
        store.ensure_tables(con, raw_table_ddl())
        return con

    def log(self, event: str, message: str, **fields: Any) -> None:
        """Logs and progress go to stderr; stdout carries data only."""
        if self.log_json:
            record = {"ts": datetime.now(UTC).isoformat(), "event": event, "message": message}
            record.update(fields)
            print(json.dumps(record, default=str), file=sys.stderr)
        elif not self.quiet:
            print(message, file=sys.stderr)

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty() and not self.log_json and os.environ.get("CI") != "true"
