"""Pure parts of the provider: names, ownership marks, GKE annotation validation, offerings."""

from __future__ import annotations

import re

import pytest
from cloudlb_gcp import gke_annotations
from cloudlb_gcp.capabilities import CAPABILITIES
from cloudlb_gcp.metadata import region_of_zone
from cloudlb_gcp.names import MAX_NAME_LENGTH, instance_group_name, names_for
from cloudlb_gcp.plugin import plugin
from cloudlb_gcp.provider import GCPProvider

from cloudlb.model import Protocol, ServiceRef
from cloudlb.plan import plan
from cloudlb.plugins import load_plugin
from cloudlb.problems import INVALID_ANNOTATION, UNSUPPORTED_OPTION
from cloudlb.translate import GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION, translate

from .conftest import SpecFactory

INTERNAL_TYPES = (GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION)
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
LONG = "a" * 63


@pytest.mark.parametrize("namespace,name", [("default", "web"), (LONG, LONG), ("kube-system", "x"),
                                            ("ns", "ends-with-dash-" + "z" * 40)])
def test_every_name_is_a_valid_gce_name(namespace: str, name: str) -> None:
    names = names_for("prod-cluster", ServiceRef(namespace, name))
    every = [names.address, names.health_check, names.backend_service, names.traffic_firewall,
             names.health_check_firewall, *(names.forwarding_rule(p) for p in ("TCP", "UDP", "L3_DEFAULT"))]
    for found in every:
        assert len(found) <= MAX_NAME_LENGTH and NAME.match(found), found
    assert NAME.match(instance_group_name("Prod_Cluster.eu"))


def test_names_are_deterministic_and_differ_by_cluster_and_by_truncated_tail() -> None:
    service = ServiceRef("default", LONG)
    assert names_for("a", service) == names_for("a", service)
    assert names_for("a", service) != names_for("b", service)
    assert names_for("a", ServiceRef("default", LONG + "x")) != names_for("a", service)
    assert names_for("a", service).base.startswith("clb-default-aaaa")


@pytest.mark.parametrize("annotations,field", [
    ({gke_annotations.GLOBAL_ACCESS: "yes"}, gke_annotations.GLOBAL_ACCESS),
    ({gke_annotations.GLOBAL_ACCESS: "True"}, gke_annotations.GLOBAL_ACCESS),  # GKE would read it as off
    ({gke_annotations.GLOBAL_ACCESS: "tru\u0435"}, gke_annotations.GLOBAL_ACCESS),  # a Cyrillic e
    ({gke_annotations.SUBNET: "lb-subnet\n-2"}, gke_annotations.SUBNET),
    ({gke_annotations.SUBNET: "subnet-\u0661"}, gke_annotations.SUBNET),
    ({gke_annotations.SUBNET: ""}, gke_annotations.SUBNET),
    ({gke_annotations.IP_ADDRESSES: "my-ip\n"}, None),  # trimmed, valid
    ({gke_annotations.IP_ADDRESSES: "a" * 64}, gke_annotations.IP_ADDRESSES),
    ({gke_annotations.SUBNET: "Bad_Subnet"}, gke_annotations.SUBNET),
    ({gke_annotations.IP_ADDRESSES: "ok-name,Not_OK"}, gke_annotations.IP_ADDRESSES),
    ({gke_annotations.IP_ADDRESSES: "a,b,c"}, gke_annotations.IP_ADDRESSES),
    ({gke_annotations.IP_ADDRESSES: " , "}, gke_annotations.IP_ADDRESSES),
])
def test_malformed_gke_annotations_are_fatal(make_spec: SpecFactory, annotations: dict[str, str],
                                             field: str | None) -> None:
    problems = gke_annotations.validate(make_spec(internal=True, annotations=annotations))
    if field is None:
        assert problems == []
        return
    assert [(p.reason, p.fatal) for p in problems] == [(INVALID_ANNOTATION, True)]
    assert problems[0].field == f"metadata.annotations[{field}]"


def test_well_formed_annotations_pass_and_internal_only_ones_warn_on_external(make_spec: SpecFactory) -> None:
    good = {gke_annotations.GLOBAL_ACCESS: "true", gke_annotations.SUBNET: " lb-subnet\n",
            gke_annotations.IP_ADDRESSES: "my-ip"}
    assert gke_annotations.validate(make_spec(internal=True, annotations=good)) == []
    options = gke_annotations.read_options(good)
    assert (options.global_access, options.subnet, options.address_names) == (True, "lb-subnet", ("my-ip",))
    warnings = gke_annotations.validate(make_spec(annotations={gke_annotations.SUBNET: "lb-subnet"}))
    assert [(p.reason, p.fatal) for p in warnings] == [(UNSUPPORTED_OPTION, False)]


def test_offerings_serve_sctp_only_internally(provider: GCPProvider, make_spec: SpecFactory) -> None:
    assert provider.offering_for(make_spec()).name == "external"
    assert Protocol.SCTP not in provider.offering_for(make_spec()).protocols
    assert Protocol.SCTP in provider.offering_for(make_spec(internal=True)).protocols


def test_the_plugin_is_found_through_its_entry_point() -> None:
    found = load_plugin("gcp")
    assert found is plugin
    assert [(o.name, o.key, o.envvar) for o in found.options] == [
        ("gcp-project", "gcp_project", "CLOUDLB_GCP_PROJECT"),
        ("gcp-region", "gcp_region", "CLOUDLB_GCP_REGION"),
        ("gcp-endpoint", "gcp_endpoint", "CLOUDLB_GCP_ENDPOINT"),
    ]
    assert {o.name for o in found.capabilities.offerings} == {"external", "internal"}


def test_region_of_a_metadata_zone() -> None:
    assert region_of_zone("europe-west1-b") == "europe-west1"


def test_every_annotation_declared_honoured_is_read(provider: GCPProvider) -> None:
    """A value nothing can accept, under each honoured name, is answered by the provider or the core."""
    for name in sorted(CAPABILITIES.annotations):
        external = name in INTERNAL_TYPES or name in gke_annotations.EXTERNAL_ONLY
        annotations = {name: "%%", **({} if external else {GKE_TYPE_ANNOTATION: "Internal"})}
        manifest = {"metadata": {"name": "web", "namespace": "default", "annotations": annotations},
                    "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}
        reasons = {x.reason for x in plan(translate(manifest, ()), provider).problems
                   if x.field == f"metadata.annotations[{name}]"}
        assert reasons == {INVALID_ANNOTATION}, name


def test_every_gke_annotation_the_provider_reads_is_declared() -> None:
    assert {*gke_annotations.PARSED, *INTERNAL_TYPES} == CAPABILITIES.annotations
    assert all(name.startswith(CAPABILITIES.annotation_prefixes) for name in CAPABILITIES.annotations)
