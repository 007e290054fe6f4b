"""An emulated Kubernetes API server, good enough for kopf, kubectl and cloudlb's tests.

Built on kmock's ``KubernetesEmulator``; see :mod:`cloudlb.kubeapi.server` for what
is replaced and why. kubectl has no OpenAPI to validate against: run ``create`` and
``apply`` with ``--validate=false``.
"""

from cloudlb.kubeapi.cluster import EmulatedKubernetes
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.recording import RecordedRequest

__all__ = ["ApiError", "EmulatedKubernetes", "RecordedRequest"]
