"""``plan`` without any cloud: desired Service + observed inventory -> the ordered changes, per kind of change.

The observed state is built here as records; ``converged`` builds exactly what
a plan's writes leave behind, and the first test proves it by planning nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.clb import build_clb_model
from cloudlb_aws.inventory import ClusterView, Observed
from cloudlb_aws.naming import (
    backend_group_name,
    backend_group_tags,
    load_balancer_name,
    ownership_tags,
    security_group_name,
)
from cloudlb_aws.nlb_model import build_nlb_model
from cloudlb_aws.planner import AWSPlan, Setting, plan
from cloudlb_aws.records import (
    CidrRule,
    ClassicRecord,
    GroupRule,
    HealthRecord,
    InstanceRecord,
    ListenerRecord,
    LoadBalancerRecord,
    SecurityGroupRecord,
    Subnet,
    TargetGroupRecord,
    tag_tuple,
)
from cloudlb_aws.security import backend_rule_description, backend_rules, ingress_rules

from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    Backend,
    DesiredLoadBalancer,
    LoadBalancerKey,
    LoadBalancerSpec,
    Port,
    Protocol,
    ServiceRef,
)
from cloudlb.provider import CloudStateError, NotOwnedError, PermanentError

CLUSTER = "unit"
SETTING = Setting(CLUSTER, "nlb")
WEB = ServiceRef("default", "web")
VPC = "vpc-1"
NODES_GROUP = "sg-nodes"
BACKEND_ID = "sg-backend"
FRONTEND_ID = "sg-web"
INSTANCES = ("i-01", "i-02")
SUBNETS = (Subnet("subnet-a", "z-a", VPC, tag_tuple({"kubernetes.io/role/elb": "1"})),
           Subnet("subnet-b", "z-b", VPC, tag_tuple({"kubernetes.io/role/elb": "1"})),
           Subnet("subnet-c", "z-a", VPC, tag_tuple({"kubernetes.io/role/internal-elb": "1"})))


def spec(ports: Sequence[tuple[int, str, int]] = ((80, "TCP", 30080), (443, "TCP", 30443)), *,
         instances: Sequence[str] = INSTANCES, annotations: dict[str, str] | None = None, internal: bool = False,
         source_ranges: Sequence[str] = ()) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        service=WEB, uid="u", ports=tuple(Port(p, Protocol(proto), n) for p, proto, n in ports),
        backends=tuple(Backend(f"node-{i}", f"aws:///z-a/{i}") for i in instances),
        health_check=KUBE_PROXY_HEALTH_CHECK, annotations=annotations or {}, internal=internal,
        source_ranges=tuple(source_ranges))


def view(*, groups: dict[str, SecurityGroupRecord] | None = None, node_rules: frozenset[GroupRule] = frozenset(),
         node_rule_count: int = 0, load_balancers: int = 0) -> ClusterView:
    filler = frozenset(CidrRule("tcp", 22, 22, f"10.9.{n}.0/24") for n in range(node_rule_count))
    nodes = SecurityGroupRecord(tag_tuple({f"kubernetes.io/cluster/{CLUSTER}": "owned"}), NODES_GROUP, "nodes", VPC,
                                filler, node_rules)
    return ClusterView(groups=groups or {}, node_groups={NODES_GROUP: nodes},
                       instances={i: InstanceRecord(i, "running", (NODES_GROUP,), VPC) for i in INSTANCES},
                       missing=frozenset(), subnets=SUBNETS, requested_subnets={}, addresses={},
                       load_balancer_count=load_balancers)


def empty(cluster: ClusterView | None = None) -> Observed:
    return Observed(LoadBalancerKey.of(WEB), {}, {}, {}, {}, {}, cluster or view())


def converged(the_spec: LoadBalancerSpec) -> Observed:
    """Exactly what applying the plan of ``the_spec`` to an empty cloud leaves behind."""
    parsed = a.parse(the_spec.annotations, internal=the_spec.internal)
    model = build_nlb_model(the_spec, CLUSTER, parsed)
    lb_arn = f"arn:lb/{model.name}"
    groups = {}
    targets = {}
    listeners = {}
    for listener in model.listeners:
        group = listener.target_group
        health = HealthRecord(group.health.protocol, group.health.port, group.health.path, group.health.interval,
                              group.health.timeout, group.health.healthy_threshold, group.health.unhealthy_threshold,
                              group.health.success_codes)
        groups[group.name] = TargetGroupRecord(tag_tuple(model.tags), group.name, f"arn:tg/{group.name}",
                                               group.protocol, group.node_port, VPC, health, (lb_arn,))
        targets[group.name] = frozenset(INSTANCES) & model.instance_ids
        listeners[listener.port] = ListenerRecord(f"arn:listener/{listener.port}", lb_arn, listener.port,
                                                  listener.protocol, f"arn:tg/{group.name}")
    subnets = tuple(s.subnet_id for s in SUBNETS if ("kubernetes.io/role/internal-elb" in dict(s.tags))
                    == the_spec.internal)
    lb = LoadBalancerRecord(tag_tuple(model.tags), model.name, lb_arn, "dns", "internal" if the_spec.internal
                            else "internet-facing", tuple(sorted((BACKEND_ID, FRONTEND_ID))), subnets, ())
    frontend = SecurityGroupRecord(tag_tuple(model.tags), FRONTEND_ID, security_group_name(CLUSTER, WEB), VPC,
                                   ingress_rules(model.traffic_ports(), the_spec.source_ranges), frozenset())
    backend = SecurityGroupRecord(tag_tuple(backend_group_tags(CLUSTER)), BACKEND_ID, backend_group_name(CLUSTER),
                                  VPC, frozenset(), frozenset())
    node_rules = backend_rules(model.target_ports(), CLUSTER, BACKEND_ID)
    cluster = view(groups={frontend.name: frontend, backend.name: backend}, node_rules=node_rules, load_balancers=1)
    return Observed(LoadBalancerKey.of(WEB), {model.name: lb}, {model.name: listeners}, {}, groups, targets, cluster)


def planned(desired: LoadBalancerSpec | None, observed: Observed) -> AWSPlan:
    return plan(SETTING, LoadBalancerKey.of(WEB), DesiredLoadBalancer.single(desired) if desired else None, observed)


def steps(the_plan: AWSPlan) -> list[tuple[str, str]]:
    return [(str(c.action), c.resource) for c in the_plan.changes]


def ops(the_plan: AWSPlan) -> list[str]:
    return [c.payload.op for c in the_plan.changes]


def test_a_converged_load_balancer_plans_nothing() -> None:
    assert planned(spec(), converged(spec())).empty


def test_a_create_builds_what_the_cluster_shares_first_then_groups_targets_the_load_balancer_and_listeners() -> None:
    the_plan = planned(spec(), empty())

    assert ops(the_plan) == [
        "ensure_backend", "authorize_node_rules", "create_group", "authorize",
        "create_target_group", "register_targets", "create_target_group", "register_targets",
        "create_load_balancer", "create_listener", "create_listener"]
    node_rules = the_plan.changes[1]
    assert node_rules.name == NODES_GROUP and "tcp 30000-32767" in node_rules.reason
    assert the_plan.outcome is not None and the_plan.outcome.load_balancer == load_balancer_name(
        CLUSTER, WEB, "nlb", False)
    assert not the_plan.retire


def test_a_second_service_finds_the_shared_backend_group_and_the_node_rule_in_place() -> None:
    observed = converged(spec())
    others = {k: v for k, v in observed.cluster.groups.items() if k == backend_group_name(CLUSTER)}
    cluster = dataclasses.replace(observed.cluster, groups=others)
    assert ops(planned(spec(), empty(cluster)))[:2] == ["create_group", "authorize"]


def test_a_full_node_group_stops_the_plan_before_anything_is_created() -> None:
    with pytest.raises(CloudStateError, match="60"):
        planned(spec(), empty(view(node_rule_count=60)))


def test_an_added_port_gets_a_target_group_its_targets_a_listener_and_a_source_rule() -> None:
    wider = spec([(80, "TCP", 30080), (443, "TCP", 30443), (8080, "TCP", 30808)])
    the_plan = planned(wider, converged(spec()))
    assert ops(the_plan) == ["authorize", "create_target_group", "register_targets", "create_listener"]
    assert the_plan.changes[-1].name.endswith(":8080")


def test_a_removed_port_loses_its_listener_target_group_and_source_rule() -> None:
    the_plan = planned(spec([(80, "TCP", 30080)]), converged(spec()))
    assert ops(the_plan) == ["revoke", "delete_listener", "delete_target_group"]
    assert the_plan.changes[1].name.endswith(":443")


def test_a_changed_port_number_replaces_its_listener_and_target_group() -> None:
    moved = spec([(8080, "TCP", 30080), (443, "TCP", 30443)])
    the_plan = planned(moved, converged(spec()))
    assert sorted(ops(the_plan)) == sorted(["authorize", "revoke", "create_target_group", "register_targets",
                                            "create_listener", "delete_listener", "delete_target_group"])
    assert ops(the_plan).index("create_listener") < ops(the_plan).index("delete_target_group")


def test_a_changed_protocol_switches_the_listener_to_a_new_target_group() -> None:
    the_plan = planned(spec([(80, "UDP", 30080), (443, "TCP", 30443)]), converged(spec()))
    changes = {c.payload.op: c for c in the_plan.changes}
    assert "protocol: TCP -> UDP" in changes["modify_listener"].reason
    assert {"create_target_group", "register_targets", "delete_target_group", "authorize_node_rules"} <= set(changes)
    # UDP needs the nodes to admit the backend group on UDP too (and the kube-proxy health port over TCP).
    assert "udp 30000-32767" in changes["authorize_node_rules"].reason
    assert "tcp 10256-10256" in changes["authorize_node_rules"].reason


def test_a_scheme_change_creates_the_replacement_and_retires_the_old_load_balancer_and_its_groups() -> None:
    the_plan = planned(spec(internal=True), converged(spec()))
    assert "create_load_balancer" in ops(the_plan)
    assert (the_plan.retire[0].payload.op, the_plan.retire[0].name) == (
        "delete_load_balancer", load_balancer_name(CLUSTER, WEB, "nlb", False))
    assert [c.payload.op for c in the_plan.retire[1:]] == ["delete_target_group", "delete_target_group"]
    assert "delete_target_group" not in ops(the_plan)  # the old ones go only after the status moved


def test_a_type_change_to_a_classic_elb_creates_it_and_retires_the_nlb() -> None:
    the_plan = planned(spec(annotations={a.TYPE: "clb"}), converged(spec()))
    assert ops(the_plan)[:1] == ["create_classic"]
    assert {"configure_health_check", "register_instances"} <= set(ops(the_plan))
    assert [c.payload.op for c in the_plan.retire] == ["delete_load_balancer", "delete_target_group",
                                                       "delete_target_group"]


def test_source_ranges_change_only_the_load_balancers_own_group() -> None:
    the_plan = planned(spec(source_ranges=["10.0.0.0/8"]), converged(spec()))
    assert ops(the_plan) == ["authorize", "revoke"]
    assert "10.0.0.0/8" in the_plan.changes[0].reason and "0.0.0.0/0" in the_plan.changes[1].reason


def test_a_health_check_change_modifies_the_target_groups_in_place() -> None:
    the_plan = planned(spec(annotations={a.HEALTHCHECK_INTERVAL: "30"}), converged(spec()))
    assert ops(the_plan) == ["modify_target_group", "modify_target_group"]
    assert all("interval: 10 -> 30" in c.reason for c in the_plan.changes)


def test_changed_tags_are_added_to_the_load_balancer_its_groups_and_its_security_group() -> None:
    the_plan = planned(spec(annotations={a.ADDITIONAL_RESOURCE_TAGS: "team=web"}), converged(spec()))
    assert ops(the_plan) == ["tag_group", "add_tags"]
    assert len(the_plan.changes[1].payload.args["arns"]) == 3


def test_a_node_change_is_target_registrations_only() -> None:
    the_plan = planned(spec(instances=INSTANCES[:1]), converged(spec()))
    assert steps(the_plan) == [("update", "targets"), ("update", "targets")]
    assert ops(the_plan) == ["deregister_targets", "deregister_targets"]


def test_an_instance_the_inventory_does_not_know_is_looked_up_first() -> None:
    the_plan = planned(spec(instances=(*INSTANCES, "i-03")), converged(spec()))
    assert [str(x) for x in the_plan.lookups] == ["instance i-03"]
    assert len(the_plan.changes) == 1 and "to be planned after reading instance i-03" in the_plan.changes[0].reason


def test_a_foreign_load_balancer_with_our_name_is_not_ours_to_change() -> None:
    observed = converged(spec())
    name = load_balancer_name(CLUSTER, WEB, "nlb", False)
    foreign = dataclasses.replace(observed.load_balancers[name], tags=tag_tuple({"owner": "someone"}))
    with pytest.raises(NotOwnedError, match=name):
        planned(spec(), dataclasses.replace(observed, load_balancers={name: foreign}))
    # Nor to delete: the removal plan leaves it alone.
    removal = planned(None, dataclasses.replace(observed, load_balancers={name: foreign}))
    assert "delete_load_balancer" not in ops(removal)


def test_services_sharing_a_key_get_one_nlb_with_a_listener_and_target_group_per_member_port() -> None:
    api = dataclasses.replace(spec([(8080, "TCP", 30808)]), service=ServiceRef("default", "api"))
    desired = DesiredLoadBalancer(LoadBalancerKey("default", "shop", shared=True), (spec(), api))
    observed = dataclasses.replace(empty(), key=desired.key)
    the_plan = plan(SETTING, desired.key, desired, observed)

    assert ops(the_plan).count("create_load_balancer") == 1
    assert ops(the_plan).count("create_listener") == 3 and ops(the_plan).count("create_target_group") == 3
    created = [c.payload.args for c in the_plan.changes if c.payload.op == "create_target_group"]
    assert sorted(args["tags"]["kubernetes.io/service-name"] for args in created) == [
        "default/api", "default/web", "default/web"]
    assert all(args["tags"]["cloudlb.io/load-balancer"] == "default/shop" for args in created)
    balancer = next(c.payload.args for c in the_plan.changes if c.payload.op == "create_load_balancer")
    assert balancer["tags"]["cloudlb.io/load-balancer"] == "default/shop"
    assert "kubernetes.io/service-name" not in balancer["tags"]
    assert the_plan.outcome is not None and the_plan.outcome.services == (WEB, api.service)


def test_a_classic_elb_cannot_be_shared() -> None:
    api = dataclasses.replace(spec(annotations={a.TYPE: "clb"}), service=ServiceRef("default", "api"))
    desired = DesiredLoadBalancer(LoadBalancerKey("default", "group", shared=True),
                                  (spec(annotations={a.TYPE: "clb"}), api))
    with pytest.raises(PermanentError, match="cannot be shared"):
        plan(SETTING, desired.key, desired, empty())


def test_removing_the_last_load_balancer_also_removes_what_the_cluster_shares() -> None:
    the_plan = planned(None, converged(spec()))
    assert ops(the_plan) == ["delete_load_balancer", "delete_target_group", "delete_target_group", "delete_group",
                             "delete_backend"]
    others = dataclasses.replace(converged(spec()).cluster, load_balancer_count=2)
    assert "delete_backend" not in ops(planned(None, dataclasses.replace(converged(spec()), cluster=others)))


def test_a_load_balancer_of_the_per_service_group_era_is_migrated_without_dropping_traffic() -> None:
    observed = converged(spec())
    name = load_balancer_name(CLUSTER, WEB, "nlb", False)
    old_rule = GroupRule("-1", -1, -1, FRONTEND_ID, f"cloudlb {CLUSTER} {WEB}")
    nodes = observed.cluster.node_groups[NODES_GROUP]
    cluster = dataclasses.replace(
        observed.cluster,
        groups={k: v for k, v in observed.cluster.groups.items() if k != backend_group_name(CLUSTER)},
        node_groups={NODES_GROUP: dataclasses.replace(nodes, group_rules=frozenset({old_rule}))})
    lb = dataclasses.replace(observed.load_balancers[name], security_groups=(FRONTEND_ID,))
    the_plan = planned(spec(), dataclasses.replace(observed, cluster=cluster, load_balancers={name: lb}))

    assert ops(the_plan) == ["ensure_backend", "authorize_node_rules", "set_security_groups", "revoke_node_rules"]
    assert the_plan.changes[-1].payload.args["rules"] == (old_rule,)
    assert backend_rule_description(CLUSTER) in {r.description for r in the_plan.changes[1].payload.args["rules"]}


def test_a_classic_elb_converges_listeners_health_instances_and_groups() -> None:
    clb_spec = spec(annotations={a.TYPE: "clb"})
    model = build_clb_model(clb_spec, CLUSTER, a.parse(clb_spec.annotations, internal=False, kind="clb"))
    converged_nlb = converged(spec())
    classic = ClassicRecord(tag_tuple(ownership_tags(CLUSTER, WEB)), model.name, "dns", "internet-facing",
                            model.listeners, model.health, frozenset(INSTANCES), ("subnet-a", "subnet-b"),
                            tuple(sorted((BACKEND_ID, FRONTEND_ID))))
    observed = dataclasses.replace(converged_nlb, load_balancers={}, listeners={}, target_groups={}, targets={},
                                   classics={model.name: classic})
    assert planned(clb_spec, observed).empty

    moved = spec([(80, "TCP", 30080), (8443, "TCP", 30443)], annotations={a.TYPE: "clb"}, instances=INSTANCES[:1])
    assert ops(planned(moved, observed)) == ["authorize", "revoke", "delete_classic_listeners",
                                             "create_classic_listeners", "deregister_instances"]
