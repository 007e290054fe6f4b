"""ruff and mypy --strict are part of the test command, so a lint or type error fails CI like a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", ["", "providers/aws/tests", "providers/gcp/tests"])
def test_mypy_strict_is_clean(target: str) -> None:
    """The configured files in one run; each provider's own tests package in a run of its own."""
    result = run(sys.executable, "-m", "mypy", *([target] if target else []))
    assert result.returncode == 0, result.stdout + result.stderr
