"""An emulated Kubernetes API server, good enough for kopf, kubectl and cloudlb's tests.

Built on kmock's ``KubernetesEmulator`` (see :mod:`cloudlb.kubeapi.server` for
what is replaced and why)::

    with EmulatedKubernetes(host="127.0.0.1", port=0) as kube:
        kube.write_kubeconfig(path)            # context "cloudlb-sandbox"
        kube.create({...}); kube.get("v1", "services", "default", "web")
        kube.requests                          # what clients asked, as RBAC verbs

What it does like a real API server: uid, a global resourceVersion with 409 on
stale writes, generation, generateName, finalizers and deletionTimestamp, an
isolated ``/status``, merge / strategic-merge / JSON patches, server-side apply
with managedFields and conflicts, ``dryRun=All``, strict/warn/ignore field
validation, OpenAPI v3 (so plain ``kubectl apply``, ``explain`` and ``diff`` work),
protobuf request bodies (``kubectl create service``, ``expose``), watches (JSON
lines, resumable, label and field selectors), Service defaulting, validation,
clusterIP and node port allocation, Namespaces with their lifecycle, the
``kubernetes`` Service, Deployments and EndpointSlices (stored, not run),
discovery and server-side Table printing. Memory stays bounded: the request log,
watch history and backlogs are capped and Events expire (``event_ttl``).

Known limits:

* No controllers: Deployments get no ReplicaSets or Pods (their Progressing
  condition says so), EndpointSlices are only what clients write.
* No ``deletecollection``, no paging (``limit`` is ignored, lists are complete),
  no ``/openapi/v2``; deletion propagation policies do not cascade (a Namespace's
  deletion does empty it).
* core/v1 and events.k8s.io/v1 Events are separate collections (no conversion).
* Protobuf is read, never written (answers are JSON, which every client accepts).
* No authentication or authorization: every request is allowed and recorded.
"""

from cloudlb.kubeapi.cluster import EmulatedKubernetes
from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.recording import RecordedRequest

__all__ = ["ApiError", "EmulatedKubernetes", "RecordedRequest"]
