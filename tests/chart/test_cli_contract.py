"""The chart's command line is one the real `cloudlb run` accepts.

Reads the options off the installed click command (core options plus those
the installed provider plugins declare), so a renamed or removed option fails
here instead of in a crash-looping pod.
"""

from __future__ import annotations

from typing import Any

import click
import pytest

from cloudlb.cli import main
from tests.chart.rendering import controller_container, documented_setups, rendered_objects

pytestmark = pytest.mark.timeout(60)

SETUPS = documented_setups()
EVERY_OPTION = {
    "provider": "gcp", "clusterName": "c1", "loadBalancerClass": "example.com/lb", "workers": 8,
    "resyncInterval": 120, "gcInterval": 900, "logLevel": "debug", "logFormat": "text", "serveUnclassed": True,
    "cloudApiRates": "compute-read=20/40,compute-write=5",
    "leaderElection": {"leaseName": "peers", "leaseDuration": "1m", "renewDeadline": "40s", "retryPeriod": "5s"},
    "gcp": {"project": "proj-12345", "region": "us-east1", "endpoint": "http://127.0.0.1:8000"},
}


def run_command() -> click.Command:
    assert isinstance(main, click.Group)
    command = main.commands["run"]
    return command


def accepted_options() -> dict[str, click.Option]:
    return {name: param for param in run_command().params if isinstance(param, click.Option) for name in param.opts}


def parse(args: list[str]) -> dict[str, Any]:
    """Parse the chart's arguments exactly as `cloudlb run` will, without running anything."""
    assert args[0] == "run"
    context = run_command().make_context("run", list(args[1:]), resilient_parsing=False)
    return dict(context.params)


@pytest.mark.parametrize("values", [v for _, v in SETUPS] + [EVERY_OPTION],
                         ids=[n for n, _ in SETUPS] + ["every-option"])
def test_rendered_flags_are_options_of_cloudlb_run(values: dict[str, Any]) -> None:
    args = controller_container(rendered_objects(values))["args"]
    known = accepted_options()
    unknown = [arg for arg in args[1:] if arg.split("=", 1)[0] not in known]
    assert unknown == []


def test_cloudlb_run_reads_the_chart_values_as_meant() -> None:
    params = parse(controller_container(rendered_objects(EVERY_OPTION))["args"])
    assert params["provider"] == "gcp"
    assert params["cluster_name"] == "c1"
    assert params["load_balancer_class"] == "example.com/lb"
    assert params["serve_unclassed"] is True
    assert params["workers"] == 8
    assert params["resync_interval"] == 120.0
    assert params["gc_interval"] == 900.0
    assert params["metrics_port"] == 9090 and params["health_port"] == 8080
    assert params["leader_elect"] is True
    assert params["leader_elect_resource_name"] == "peers"
    assert params["leader_elect_resource_namespace"] == "kube-system"
    assert (params["leader_elect_lease_duration"], params["leader_elect_renew_deadline"],
            params["leader_elect_retry_period"]) == (60.0, 40.0, 5.0)
    assert params["log_level"] == "debug" and params["log_format"] == "text"
    assert set(params["cloud_api_rates"]) == {"compute-read", "compute-write"}
    assert params["gcp_project"] == "proj-12345"
    assert params["gcp_endpoint"] == "http://127.0.0.1:8000"


def test_the_chart_defaults_are_class_only_and_elect_a_leader() -> None:
    params = parse(controller_container(rendered_objects({"provider": "aws", "clusterName": "c1"}))["args"])
    assert params["serve_unclassed"] is False
    assert params["leader_elect"] is True
    # The chart passes client-go's timings and the log level explicitly; they must be the controller's defaults.
    defaults = parse(["run", "--provider=aws", "--cluster-name=c1"])
    assert defaults["serve_unclassed"] is False  # the chart and the command line agree on the safe default
    for name in ("leader_elect_lease_duration", "leader_elect_renew_deadline", "leader_elect_retry_period",
                 "log_level"):
        assert params[name] == defaults[name], name


def test_chart_defaults_match_the_controllers_defaults() -> None:
    # The chart passes ports explicitly; they must be the ones the CLI documents.
    options = accepted_options()
    assert options["--metrics-port"].default == 9090
    assert options["--health-port"].default == 8080
