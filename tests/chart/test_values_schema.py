"""Wrong values fail the render before anything is applied, with a message that names the value."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.chart.rendering import REQUIRED_VALUES, render

pytestmark = pytest.mark.timeout(60)


def render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm_python.HelmError) as caught:
        render(values)
    return str(caught.value)


def with_required(**overrides: Any) -> dict[str, Any]:
    return {**REQUIRED_VALUES, **overrides}


# (values, the schema's message naming the value and the rule)
SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("missing required", {}, "at '': missing properties 'provider', 'clusterName'"),
    ("provider name no plugin can have", with_required(provider="Azure Cloud"),
     "at '/provider': 'Azure Cloud' does not match pattern"),
    ("negative replicas", with_required(replicaCount=-1), "at '/replicaCount': minimum: got -1, want 0"),
    ("replicas as text", with_required(replicaCount="two"), "at '/replicaCount': got string, want integer"),
    ("port as text", with_required(metrics={"port": "http"}), "at '/metrics/port': got string, want integer"),
    ("port out of range", with_required(health={"port": 70000}), "at '/health/port': maximum: got 70,000, want 65,535"),
    ("flag as text", with_required(serveUnclassed="yes"), "at '/serveUnclassed': got string, want boolean"),
    ("unknown log level", with_required(logLevel="verbose"),
     "at '/logLevel': value must be one of 'debug', 'info', 'warning', 'error'"),
    ("duration without a unit", with_required(leaderElection={"leaseDuration": "15"}),
     "at '/leaderElection/leaseDuration': '15' does not match pattern"),
    ("rates that are not rates", with_required(cloudApiRates="fast"), "at '/cloudApiRates': 'fast' does not match"),
    ("empty cluster name", with_required(clusterName=""), "at '/clusterName': minLength: got 0, want 1"),
    ("cluster name with spaces", with_required(clusterName="my cluster"),
     "at '/clusterName': 'my cluster' does not match pattern"),
    ("class with upper-case prefix", with_required(loadBalancerClass="Example.com/lb"),
     "at '/loadBalancerClass': 'Example.com/lb' does not match pattern"),
    ("zero workers", with_required(workers=0), "at '/workers': minimum: got 0, want 1"),
    ("unknown aws type", with_required(aws={"defaultType": "alb"}),
     "at '/aws/defaultType': value must be one of '', 'nlb', 'clb'"),
    ("bad pull policy", with_required(image={"pullPolicy": "Sometimes"}),
     "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"),
    ("bad digest", with_required(image={"digest": "latest"}), "at '/image/digest': 'latest' does not match pattern"),
    ("misspelt top-level key", with_required(replicas=3), "at '': additional properties 'replicas' not allowed"),
    ("misspelt nested key", with_required(serviceAccount={"annotation": {}}),
     "at '/serviceAccount': additional properties 'annotation' not allowed"),
    ("annotation value not text", with_required(serviceAccount={"annotations": {"a": 1}}),
     "at '/serviceAccount/annotations/a': got number, want string"),
    ("bad spread", with_required(topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "zone",
                                                            "whenUnsatisfiable": "Never"}]),
     "at '/topologySpreadConstraints/0/whenUnsatisfiable': value must be one of 'DoNotSchedule', 'ScheduleAnyway'"),
    ("bad memory quantity", with_required(resources={"limits": {"memory": "lots"}}), "at '/resources/limits/memory'"),
]


@pytest.mark.parametrize(("values", "message"), [(v, m) for _, v, m in SCHEMA_CASES],
                         ids=[name for name, _, _ in SCHEMA_CASES])
def test_schema_rejects_bad_values_naming_the_value(values: dict[str, Any], message: str) -> None:
    error = render_error(values)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


# Rules that span several values, enforced by the templates with their own sentence.
TEMPLATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no leader election with replicas", with_required(leaderElection={"enabled": False}),
     "leaderElection.enabled=false lets every replica act at once"),
    ("another plugin in the cloudlb image", with_required(provider="digitalocean"),
     'provider "digitalocean" is not in the cloudlb image (it ships aws and gcp): build an image with the plugin '
     "installed and set image.repository"),
    ("same port twice", with_required(metrics={"port": 8080}), "health.port and metrics.port must differ"),
    ("monitor without service", with_required(metrics={"service": {"enabled": False},
                                                       "serviceMonitor": {"enabled": True}}),
     "metrics.serviceMonitor.enabled needs metrics.service.enabled"),
    ("static aws credentials without keys", with_required(staticCredentials={"enabled": True}),
     "staticCredentials.aws.accessKeyId is required"),
    ("static gcp credentials without key", with_required(provider="gcp", staticCredentials={"enabled": True}),
     "staticCredentials.gcp.keyJson is required"),
]


@pytest.mark.parametrize(("values", "message"), [(v, m) for _, v, m in TEMPLATE_CASES],
                         ids=[name for name, _, _ in TEMPLATE_CASES])
def test_inconsistent_values_fail_with_the_charts_message(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)


def test_good_values_of_the_same_shapes_pass() -> None:
    # The counterpart of the cases above: the limits accept what they should.
    rendered = render(with_required(
        replicaCount=0, workers=256, resyncInterval=1.5, clusterName="A-b_9", loadBalancerClass="internal-vip",
        aws={"region": "us-gov-west-1", "defaultType": "clb"}, image={"digest": "sha256:" + "a" * 64},
        podDisruptionBudget={"maxUnavailable": "50%"}, resources={"limits": {"cpu": 1, "memory": "1Gi"}},
        leaderElection={"leaseDuration": "1m30s", "renewDeadline": "45.5s", "retryPeriod": "500ms"},
        cloudApiRates="elbv2-read=10/20, ec2-read=20",
    ))
    assert "cloudlb/templates/deployment.yaml" in rendered


def test_any_plugin_name_is_accepted_with_an_image_that_carries_it() -> None:
    rendered = render(with_required(provider="digitalocean", image={"repository": "registry.example/cloudlb-do",
                                                                     "tag": "1.0.0"}))
    assert '"--provider=digitalocean"' in rendered["cloudlb/templates/deployment.yaml"]
