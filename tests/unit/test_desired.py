"""The desired load balancer of a key, from its member Services: problems named, nothing lost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudlb_example import ExampleProvider

from cloudlb import problems as p
from cloudlb import sharing
from cloudlb.desired import desired_state
from cloudlb.model import Backend, LoadBalancerKey, LoadBalancerSpec, PortKey, Protocol, ServiceRef
from cloudlb.problems import Problem
from cloudlb.testing import service_manifest

NODES = (Backend("node-0", "example://z/vm-0"),)
MORE_NODES = (*NODES, Backend("node-1", "example://z/vm-1"))
WEB = LoadBalancerKey("default", "web")


def manifest(name: str, ports: Sequence[tuple[int, str]] = ((80, "TCP"),), **extra: Any) -> dict[str, Any]:
    service = service_manifest(name, ports, **extra)
    service["metadata"]["uid"] = f"uid-{name}"
    for index, port in enumerate(service["spec"]["ports"]):
        port["nodePort"] = 30000 + index
    return service


class BrokenValidation(ExampleProvider):
    """A plugin whose own check crashes on some input (a bug the core must contain)."""

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        if "crash" in spec.annotations:
            raise KeyError("idle")
        return super().validate(spec)


def test_a_crash_while_reading_one_service_is_a_named_fatal_problem() -> None:
    state = desired_state(WEB, [manifest("web", annotations={"crash": "yes"})], NODES, BrokenValidation("c"), {})
    outcome = state.outcomes[ServiceRef("default", "web")]
    assert state.desired is None and outcome.blocked
    assert [(x.reason, x.fatal) for x in outcome.problems] == [(p.UNPROCESSABLE_SERVICE, True)]
    assert "KeyError" in outcome.problems[0].message


def test_a_service_whose_input_breaks_keeps_its_last_good_spec_on_todays_nodes() -> None:
    provider = ExampleProvider("c")
    good = desired_state(WEB, [manifest("web")], NODES, provider, {})
    assert good.desired is not None
    last = good.desired.first
    broken = desired_state(WEB, [manifest("web", source_ranges=["10.0.0.0/33"])], MORE_NODES, provider,
                           {last.service: last})
    assert broken.outcomes[last.service].blocked
    assert broken.desired is not None
    assert broken.desired.first.ports == last.ports and broken.desired.first.backends == MORE_NODES


def test_a_service_with_nothing_servable_has_no_load_balancer() -> None:
    state = desired_state(WEB, [manifest("web", [(9000, "SCTP")])], NODES, ExampleProvider("c"), {})
    assert state.desired is None
    outcome = state.outcomes[ServiceRef("default", "web")]
    assert outcome.unservable and not outcome.blocked
    assert [x.port for x in outcome.problems] == [PortKey(9000, Protocol.SCTP)]


def test_members_of_a_shared_key_are_merged_oldest_first_with_clashes_named() -> None:
    key = LoadBalancerKey("default", "edge", shared=True)
    services = []
    for name, ports, created in (("young", [(80, "TCP"), (81, "TCP")], "2026-03-01T00:00:00Z"),
                                 ("old", [(80, "TCP")], "2026-01-01T00:00:00Z")):
        service = manifest(name, ports, annotations={sharing.SHARE_KEY_ANNOTATION: "edge"})
        service["metadata"]["creationTimestamp"] = created
        services.append(service)
    state = desired_state(key, services, NODES, ExampleProvider("c"), {})
    assert state.desired is not None
    assert [(m.service.name, [x.port for x in m.ports]) for m in state.desired.members] == [
        ("old", [80]), ("young", [81])]
    young = state.outcomes[ServiceRef("default", "young")]
    assert [(x.reason, x.port) for x in young.problems] == [(sharing.PORT_IN_USE, PortKey(80, Protocol.TCP))]


def test_an_invalid_share_key_is_reported_and_not_fatal() -> None:
    service = manifest("web", annotations={sharing.SHARE_KEY_ANNOTATION: "Not A Key"})
    state = desired_state(WEB, [service], NODES, ExampleProvider("c"), {})
    assert state.desired is not None
    problems = state.outcomes[ServiceRef("default", "web")].problems
    assert [(x.reason, x.fatal) for x in problems] == [(sharing.INVALID_SHARE_KEY, False)]


def test_a_service_with_no_port_at_all_is_told_so() -> None:
    state = desired_state(WEB, [manifest("web", ports=())], NODES, ExampleProvider("c"), {})
    outcome = state.outcomes[ServiceRef("default", "web")]
    assert state.desired is None and outcome.unservable
    assert [(x.field, x.reason, x.fatal) for x in outcome.problems] == [("spec.ports", "NoServablePorts", False)]


def test_a_service_whose_every_port_is_refused_is_told_per_port_only() -> None:
    state = desired_state(WEB, [manifest("web", ports=((9000, "SCTP"),))], NODES, ExampleProvider("c"), {})
    outcome = state.outcomes[ServiceRef("default", "web")]
    assert [x.reason for x in outcome.problems] == [p.PROTOCOL_NOT_SUPPORTED]
