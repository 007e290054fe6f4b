"""A shared load balancer through the provider over HTTP, with lost answers and a controller that stops
part-way (a new provider: an empty inventory, as after SIGKILL): no duplicate, no leak, each member's
resources and the shared address found again by their marks."""

from __future__ import annotations

import pytest
from cloudlb_gcp.emulator import GCEEmulator
from cloudlb_gcp.names import names_for_key
from cloudlb_gcp.provider import GCPProvider

from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, ServiceRef
from cloudlb.provider import ProviderError, RetryLater

from .conftest import CLUSTER, SpecFactory, new_provider, owned
from .test_faults import INSERTS

pytestmark = pytest.mark.timeout(120)
KEY = LoadBalancerKey("default", "edge", shared=True)
ADDRESS = names_for_key(CLUSTER, KEY).address


def group(make_spec: SpecFactory, *names: str) -> DesiredLoadBalancer:
    ports = {"web": [(80, "TCP"), (443, "TCP")], "dns": [(53, "UDP"), (53, "TCP")], "api": [(8080, "TCP")]}
    return DesiredLoadBalancer(KEY, tuple(make_spec(name, ports=ports[name]) for name in names))


def converge(provider: GCPProvider, desired: DesiredLoadBalancer, attempts: int = 4) -> set[str]:
    """Ensure until it succeeds (as the controller retries); the addresses the members' statuses name."""
    for attempt in range(attempts):
        try:
            statuses = provider.ensure(desired)
        except RetryLater:
            assert attempt < attempts - 1
            continue
        return {ingress.ip or "" for status in statuses.values() for ingress in status.ingress}
    raise AssertionError("unreachable")


def kinds(emulator: GCEEmulator) -> list[str]:
    return sorted(listed.split("/", 1)[0] for listed in emulator.leftovers())


@pytest.mark.parametrize("method", INSERTS)
def test_a_lost_answer_while_a_group_is_built_is_found_done(emulator: GCEEmulator, make_spec: SpecFactory,
                                                             method: str) -> None:
    provider = new_provider(emulator)
    emulator.fail(method, lose_response=True)
    with pytest.raises(RetryLater):
        provider.ensure(group(make_spec, "web", "dns"))
    emulator.clear_requests()
    assert len(converge(provider, group(make_spec, "web", "dns"), attempts=1)) == 1, "one address for both"
    assert {c.status for c in emulator.requests} == {200}, "what was done is not done again"
    built = kinds(emulator)
    assert (built.count("addresses"), built.count("forwardingRules"), built.count("backendServices")) == (1, 3, 2)
    provider.delete(KEY)
    assert emulator.leftovers() == []


def test_a_controller_stopped_part_way_is_finished_by_the_next_one(emulator: GCEEmulator,
                                                                    make_spec: SpecFactory) -> None:
    first = new_provider(emulator)
    converge(first, group(make_spec, "web"))
    emulator.fail("forwardingRules.insert", status=503, times=5)
    with pytest.raises(ProviderError):
        first.ensure(group(make_spec, "web", "dns", "api"))
    emulator.clear_faults()
    # The next controller knows nothing but the cloud.
    second = new_provider(emulator)
    # What the stopped plan made of the new members (checks, firewalls, backend services) names them.
    assert owned(second) == [ServiceRef("default", name) for name in ("api", "dns", "web")]
    [ip] = converge(second, group(make_spec, "web", "dns", "api"))
    before = sorted(emulator.leftovers())
    assert [r for r in before if r.startswith("addresses/")] == [f"addresses/us-central1/{ADDRESS}"]
    assert sum(r.startswith("forwardingRules/") for r in before) == 4
    assert converge(new_provider(emulator), group(make_spec, "web", "dns", "api")) == {ip}
    assert sorted(emulator.leftovers()) == before, "a third controller changes nothing: no duplicate"
    # A member removed while no controller knew it (the group planned without it) goes alone.
    third = new_provider(emulator)
    converge(third, group(make_spec, "web", "api"))
    assert set(owned(third)) == {ServiceRef("default", "web"), ServiceRef("default", "api")}
    new_provider(emulator).delete(KEY)
    assert emulator.leftovers() == []

