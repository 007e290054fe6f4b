"""apps/v1 Deployments and discovery.k8s.io/v1 EndpointSlices: defaulted and validated, never run.

The sandbox has no kubelet, scheduler or workload controllers. A Deployment is
stored with the real server's defaults and validation (so ``kubectl create
deployment`` and ``kubectl expose`` behave as on a cluster), and its status says,
where ``kubectl get`` and ``kubectl describe`` show it, that nothing runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudlb.kubeapi import errors
from cloudlb.kubeapi.errors import FieldCause
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]

NO_CONTROLLER_REASON = "NoControllerInSandbox"
NO_CONTROLLER_MESSAGE = ("the cloudlb sandbox runs no deployment controller, scheduler or kubelet: "
                         "this Deployment is stored and served, but no ReplicaSets or Pods are created")
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _go_map(labels: Mapping[str, Any]) -> str:
    """How field errors print a map[string]string value."""
    return "map[string]string{" + ", ".join(f'"{key}":"{value}"' for key, value in sorted(labels.items())) + "}"


def _default_container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = str(container.get("image") or "")
    tag = image.rsplit("/", 1)[-1]
    untagged_or_latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    container.setdefault("imagePullPolicy", "Always" if untagged_or_latest else "IfNotPresent")
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            _default_container(container)


def _default_deployment(spec: Obj) -> None:
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    _default_pod_spec(template.setdefault("spec", {}))


def _validate_deployment(spec: Obj) -> list[FieldCause]:
    causes: list[FieldCause] = []
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(FieldCause("spec.selector", "Required value", "FieldValueRequired"))
    else:
        wanted = selector.get("matchLabels") or {}
        if any(labels.get(key) != value for key, value in wanted.items()):
            causes.append(FieldCause("spec.template.metadata.labels", f"Invalid value: {_go_map(labels)}: "
                                     "`selector` does not match template `labels`"))
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(FieldCause("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    if not containers:
        causes.append(FieldCause("spec.template.spec.containers", "Required value", "FieldValueRequired"))
    for index, container in enumerate(containers):
        path = f"spec.template.spec.containers[{index}]"
        if not isinstance(container, dict) or not container.get("name"):
            causes.append(FieldCause(f"{path}.name", "Required value", "FieldValueRequired"))
        if not isinstance(container, dict) or not container.get("image"):
            causes.append(FieldCause(f"{path}.image", "Required value", "FieldValueRequired"))
    return causes


class DeploymentAdmission:
    """The real server's Deployment defaults and validation, and a status that says nothing runs it."""

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj], options: WriteOptions) -> None:
        spec = new.get("spec")
        if not isinstance(spec, dict):
            spec = new["spec"] = {}
        _default_deployment(spec)
        if options.validate:
            causes = _validate_deployment(spec)
            if causes:
                raise errors.invalid("Deployment", new["metadata"]["name"], causes, "apps")
        if old is None:
            new["status"] = {"conditions": [{
                "type": "Progressing", "status": "Unknown", "reason": NO_CONTROLLER_REASON,
                "message": NO_CONTROLLER_MESSAGE, "lastUpdateTime": new["metadata"]["creationTimestamp"],
                "lastTransitionTime": new["metadata"]["creationTimestamp"]}]}


class EndpointSliceAdmission:
    """``addressType`` is required and one of the three the real server knows."""

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj], options: WriteOptions) -> None:
        address_type = new.get("addressType")
        if not options.validate:
            return
        if not address_type:
            cause = FieldCause("addressType", "Required value", "FieldValueRequired")
        elif address_type not in ADDRESS_TYPES:
            cause = FieldCause("addressType", f'Unsupported value: "{address_type}": supported values: '
                               + ", ".join(f'"{value}"' for value in ADDRESS_TYPES), "FieldValueNotSupported")
        else:
            return
        raise errors.invalid("EndpointSlice", new["metadata"]["name"], [cause], "discovery.k8s.io")
