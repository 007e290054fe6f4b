"""What a user gets: the default install carries no test tools and no test-only plugin; a typo is not a package name."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from cloudlb.cli import main
from tests.chart.rendering import REPO_ROOT

TEST_ONLY = {"cloudlb-example", "pytest", "mypy", "ruff", "hypothesis", "matplotlib", "helm-python-sdk",
             "kubernetes-validate"}


# The workspace's own distributions appear in an export as editable paths.
WORKSPACE = {".": "cloudlb", "./providers/aws": "cloudlb-aws", "./providers/gcp": "cloudlb-gcp",
             "./tests/plugin_example": "cloudlb-example"}


def locked_names(*args: str) -> set[str]:
    """The distributions `uv sync` would install with these options, read from uv.lock by uv itself."""
    uv = shutil.which("uv")
    assert uv is not None, "uv is installed by .ci/run"
    exported = subprocess.run([uv, "export", "--frozen", "--no-hashes", "--format", "requirements-txt", *args],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    names = {match.group(1).lower() for line in exported.splitlines()
             if (match := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line))}
    return names | {WORKSPACE[line.removeprefix("-e ").strip()] for line in exported.splitlines()
                    if line.startswith("-e ")}


def test_the_default_install_is_the_sandbox_without_test_tools() -> None:
    default = locked_names()
    assert {"kopf", "kmock", "moto", "boto3", "google-cloud-compute", "cloudlb-aws", "cloudlb-gcp"} <= default
    assert default & TEST_ONLY == set()
    assert locked_names("--group", "dev") >= TEST_ONLY


@pytest.mark.parametrize(("typed", "hint"), [("awz", "did you mean 'aws'? "), ("digitalocean", "")])
def test_an_unknown_provider_lists_the_installed_ones_and_points_at_the_docs(typed: str, hint: str) -> None:
    result = CliRunner().invoke(main, ["run", "--provider", typed, "--cluster-name", "c"])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert f"no cloudlb provider named '{typed}' is installed (installed: aws, " in output
    assert f"{hint}the provider plugins and how to install them are listed at https://" in output
    assert "pip install" not in output and f"cloudlb-{typed}" not in output
