"""Preconditions of the whole test run.

Some tests drive the emulated API server with the real ``kubectl``. Without
it they cannot run, and skipping them would hide that: the run stops at once
with one line that says what to install.
"""

from __future__ import annotations

import shutil

import pytest

KUBECTL_FIXTURES = frozenset({"kubectl", "kubectl_env"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing = [item for item in items if KUBECTL_FIXTURES & set(getattr(item, "fixturenames", ()))]
    if needing and shutil.which("kubectl") is None:
        pytest.exit(f"kubectl is not on PATH and {len(needing)} selected tests drive the emulated API server with "
                    "it: install it (Debian/Ubuntu: apt-get install kubernetes-client) or run .ci/run, which does",
                    returncode=pytest.ExitCode.USAGE_ERROR)
