"""Loading only the message types the provider's clients need (``cloudlb_gcp.sdk``).

The tests' own process loads google-cloud-compute whole (the emulator and conftest use it),
and a process holds one set of message types: the trimmed loading is run in a child process,
the provider there talking over HTTP to the emulator in this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.sdk import trim_types_source

from .conftest import CLUSTER, NODES, PROJECT, REGION

pytestmark = pytest.mark.timeout(120)

SOURCE = '''import proto

__protobuf__ = proto.module(
    package="p",
    manifest={
        "Alpha",
        "Beta",
        "Gamma",
        "Delta",
    },
)


class Alpha(proto.Message):
    beta = proto.Field(proto.MESSAGE, number=1, message="Beta")


class Beta(
    proto.Message
):
    gamma = proto.RepeatedField(proto.MESSAGE, number=1, message="Gamma.Inner")


class Gamma(proto.Message):
    class Inner(proto.Enum):
        X = 0


class Delta(proto.Message):
    alpha = proto.Field(proto.MESSAGE, number=1, message="Alpha")


__all__ = tuple(sorted(__protobuf__.manifest))
'''


def defined(source: str) -> list[str]:
    return [line.split("(")[0].removeprefix("class ") for line in source.splitlines() if line.startswith("class ")]


def test_a_needed_message_keeps_those_it_holds_in_turn_and_nothing_else() -> None:
    trimmed = trim_types_source(SOURCE, ["Alpha", "NotAMessage"])
    assert trimmed is not None
    assert defined(trimmed) == ["Alpha", "Beta", "Gamma"]
    assert '"Delta"' not in trimmed
    assert '"Gamma",' in trimmed
    # The same lines: a traceback names the file's own line numbers.
    assert len(trimmed.splitlines()) == len(SOURCE.splitlines())
    assert trimmed.splitlines().index("class Alpha(proto.Message):") == SOURCE.splitlines().index(
        "class Alpha(proto.Message):")


def test_a_text_laid_out_otherwise_is_not_trimmed() -> None:
    # A class the manifest does not list, a manifest entry without its class, no __all__ at the end.
    assert trim_types_source(SOURCE.replace('        "Delta",\n', ""), ["Alpha"]) is None
    assert trim_types_source(SOURCE.replace("class Delta", "class Epsilon"), ["Alpha"]) is None
    assert trim_types_source(SOURCE.replace("__all__ =", "ALL ="), ["Alpha"]) is None
    assert trim_types_source(SOURCE, ["NotAMessage"]) is None


CHILD = textwrap.dedent('''
    import json, sys
    from cloudlb.model import (KUBE_PROXY_HEALTH_CHECK, Backend, DesiredLoadBalancer, LoadBalancerKey,
                               LoadBalancerSpec, Port, Protocol, ServiceRef)
    from cloudlb.provider import ProviderSettings
    from cloudlb_gcp import sdk
    from cloudlb_gcp.plugin import plugin

    endpoint, project, region, cluster, nodes = json.loads(sys.argv[1])
    provider = plugin.create(ProviderSettings(cluster_name=cluster, options={
        "gcp_project": project, "gcp_region": region, "gcp_endpoint": endpoint}))
    types = sys.modules[sdk.TYPES_MODULE]
    service = ServiceRef("default", "web")
    spec = LoadBalancerSpec(
        service=service, uid="uid-web",
        ports=(Port(80, Protocol.TCP, 30000, "http"), Port(53, Protocol.UDP, 30001, "dns")),
        backends=tuple(sorted(Backend(node_name=name, provider_id=f"gce://{project}/{zone}/{name}",
                                      internal_ip=ip, zone=zone) for zone, name, ip in nodes)),
        health_check=KUBE_PROXY_HEALTH_CHECK)
    status = provider.ensure(DesiredLoadBalancer.single(spec))[service]
    print(json.dumps({"trimmed_for": sorted(sdk._trimmed_for), "messages": len(types.__protobuf__.manifest),
                      "ingress": [ingress.ip for ingress in status.ingress]}), flush=True)
    input()  # the parent has looked at the cloud
    provider.delete(LoadBalancerKey.of(service))
    print("deleted", flush=True)
''')


def test_a_provider_with_only_its_clients_message_types_creates_and_deletes_a_load_balancer(
        emulator: GCEEmulator) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps([emulator.url, PROJECT, REGION, CLUSTER, NODES])],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    try:
        answer = json.loads(child.stdout.readline())
        assert answer["trimmed_for"] == ["addresses", "firewalls", "forwarding_rules", "global_operations",
                                         "instance_groups", "instances", "region_backend_services",
                                         "region_health_checks", "region_operations", "subnetworks",
                                         "zone_operations"]
        assert 100 < answer["messages"] < 1000  # of ~2,100 in the whole module
        [ip] = answer["ingress"]
        with emulator.cloud.lock:
            rules = [rule for _, rule in emulator.cloud.store.items("forwardingRules")]
        assert {(rule.I_p_protocol, rule.I_p_address, tuple(rule.ports)) for rule in rules} == {
            ("TCP", ip, ("80",)), ("UDP", ip, ("53",))}
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline() == "deleted\n"
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert emulator.leftovers() == []
