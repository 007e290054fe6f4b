"""The chaos run, phase by phase, measured from outside the controller.

Two ``cloudlb run`` replicas (lease leader election) talk to the emulated Kubernetes API
through :class:`~benchmarks.chaos.kube_faults.KubeFaultProxy` and to the emulated cloud
through :class:`~benchmarks.chaos.cloud_faults.FaultyDoor`. The run drives Services and
Nodes through the API server directly (as users and the kubelet would), SIGKILLs the
leader while it writes to the cloud (the write log of the door tells when), and judges
the result by reading the cloud and the API server directly:

1. create the Services (NLB and Classic ELB, internet-facing and internal); kills mid-create;
2. replace: scheme internal <-> internet-facing and type NLB <-> Classic ELB; kills while the
   replacement is created and while the old one is deleted;
3. node churn (a node added, one removed, one excluded by label); kills mid-membership write;
4. edits (a port added) with the API server restarted in the middle;
5. deletes; kills mid-delete;
6. garbage collection: Services removed behind the controller's back (finalizer stripped
   while both replicas are down); a kill while the collector deletes;
7. fail-over: the leader SIGKILLed and held down; a Service created at once must be served
   by the standby;
8. generated Services (hypothesis) in batches, through the running controller;
9. delete everything, then count what is left in the cloud.

After each phase: every Service must be served by a load balancer of the kind and scheme
it asks for, with its status naming that load balancer; then the cloud is sampled every
second for Services with two load balancers and statuses naming the wrong one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chaos import fuzz
from benchmarks.chaos.aws_cloud import AwsCloud, LoadBalancer
from benchmarks.chaos.cloud import CloudProcess
from benchmarks.chaos.gcp_cloud import GcpCloud
from benchmarks.chaos.kube_faults import KubeFaultProxy
from benchmarks.chaos.replicas import ControllerSettings, Replicas
from benchmarks.chaos.results import ChaosResult, FuzzOutcome, Kill, Phase, RunSettings
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.kubeconfig import write_kubeconfig
from cloudlb.model import ServiceRef
from cloudlb.testing import node_manifest, service_manifest

CLUSTER = "chaos"
NAMESPACE = "default"
FUZZ_NAMESPACE = "fuzz"
TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type"
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
GKE_TYPE_ANNOTATION = "networking.gke.io/load-balancer-type"
PASSTHROUGH = "passthrough"  # GCP's one kind (no type change there: a scheme change is its replacement)
SYNCED = "cloudlb.io/LoadBalancerSynced"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
# Kill slots in the order they are given out: a small run gets the most telling ones first.
KILL_SLOTS = ("replace-create", "delete", "failover", "replace-retire", "create", "gc", "nodes", "create",
              "delete", "replace-create", "replace-retire", "failover", "nodes", "create", "delete", "edits",
              "failover", "replace-create", "delete", "create")
WRITE_MATCHES: dict[str, str] = {
    "create": r"CreateLoadBalancer|CreateTargetGroup|CreateListener|AuthorizeSecurityGroupIngress|"
              r"RegisterTargets|RegisterInstances|ConfigureHealthCheck|CreateSecurityGroup",
    "replace-create": r"CreateLoadBalancer$",
    "replace-retire": r"DeleteLoadBalancer$",
    "nodes": r"RegisterTargets|DeregisterTargets|RegisterInstancesWithLoadBalancer|"
             r"DeregisterInstancesFromLoadBalancer",
    "edits": r"CreateListener|CreateTargetGroup|ModifyListener|AuthorizeSecurityGroupIngress|"
             r"CreateLoadBalancerListeners",
    "delete": r"DeleteLoadBalancer|DeleteTargetGroup|DeleteSecurityGroup|RevokeSecurityGroupIngress|DeleteListener",
    "gc": r"DeleteLoadBalancer|DeleteTargetGroup|DeleteSecurityGroup|RevokeSecurityGroupIngress",
}
GCP_WRITE_MATCHES: dict[str, str] = {
    "create": r"\.insert$|addInstances",
    "replace-create": r"forwardingRules\.insert$",
    "replace-retire": r"forwardingRules\.delete$",
    "nodes": r"addInstances|removeInstances",
    "edits": r"\.insert$|\.patch$|\.update$",
    "delete": r"\.delete$",
    "gc": r"\.delete$",
}


@dataclass
class Wanted:
    """What a Service of the run asks for."""

    kind: str  # "nlb" | "clb"
    internal: bool
    ports: list[tuple[int, str]] = field(default_factory=lambda: [(80, "TCP")])

    def annotations(self) -> dict[str, str]:
        if self.kind == PASSTHROUGH:
            return {GKE_TYPE_ANNOTATION: "Internal" if self.internal else "External"}
        return {TYPE_ANNOTATION: self.kind, SCHEME_ANNOTATION: "internal" if self.internal else "internet-facing"}

    def manifest(self, name: str) -> dict[str, Any]:
        annotations = self.annotations()
        return service_manifest(name, ports=self.ports, namespace=NAMESPACE, annotations=annotations)


def spread(items: int, kills: int) -> set[int]:
    """Indices at which to kill: ``kills`` of them, evenly over ``items`` (the first one early)."""
    if kills <= 0 or items <= 0:
        return set()
    return {min(items - 1, (index * items) // kills) for index in range(kills)}


def kill_plan(settings: RunSettings) -> list[str]:
    slots = [slot for slot in KILL_SLOTS if slot != "gc" or settings.garbage_collection]
    while len(slots) < settings.kills:
        slots += [slot for slot in KILL_SLOTS if slot not in ("gc", "failover")]
    return slots[:settings.kills]


class ChaosRun:
    def __init__(self, settings: RunSettings, workdir: Path, log: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.workdir = workdir
        self.say = log
        self.rng = random.Random(settings.seed)
        self.result = ChaosResult(settings)
        self.kill_slots = kill_plan(settings)
        self.wanted: dict[str, Wanted] = {}
        self.t0 = time.monotonic()
        self.write_offset = 0
        self.probes = 0
        self.planted: set[str] = set()  # generated Services the API refused, stored through the helper

    # --- setup ------------------------------------------------------------------------------------

    def run(self) -> ChaosResult:
        s = self.settings
        logs = self.workdir
        logs.mkdir(parents=True, exist_ok=True)
        with EmulatedKubernetes() as kube, CloudProcess(s.provider, s.nodes, CLUSTER, s.seed, s.fault_rate,
                                                        logs / "cloud.log") as cloud:
            proxy = KubeFaultProxy(kube.url, seed=s.seed, rate=s.kube_fault_rate, watch_cut_rate=s.watch_cut_rate,
                                   conflict_rate=s.kube_conflict_rate).start()
            try:
                self.kube, self.cloud, self.proxy = kube, cloud, proxy
                self.inspector: AwsCloud | GcpCloud = AwsCloud(cloud.endpoint, CLUSTER) if s.provider == "aws" else \
                    GcpCloud(cloud.endpoint, CLUSTER, cloud.facts["project"], cloud.facts["region"])
                self._setup()
                self.replicas = Replicas(ControllerSettings(
                    s.provider, CLUSTER, write_kubeconfig(logs / "kubeconfig", proxy.url), cloud.options,
                    cloud.environment, logs), kube)
                self.replicas.start_all()
                try:
                    self._phases()
                finally:
                    self.replicas.stop_all()
                    self.result.unplanned_exits = list(self.replicas.unplanned_exits)
                    self.result.startup_crashes = list(self.replicas.startup_crashes)
                    self._collect_stats()
                    self._scan_logs()
            finally:
                proxy.stop()
        self.result.seconds = time.monotonic() - self.t0
        (logs / "result.json").write_text(json.dumps(dataclasses.asdict(self.result), indent=1, default=str))
        return self.result

    def _setup(self) -> None:
        for instance in self.cloud.instances:
            self.kube.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                           internal_ip=instance.internal_ip, zone=instance.zone))
        self.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FUZZ_NAMESPACE}})
        for index in range(self.settings.services):
            draw = self.rng.random()
            kind = PASSTHROUGH if self.settings.provider == "gcp" else "clb" if draw < 0.25 else "nlb"
            internal = self.rng.random() < 0.2
            ports = [(80, "TCP")] if self.rng.random() < 0.6 else [(80, "TCP"), (443, "TCP")]
            self.wanted[f"svc-{index:03d}"] = Wanted(kind, internal, ports)
        facts = self.cloud.facts
        refs = [ServiceRef(NAMESPACE, name) for name in sorted(self.wanted)]
        if isinstance(self.inspector, AwsCloud):
            self.inspector.plant_foreign(self.cloud.instances, refs, facts["public_subnets"], facts["node_group_id"],
                                         facts["vpc_id"])
        else:
            self.inspector.plant_foreign(self.cloud.instances, refs)
        self.foreign_before = self.inspector.foreign_snapshot()

    def _phases(self) -> None:
        s = self.settings
        self._create()
        self._replace()
        self._failover()
        self._node_churn()
        self._edits()
        self._delete()
        if s.garbage_collection:
            self._garbage_collection()
        self._failover()
        self._final_checks()
        self._delete_all("delete all")
        self.result.leaked_before_fuzz = self._leaked()
        if s.fuzz:
            self._fuzz()
        self.result.leaked = self._leaked()
        self.say(f"leaked after delete-all: {len(self.result.leaked)}")

    # --- time, kills ------------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _take_slot(self, slot: str) -> bool:
        if slot in self.kill_slots:
            self.kill_slots.remove(slot)
            return True
        return False

    def _mark(self) -> None:
        self.write_offset = int(self.cloud.stats()["writes"])

    def _kill_on_write(self, phase: str, slot: str, timeout: float = 60.0) -> None:
        """SIGKILL the leader as soon as the door sees a write of ``slot``'s kind (since the last mark)."""
        if not self._take_slot(slot):
            return
        pattern = re.compile((WRITE_MATCHES if self.settings.provider == "aws" else GCP_WRITE_MATCHES)[slot])
        deadline = time.monotonic() + timeout
        trigger = "no matching write within the timeout: killed idle"
        while time.monotonic() < deadline:
            records = self.cloud.writes(self.write_offset)
            self.write_offset += len(records)
            hit = next((r for r in records if pattern.search(r[1])), None)
            if hit is not None:
                trigger = hit[1] + (f" ({hit[2]})" if hit[2] else "")
                break
            time.sleep(0.02)
        leader = self.replicas.leader()
        self.replicas.kill(leader)
        self.result.kills.append(Kill(phase, trigger, leader.pod, self.now()))
        self.say(f"  SIGKILL {leader.pod} during {phase}: {trigger}")

    # --- reading the cluster and the cloud --------------------------------------------------------

    def services(self, namespace: str = NAMESPACE) -> dict[str, dict[str, Any]]:
        return {str(s["metadata"]["name"]): s for s in self.kube.list("v1", "services", namespace)
                if (s.get("spec") or {}).get("type") == "LoadBalancer"}

    def _events(self, namespace: str) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for event in self.kube.list("v1", "events", namespace):
            involved = event.get("involvedObject") or {}
            if involved.get("kind") == "Service":
                grouped.setdefault(str(involved.get("name")), []).append(event)
        return grouped

    @staticmethod
    def _current(lbs: list[LoadBalancer], want: Wanted) -> LoadBalancer | None:
        return next((lb for lb in lbs if lb.kind == want.kind and lb.internal == want.internal), None)

    def _judge(self) -> tuple[list[str], list[str], list[str]]:
        """(Services not served as asked, Services with two load balancers, stale statuses) right now."""
        owned = self.inspector.by_service()
        services = self.services()
        unserved: list[str] = []
        duplicates: list[str] = []
        stale: list[str] = []
        for name, want in self.wanted.items():
            lbs = owned.get(f"{NAMESPACE}/{name}", [])
            if len(lbs) > 1:
                duplicates.append(name)
            service = services.get(name)
            if service is None:
                unserved.append(f"{name}: missing")
                continue
            current = self._current(lbs, want)
            status = service.get("status") or {}
            ingress = (status.get("loadBalancer") or {}).get("ingress") or []
            hostnames = {entry.get("hostname") or entry.get("ip") for entry in ingress}
            if hostnames and (current is None or hostnames != {current.dns}):
                stale.append(name)
            synced: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == SYNCED), {})
            generation = (service.get("metadata") or {}).get("generation")
            if current is None or hostnames != {current.dns}:
                scheme = "internal" if want.internal else "internet-facing"
                has = sorted(f"{lb.kind}/{'internal' if lb.internal else 'internet-facing'}" for lb in lbs)
                unserved.append(f"{name}: wants {want.kind}/{scheme}, has {has}, status {sorted(map(str, hostnames))}")
            elif synced.get("status") != "True" or synced.get("observedGeneration") != generation:
                unserved.append(f"{name}: not synced ({synced.get('reason')}, generation "
                                f"{synced.get('observedGeneration')} of {generation})")
        self.result.timeline.append((self.now(), len(self.wanted) - len(unserved), len(self.wanted)))
        return unserved, duplicates, stale

    def _converge(self, name: str, started: float) -> Phase:
        """Wait until every Service is served as asked, then sample every second for duplicates and stale statuses."""
        s = self.settings
        deadline = time.monotonic() + s.converge_timeout
        phase = Phase(name, started, None)
        report_at = time.monotonic() + 20
        while True:
            unserved, _, _ = self._judge()
            if not unserved:
                phase.converged_after = self.now() - started
                break
            if time.monotonic() > deadline:
                phase.unconverged = unserved
                break
            if time.monotonic() > report_at:
                report_at += 20
                self.say(f"  {name}: {len(unserved)} not yet served as asked, e.g. {unserved[:2]}")
            time.sleep(1.0)
        end = time.monotonic() + s.sample_seconds
        while True:
            tick = time.monotonic()
            _, duplicates, stale = self._judge()
            phase.samples += 1
            phase.duplicates_max = max(phase.duplicates_max, len(duplicates))
            phase.duplicate_samples += len(duplicates)
            phase.stale_max = max(phase.stale_max, len(stale))
            phase.stale_samples += len(stale)
            for service in duplicates:
                phase.duplicated[service] = phase.duplicated.get(service, 0) + 1
            for service in stale:
                phase.stale[service] = phase.stale.get(service, 0) + 1
            if tick >= end:
                break
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        self.result.phases.append(phase)
        converged = f"{phase.converged_after:.1f}s" if phase.converged_after is not None else \
            f"NOT converged ({len(phase.unconverged)}: {phase.unconverged[:3]})"
        self.say(f"{name}: converged {converged}; duplicates max {phase.duplicates_max}, stale max {phase.stale_max}")
        return phase

    # --- phases -----------------------------------------------------------------------------------

    def _create(self) -> None:
        started = self.now()
        self.say(f"create {len(self.wanted)} Services")
        self._mark()
        names = sorted(self.wanted)
        at = spread(len(names), self.kill_slots.count("create"))
        for index, name in enumerate(names):
            self.kube.create(self.wanted[name].manifest(name))
            if index in at:
                self._kill_on_write("create", "create", timeout=30)
        self._converge("create", started)

    def _replace(self) -> None:
        started = self.now()
        names = self.rng.sample(sorted(self.wanted), max(2, len(self.wanted) // 4))
        self.say(f"replace {len(names)} load balancers (scheme or type change)")
        self._mark()
        slots = [slot for slot in self.kill_slots if slot.startswith("replace-")]
        at = dict(zip(sorted(spread(len(names), len(slots))), slots, strict=False))
        for index, name in enumerate(names):
            want = self.wanted[name]
            if index % 2 == 0 or want.kind == PASSTHROUGH:
                want.internal = not want.internal
            else:
                want.kind = "clb" if want.kind == "nlb" else "nlb"
            self.kube.patch("v1", "services", NAMESPACE, name, {"metadata": {"annotations": want.annotations()}})
            if index in at:
                self._kill_on_write("replace", at[index])
        self._converge("replace", started)

    def _node_churn(self) -> None:
        started = self.now()
        self.say("node churn")
        self._mark()
        added = self.cloud.add_instances(1)[0]
        self.kube.create(node_manifest(added.name, provider_id=added.provider_id, internal_ip=added.internal_ip,
                                       zone=added.zone))
        self._kill_on_write("nodes", "nodes")
        removed = self.cloud.instances[0]
        self.kube.delete("v1", "nodes", None, removed.name)
        while "nodes" in self.kill_slots:
            self._kill_on_write("nodes", "nodes")
        excluded = self.cloud.instances[1]
        self.kube.patch("v1", "nodes", None, excluded.name, {"metadata": {"labels": {EXCLUDE_LABEL: ""}}})
        self._converge("node churn", started)

    def _edits(self) -> None:
        started = self.now()
        names = self.rng.sample(sorted(self.wanted), max(2, len(self.wanted) // 5))
        self.say(f"edit {len(names)} Services (a port added); API server restarts")
        self._mark()
        restarts = self.settings.apiserver_restarts
        for index, name in enumerate(names):
            want = self.wanted[name]
            port = 8080 + index % 3
            if (port, "TCP") not in want.ports:
                want.ports.append((port, "TCP"))
            self.kube.patch("v1", "services", NAMESPACE, name, {"spec": {"ports": [
                {"name": f"{protocol.lower()}-{number}", "port": number, "protocol": protocol}
                for number, protocol in want.ports]}})
            if restarts and index in (len(names) // 3, 2 * len(names) // 3):
                restarts -= 1
                self.say(f"  API server restart ({self.settings.outage_seconds:.0f} s down)")
                self.proxy.restart(self.settings.outage_seconds)
        self._kill_on_write("edits", "edits")
        for _ in range(restarts):
            self.proxy.restart(self.settings.outage_seconds)
        self._converge("edits + API server restarts", started)

    def _delete(self) -> None:
        started = self.now()
        names = self.rng.sample(sorted(self.wanted), max(2, len(self.wanted) // 5))
        self.say(f"delete {len(names)} Services")
        self._mark()
        at = spread(len(names), self.kill_slots.count("delete"))
        for index, name in enumerate(names):
            self.kube.delete("v1", "services", NAMESPACE, name)
            del self.wanted[name]
            if index in at:
                self._kill_on_write("delete", "delete")
        self._wait_gone(names, NAMESPACE)
        self._converge("delete", started)

    def _wait_gone(self, names: list[str], namespace: str) -> list[str]:
        deadline = time.monotonic() + self.settings.converge_timeout
        while True:
            left = sorted(set(names) & set(self.services(namespace)))
            if not left or time.monotonic() > deadline:
                if left:
                    self.result.stuck_deleting += [f"{namespace}/{name}" for name in left]
                return left
            time.sleep(0.5)

    def _garbage_collection(self) -> None:
        """Services removed while no replica runs (finalizer stripped): only the collector can find their LBs."""
        started = self.now()
        names = self.rng.sample(sorted(self.wanted), max(2, len(self.wanted) // 10))
        self.say(f"garbage collection: {len(names)} Services removed behind the controller's back")
        running = list(self.replicas.running.values())
        for replica in running:
            self.replicas.kill(replica, hold=True)
        for name in names:
            self.kube.patch("v1", "services", NAMESPACE, name, {"metadata": {"finalizers": None}})
            self.kube.delete("v1", "services", NAMESPACE, name)
            del self.wanted[name]
        self._mark()
        for replica in running:
            self.replicas.release(replica)
        self._kill_on_write("garbage collection", "gc", timeout=150)
        deadline = time.monotonic() + self.settings.converge_timeout
        while time.monotonic() < deadline and self._orphans_left(names):
            time.sleep(2)
        self.result.gc_orphans_left = self._orphans_left(names)
        self.say(f"  orphans left after collection: {len(self.result.gc_orphans_left)}")
        self._converge("garbage collection", started)

    def _orphans_left(self, names: list[str]) -> list[str]:
        """Every resource of these Services still in the cloud: load balancers by owner, the rest by name."""
        owned = self.inspector.by_service()
        left = [f"load balancer of {NAMESPACE}/{name}" for name in names if f"{NAMESPACE}/{name}" in owned]
        marks = [(f"-{name}-", f"-{name.replace('-', '')}-") for name in names]  # GCP keeps '-', AWS drops it
        return left + [line for line in self._leaked() if any(a in line or b in line for a, b in marks)]

    def _failover(self) -> None:
        """SIGKILL the leader and keep it down: seconds until the standby serves a Service created at once."""
        if not self._take_slot("failover"):
            return
        started = self.now()
        leader = self.replicas.leader()
        self.probes += 1
        name = f"probe-{self.probes}"
        self.wanted[name] = Wanted(PASSTHROUGH if self.settings.provider == "gcp" else "nlb", False)
        self._mark()
        killed = time.monotonic()
        self.replicas.kill(leader, hold=True)
        self.result.kills.append(Kill("fail-over", "leader held down", leader.pod, self.now()))
        self.kube.create(self.wanted[name].manifest(name))
        takeover: float | None = None
        acted: float | None = None
        served: float | None = None
        deadline = killed + 120
        while time.monotonic() < deadline and served is None:
            holder = self.replicas.holder()
            if takeover is None and holder and holder != leader.pod:
                takeover = time.monotonic() - killed
            if acted is None:
                writes = self.cloud.writes(self.write_offset)
                if writes:
                    acted = writes[0][0] - killed
            service = self.services().get(name) or {}
            if ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
                served = time.monotonic() - killed
            time.sleep(0.05)
        self.replicas.release(leader)
        if acted is not None:
            self.result.failover_first_write_seconds.append(acted)
        if served is not None:
            self.result.failover_seconds.append(served)
        else:
            self.result.notes.append(f"fail-over: {name} not served within 120 s of the leader's SIGKILL")
        if takeover is not None:
            self.result.lease_takeover_seconds.append(takeover)
        self.say(f"fail-over: lease taken after {takeover} s, first cloud write after {acted} s, {name} served "
                 f"after {served} s")
        self._converge("fail-over", started)

    def _final_checks(self) -> None:
        services = self.services()
        events = self._events(NAMESPACE)
        for name in self.wanted:
            service = services.get(name) or {}
            status = service.get("status") or {}
            if not (status.get("loadBalancer") or {}).get("ingress") and not status.get("conditions") \
                    and not events.get(name):
                self.result.unnamed_services.append(f"{NAMESPACE}/{name}")
        after = self.inspector.foreign_snapshot()
        before = self.foreign_before
        self.result.foreign_changed = [f"{label}: {before[label]} -> {after.get(label)}"
                                       for label in before if after.get(label) != before[label]]

    def _delete_all(self, name: str) -> None:
        started = self.now()
        names = sorted(self.wanted)
        self.say(f"delete all {len(names)} Services")
        for service in names:
            self.kube.delete("v1", "services", NAMESPACE, service)
        self.wanted.clear()
        self._wait_gone(names, NAMESPACE)
        self.result.phases.append(Phase(name, started, self.now() - started))

    def _leaked(self) -> list[str]:
        return [line for line in self.cloud.leftovers() if not self.inspector.is_foreign_leftover(line)]

    # --- generated Services -----------------------------------------------------------------------

    def _fuzz(self) -> None:
        s = self.settings
        outcome = self.result.fuzz
        started = time.monotonic()
        drawn = fuzz.draw(s.fuzz * 3, s.seed, s.provider)
        index = 0
        self.say(f"generated Services: {s.fuzz} through the controller, in batches of {s.fuzz_batch}")
        while outcome.accepted + outcome.planted < s.fuzz and index < len(drawn):
            batch: list[str] = []
            while len(batch) < s.fuzz_batch and outcome.accepted + outcome.planted < s.fuzz and index < len(drawn):
                name = f"fuzz-{index:04d}"
                manifest = fuzz.as_manifest(drawn[index], name, FUZZ_NAMESPACE)
                index += 1
                outcome.drawn += 1
                with (self.workdir / "fuzz-manifests.jsonl").open("a") as saved:
                    saved.write(json.dumps(manifest) + "\n")
                submitted, status, message = fuzz.submit(self.kube, manifest)
                if status == 0:
                    self.result.notes.append(f"{name}: the API server gave no answer to its creation ({message})")
                if submitted == "refused":  # never reaches a controller
                    outcome.refused += 1
                    outcome.refusals[str(status)] = outcome.refusals.get(str(status), 0) + 1
                    continue
                if submitted == "planted":
                    outcome.planted += 1
                    self.planted.add(name)
                else:
                    outcome.accepted += 1
                batch.append(name)
            self._judge_fuzz_batch(batch, outcome)
            for name in batch:
                with contextlib.suppress(Exception):  # already gone
                    self.kube.delete("v1", "services", FUZZ_NAMESPACE, name)
            outcome.stuck_deleting += [f"{FUZZ_NAMESPACE}/{n}" for n in self._wait_gone(batch, FUZZ_NAMESPACE)]
            self.say(f"  {outcome.accepted + outcome.planted} generated Services so far: served {outcome.served}, "
                     f"named {outcome.named}, unnamed {len(outcome.unnamed)}, other class {outcome.other_class}")
        outcome.seconds = time.monotonic() - started

    def _judge_fuzz_batch(self, batch: list[str], outcome: FuzzOutcome) -> None:
        deadline = time.monotonic() + min(self.settings.converge_timeout, 180.0)
        last: list[str] = []
        unchanged_since = time.monotonic()
        while True:
            services = self.services(FUZZ_NAMESPACE)
            events = self._events(FUZZ_NAMESPACE)
            hostnames = {lb.dns for lbs in self.inspector.by_service().values() for lb in lbs}
            pending = [n for n in batch if n in services and fuzz.ours(services[n], self.settings.provider)
                       and not fuzz.is_served(services[n], sorted(hostnames))
                       and not fuzz.is_named(services[n], events.get(n, []))]
            if pending != last:
                last, unchanged_since = pending, time.monotonic()
            # Done when all are served or named, or when the rest has not moved for 20 s (it will not).
            if not pending or time.monotonic() > deadline or time.monotonic() - unchanged_since > 20:
                break
            time.sleep(1.0)
        time.sleep(1.0)  # Services of another class: give the controller a moment to (wrongly) act on them
        services = self.services(FUZZ_NAMESPACE)
        events = self._events(FUZZ_NAMESPACE)
        # Read again with the Services: one served since the loop's last look names a load balancer made since.
        hostnames = {lb.dns for lbs in self.inspector.by_service().values() for lb in lbs}
        for name in batch:
            service = services.get(name)
            if service is None:
                continue
            if not fuzz.ours(service, self.settings.provider):
                outcome.other_class += 1
                if not fuzz.left_alone(service, events.get(name, [])):
                    outcome.touched_other_class.append(name)
                continue
            outcome.ours += 1
            if fuzz.is_served(service, sorted(hostnames)):
                outcome.served += 1
            elif fuzz.is_named(service, events.get(name, [])):
                outcome.named += 1
                reason = fuzz.why_not_served(service)
                outcome.reasons[reason] = outcome.reasons.get(reason, 0) + 1
            else:
                origin = "planted" if name in self.planted else "through the API"
                annotations = (service.get("metadata") or {}).get("annotations")
                outcome.unnamed.append(f"{name} ({origin}): annotations {annotations}, status {service.get('status')}")

    # --- after the run ----------------------------------------------------------------------------

    def _collect_stats(self) -> None:
        stats = self.cloud.stats()
        self.result.cloud_requests = stats["requests"]
        self.result.cloud_faults = stats["faults"]
        self.result.cloud_write_faults = stats["write_faults"]
        self.result.kube_counts = dict(self.proxy.counts)
        identifiers = self.inspector.foreign_identifiers()
        writes = self.cloud.writes(0)
        with (self.workdir / "cloud-writes.tsv").open("w") as record:
            for at, operation, fault, text in writes:
                record.write(f"{at - self.t0:.3f}\t{operation}\t{fault or 'ok'}\t{text}\n")
        for at, operation, fault, text in writes:
            named = [identifier for identifier in identifiers if identifier in text]
            if named:
                self.result.foreign_writes.append(
                    f"{operation} naming {named} at {at - self.t0:.1f}s ({fault or 'ok'})")

    def _scan_logs(self) -> None:
        for path in self.replicas.logs():
            lines = path.read_text(errors="replace").splitlines()
            for number, line in enumerate(lines):
                if line.startswith("Traceback"):
                    before = next((lines[i] for i in range(number - 1, -1, -1) if not lines[i].startswith(" ")), "")
                    self.result.tracebacks.append(f"{path.name}:{number + 1}: {before[:300]}")
                if "unexpected error" in line:
                    self.result.unexpected_errors.append(f"{path.name}:{number + 1}: {line[:300]}")
