"""The Deployment runs `cloudlb run` with the options and credentials the values ask for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.rendering import (
    REQUIRED_VALUES,
    controller_container,
    example_files,
    example_values,
    load_values,
    objects_of_kind,
    only_object,
    rendered_objects,
)

pytestmark = pytest.mark.timeout(60)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


POD_NAME = {"fieldRef": {"fieldPath": "metadata.name"}}


def test_default_command_line() -> None:
    container = controller_container(rendered_objects())
    assert container["command"] == ["cloudlb"]
    assert container["args"] == [
        "run", "--provider=aws", "--cluster-name=test-cluster", "--metrics-port=9090", "--health-port=8080",
        "--leader-elect-resource-name=cloudlb", "--leader-elect-resource-namespace=kube-system",
        "--leader-elect-lease-duration=10s", "--leader-elect-renew-deadline=8s", "--leader-elect-retry-period=2s",
        "--log-level=info", "--log-format=json"]
    assert container["image"] == "ghcr.io/cloudlb/cloudlb:0.1.0"
    # The pod's name is the controller's leader-election identity.
    assert env_of(container) == {"POD_NAME": POD_NAME}


def test_every_option_reaches_the_command_line() -> None:
    container = controller_container(rendered_objects({
        "provider": "gcp", "clusterName": "c1", "loadBalancerClass": "example.com/lb", "serveUnclassed": True,
        "workers": 8, "resyncInterval": 120, "gcInterval": 900, "logLevel": "debug", "logFormat": "text",
        "cloudApiRates": "compute-read=20/40", "metrics": {"port": 9100}, "health": {"port": 8081},
        "leaderElection": {"leaseName": "peers", "leaseDuration": "30s", "renewDeadline": "20s",
                           "retryPeriod": "4s"},
        "gcp": {"project": "proj-12345", "region": "us-east1", "endpoint": "http://127.0.0.1:8000"},
        "aws": {"defaultType": "clb"},  # another provider's option is not passed
        "extraArgs": ["--something-new"],
    }))
    assert container["args"] == [
        "run", "--provider=gcp", "--cluster-name=c1", "--load-balancer-class=example.com/lb", "--serve-unclassed",
        "--workers=8", "--resync-interval=120", "--gc-interval=900", "--metrics-port=9100", "--health-port=8081",
        "--leader-elect-resource-name=peers", "--leader-elect-resource-namespace=kube-system",
        "--leader-elect-lease-duration=30s", "--leader-elect-renew-deadline=20s", "--leader-elect-retry-period=4s",
        "--log-level=debug", "--log-format=text", "--cloud-api-rates=compute-read=20/40",
        "--gcp-project=proj-12345", "--gcp-region=us-east1", "--gcp-endpoint=http://127.0.0.1:8000",
        "--something-new",
    ]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": 9100, "health": 8081}


def test_a_single_replica_without_leader_election() -> None:
    container = controller_container(rendered_objects(example_values("single-replica-standalone")))
    assert "--leader-elect=false" in container["args"]
    assert not [arg for arg in container["args"] if arg.startswith("--leader-elect-")]


def test_aws_options_become_flag_and_boto3_environment() -> None:
    container = controller_container(rendered_objects(
        {**REQUIRED_VALUES, "aws": {"region": "eu-west-1", "defaultType": "nlb"}, "gcp": {"project": "other-proj"}}))
    assert "--aws-default-type=nlb" in container["args"]
    assert not [arg for arg in container["args"] if arg.startswith("--gcp-")]
    assert env_of(container) == {"POD_NAME": POD_NAME, "AWS_REGION": "eu-west-1"}


def test_probes_hit_the_health_and_readiness_endpoints_on_the_health_port() -> None:
    container = controller_container(rendered_objects({**REQUIRED_VALUES, "health": {"port": 8181}}))
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {"name": "health", "containerPort": 8181, "protocol": "TCP"} in container["ports"]
    assert "--health-port=8181" in container["args"]


def test_service_account_carries_workload_identity_annotations() -> None:
    for path in example_files():
        values = load_values(path)
        annotations = values.get("serviceAccount", {}).get("annotations")
        if annotations:
            account = only_object(rendered_objects(values), "ServiceAccount")
            assert account["metadata"]["annotations"] == annotations, path.name


def test_aws_static_credentials_from_a_chart_managed_secret() -> None:
    objects = rendered_objects({**REQUIRED_VALUES, "staticCredentials": {
        "enabled": True, "aws": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t"}}})
    secret = only_object(objects, "Secret")
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    container = controller_container(objects)
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    # A changed key rolls the pods.
    annotations = only_object(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/credentials"]) == 64


def test_credentials_checksum_follows_the_secret() -> None:
    def checksum(secret_key: str) -> str:
        objects = rendered_objects({**REQUIRED_VALUES, "staticCredentials": {
            "enabled": True, "aws": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": secret_key}}})
        annotations = only_object(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/credentials"])

    assert checksum("one") != checksum("two")


def test_gcp_static_credentials_from_an_existing_secret_are_mounted_for_adc() -> None:
    objects = rendered_objects(example_values("gcp-static-credentials"))
    assert objects_of_kind(objects, "Secret") == []  # the user's own Secret is used
    pod = only_object(objects, "Deployment")["spec"]["template"]["spec"]
    container = controller_container(objects)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "gcp-credentials"]
    assert volume["secret"]["secretName"] == "cloudlb-gcp"
    assert volume["secret"]["items"] == [{"key": "key.json", "path": "key.json"}]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "gcp-credentials"]
    assert mount["readOnly"] is True
    assert env_of(container)["GOOGLE_APPLICATION_CREDENTIALS"] == mount["mountPath"] + "/key.json"
    # Mode 0440 plus fsGroup: readable by the non-root user, by no one else.
    assert volume["secret"]["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    assert "envFrom" not in container


def test_no_credentials_secret_without_static_credentials() -> None:
    for path in example_files():
        values = load_values(path)
        if not values.get("staticCredentials", {}).get("enabled"):
            assert objects_of_kind(rendered_objects(values), "Secret") == [], path.name


def test_two_replicas_with_disruption_budget_and_spread_by_default() -> None:
    objects = rendered_objects()
    deployment = only_object(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 2
    pdb = only_object(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (spread,) = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"].items() <= pod_labels.items()


def test_no_disruption_budget_for_a_single_replica() -> None:
    values = example_values("single-replica-standalone")
    assert objects_of_kind(rendered_objects(values), "PodDisruptionBudget") == []


def test_scheduling_values_reach_the_pod() -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}]}}}
    own_selector = {"matchLabels": {"team": "net"}}
    pod = only_object(rendered_objects({
        **REQUIRED_VALUES, "priorityClassName": "lb-critical", "nodeSelector": {"pool": "system"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}], "affinity": affinity,
        "topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                       "labelSelector": own_selector}],
        "resources": {"requests": {"cpu": "200m"}}, "imagePullSecrets": [{"name": "regcred"}],
    }), "Deployment")["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "lb-critical"
    # Helm merges maps into the defaults: the chart's Linux selector stays unless set to null.
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "system"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["affinity"] == affinity
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == own_selector  # the user's own selector is kept
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "200m", "memory": "128Mi"}
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]


def test_image_digest_wins_over_tag() -> None:
    digest = "sha256:" + "0" * 64
    container = controller_container(rendered_objects(
        {**REQUIRED_VALUES, "image": {"repository": "registry.example/cloudlb", "tag": "1.2.3", "digest": digest,
                                      "pullPolicy": "Always"}}))
    assert container["image"] == f"registry.example/cloudlb@{digest}"
    assert container["imagePullPolicy"] == "Always"
