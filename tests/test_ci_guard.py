"""The CI guard itself: a skipped real-service test fails when CI=true."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_service_skip_fails_in_ci(tmp_path: Path) -> None:
    conftest = Path(__file__).with_name("conftest.py").read_text()
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_x.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.service
            def test_needs_service():
                pytest.skip("no such service here")

            def test_plain_skip():
                pytest.skip("fine to skip")
            """
        )
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    service: x\n")
    env_ci = {"CI": "true", "PATH": "/usr/bin:/bin"}
    ci = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env_ci,
        cwd=tmp_path,
    )
    assert "1 failed, 1 skipped" in ci.stdout, ci.stdout
    assert "real-service test skipped in CI" in ci.stdout
    local = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert "2 skipped" in local.stdout, local.stdout
