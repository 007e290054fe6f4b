"""Provider discovery through entry points, and the CLI that lists and runs providers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudlb.cli import main
from cloudlb.plugins import UnknownProviderError, installed_provider_names, load_plugin

ROOT = Path(__file__).resolve().parent.parent


def test_in_tree_and_example_plugins_are_found_through_entry_points() -> None:
    assert {"aws", "gcp", "example"} <= set(installed_provider_names())
    plugin = load_plugin("example")
    assert plugin.name == "example"
    assert {o.name for o in plugin.capabilities.offerings} == {"external", "internal", "pods"}


def test_unknown_provider_names_the_installed_ones() -> None:
    with pytest.raises(UnknownProviderError) as caught:
        load_plugin("digitalocean")
    assert "digitalocean" in str(caught.value)
    assert "aws" in str(caught.value) and "example" in str(caught.value)


def test_providers_command_lists_capabilities_and_options() -> None:
    result = CliRunner().invoke(main, ["providers"])
    assert result.exit_code == 0, result.output
    assert "example: Example provider with an in-memory cloud" in result.output
    assert "SCTP, TCP, UDP" in result.output
    assert "--example-greeting / CLOUDLB_EXAMPLE_GREETING" in result.output


def test_run_has_plugin_options_and_rejects_an_unknown_provider() -> None:
    runner = CliRunner()
    help_text = runner.invoke(main, ["run", "--help"]).output
    for option in ("--provider", "--cluster-name", "--load-balancer-class", "--serve-unclassed", "--workers",
                   "--metrics-port", "--gcp-project", "--gcp-region", "--gcp-endpoint", "--example-greeting"):
        assert option in help_text
    result = runner.invoke(main, ["run", "--provider", "nope", "--cluster-name", "c"])
    assert result.exit_code == 2
    assert "no cloudlb provider named 'nope'" in result.output and "example" in result.output


def test_options_come_from_cloudlb_environment_variables() -> None:
    result = CliRunner().invoke(main, ["run"], env={"CLOUDLB_PROVIDER": "nope", "CLOUDLB_CLUSTER_NAME": "c"})
    assert "no cloudlb provider named 'nope'" in result.output


def test_example_plugin_installs_from_tests_into_a_fresh_environment(tmp_path: Path) -> None:
    """What a third party does: install the core and a plugin package, and the core finds it.

    The fresh environment also proves that the core needs neither boto3 nor google-cloud-compute.
    """
    uv = shutil.which("uv")
    assert uv is not None, "uv is installed by .ci/run"
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, str(ROOT),
                    str(ROOT / "tests" / "plugin_example")], check=True, timeout=600)
    listed = subprocess.run([str(venv / "bin" / "cloudlb"), "providers"], capture_output=True, text=True,
                            timeout=120, check=True)
    assert listed.stdout.startswith("example: Example provider with an in-memory cloud")
    assert "aws" not in listed.stdout
    missing = subprocess.run([python, "-c", "import boto3"], capture_output=True, timeout=60, check=False)
    assert missing.returncode != 0
    missing = subprocess.run([python, "-c", "import google.cloud.compute_v1"], capture_output=True, timeout=60,
                             check=False)
    assert missing.returncode != 0
