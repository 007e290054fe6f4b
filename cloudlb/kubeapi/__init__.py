"""An emulated Kubernetes API server, good enough for kopf, kubectl and cloudlb's tests.

Built on kmock's ``KubernetesEmulator`` (see :mod:`cloudlb.kubeapi.server` for
what is replaced and why)::

    with EmulatedKubernetes(host="127.0.0.1", port=0) as kube:
        kube.write_kubeconfig(path)            # context "cloudlb-sandbox"
        kube.create({...}); kube.get("v1", "services", "default", "web")
        kube.requests                          # what clients asked, as RBAC verbs

What it does like a real API server: uid, a global resourceVersion with 409 on
stale writes, generation, generateName, finalizers and deletionTimestamp, an
isolated ``/status``, merge / strategic-merge / JSON patches, watches (JSON lines,
resumable, label and field selectors), Service defaulting, clusterIP and node
port allocation and validation, discovery and server-side Table printing.

Known limits:

* No OpenAPI: kubectl ``create``, ``apply`` and ``edit`` need ``--validate=false``.
* No server-side apply (``apply-patch+yaml`` is a 415), no ``dryRun`` (400),
  no ``deletecollection``, no paging (``limit`` is ignored, lists are complete).
* Deletion propagation policies and namespace deletion do not cascade.
* core/v1 and events.k8s.io/v1 Events are separate collections (no conversion).
* No authentication or authorization: every request is allowed and recorded.
"""

from cloudlb.kubeapi.cluster import EmulatedKubernetes
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.recording import RecordedRequest

__all__ = ["ApiError", "EmulatedKubernetes", "RecordedRequest"]
