"""URLs lose their ``user:pass@`` before they are stored or shown (issue 11, item 5):
in error messages, in the run log, and on the data-health page (tests/test_dashboard_access.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from ingest.errors import DataError, SourceUnavailable
from ingest.loader import LoadResult, record_run
from models.redact import redact, redact_sql


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cannot reach postgresql://ledger:s3cret@db.internal:5432/x now",
            "cannot reach postgresql://***@db.internal:5432/x now",
        ),
        ("a password with an at: http://u:p@ss@host/a", "a password with an at: http://***@host/a"),
        ("two: s3://k:s@b/x and https://t:@h", "two: s3://***@b/x and https://***@h"),
        ("a user alone is a name: postgresql://reader@db:5432/litellm", None),
        ("no userinfo: https://h.example/p?email=a@b.example", None),
        ("an email, not a URL: alice@acme.example", None),
    ],
)
def test_redact_in_python_and_in_sql_agree(text: str, expected: str | None) -> None:
    expected = expected or text
    assert redact(text) == expected
    assert duckdb.execute(f"select {redact_sql('$1')}", [text]).fetchone() == (expected,)


def test_error_messages_are_redacted() -> None:
    error = SourceUnavailable(
        "litellm-api", "cannot reach http://admin:s3cret@proxy:4000", "Check the URL"
    )
    assert str(error) == "litellm-api: cannot reach http://***@proxy:4000. Check the URL"
    assert str(DataError("x: failed (https://u:p@h/)")) == "x: failed (https://***@h/)"


def test_the_run_log_stores_the_message_redacted() -> None:
    con = duckdb.connect()
    con.execute(
        "create table ingest_runs (source varchar, started_at timestamptz, "
        "finished_at timestamptz, status varchar, new_rows bigint, updated_rows bigint, "
        "rejected_rows bigint, message varchar)"
    )
    record_run(
        con,
        source="litellm",
        started_at=datetime.now(UTC),
        status="failed",
        result=LoadResult(),
        message="litellm: cannot connect to postgresql://reader:pw@db:5432/litellm",
    )
    assert con.execute("select message from ingest_runs").fetchall() == [
        ("litellm: cannot connect to postgresql://***@db:5432/litellm",)
    ]


def test_a_failing_source_never_prints_or_stores_its_password(tmp_path: Path) -> None:
    db = tmp_path / "ledger.duckdb"
    # an existing database, where the failed run is logged (a first run that loads nothing
    # leaves no database at all)
    duckdb.connect(str(db)).close()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ingest.cli import main; main()",
            "--db",
            str(db),
            "ingest",
            "litellm-api",
        ]
        + ["--url", "http://admin:s3cret@127.0.0.1:1"],
        capture_output=True,
        text=True,
        env={**os.environ, "LITELLM_MASTER_KEY": "sk-test"},
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "http://***@127.0.0.1:1" in result.stderr
    con = duckdb.connect(str(db), read_only=True)
    messages = [m for (m,) in con.execute("select message from ingest_runs").fetchall()]
    assert messages and not [m for m in messages if "s3cret" in m]
