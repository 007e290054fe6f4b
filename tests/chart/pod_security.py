"""The Kubernetes `restricted` Pod Security Standard, as checks on a pod spec.

Follows the policy table of https://kubernetes.io/docs/concepts/security/pod-security-standards/
(baseline controls plus the restricted ones) for Linux pods. Returns the
violations so that a failing test says which control broke.
"""

from __future__ import annotations

from typing import Any

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}
ALLOWED_SECCOMP = {"RuntimeDefault", "Localhost"}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", []), *pod.get("ephemeralContainers", [])]


def _host_namespace_violations(pod: dict[str, Any]) -> list[str]:
    return [f"pod sets {field}" for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)]


def _volume_violations(pod: dict[str, Any]) -> list[str]:
    problems = []
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} has type {sorted(kinds - RESTRICTED_VOLUME_TYPES)}")
    return problems


def _effective(pod_context: dict[str, Any], container_context: dict[str, Any], field: str) -> Any:
    """A container's setting wins over the pod's, as in the kubelet."""
    return container_context.get(field, pod_context.get(field))


def _container_violations(pod_context: dict[str, Any], container: dict[str, Any]) -> list[str]:
    name = container["name"]
    context = container.get("securityContext", {})
    problems = []
    if context.get("privileged"):
        problems.append(f"container {name} is privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"container {name} does not set allowPrivilegeEscalation: false")
    if _effective(pod_context, context, "runAsNonRoot") is not True:
        problems.append(f"container {name} does not run with runAsNonRoot: true")
    if _effective(pod_context, context, "runAsUser") == 0:
        problems.append(f"container {name} runs as user 0")
    seccomp = _effective(pod_context, context, "seccompProfile") or {}
    if seccomp.get("type") not in ALLOWED_SECCOMP:
        problems.append(f"container {name} has seccomp profile {seccomp.get('type')!r}")
    capabilities = context.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []):
        problems.append(f"container {name} does not drop ALL capabilities")
    added = set(capabilities.get("add", [])) - ADDABLE_CAPABILITIES
    if added:
        problems.append(f"container {name} adds capabilities {sorted(added)}")
    if context.get("procMount", "Default") != "Default":
        problems.append(f"container {name} sets procMount {context['procMount']}")
    if any(port.get("hostPort") for port in container.get("ports", [])):
        problems.append(f"container {name} uses a hostPort")
    return problems


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every way ``pod`` (a PodSpec) breaks the restricted profile; empty when it complies."""
    pod_context = pod.get("securityContext", {})
    problems = _host_namespace_violations(pod) + _volume_violations(pod)
    if (pod_context.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccomp profile is Unconfined")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runs as user 0")
    for container in _containers(pod):
        problems.extend(_container_violations(pod_context, container))
    return problems
