"""Generated Services (``cloudlb.strategies``) through the *running* controller, and how each one ended.

Each drawn Service gets a unique name and ``type: LoadBalancer``, then goes to the API
server as a client would send it (HTTP POST). What the API server refuses never reaches
a controller on a real cluster, but what its *validation* refuses (422 Invalid) may have
been stored by an older API server, before a newer check: that is planted through the
emulator's helper (which skips validation) and counted apart. Anything else the API
server refuses, above all a 400 from decoding (labels or annotations that are not maps
of strings: no version of the API server can hold them), is counted as not storable.

A Service of our class (none, or ``cloudlb.io/<provider>``) must end **served** (an
ingress naming one of its load balancers) or **named** (a Warning Event and a status
condition or port error saying what is wrong); one of another class must be left alone
(no finalizer, no status, no Event from cloudlb).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, Literal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.strategies import services

OUR_CONDITIONS_FAILING = {"cloudlb.io/LoadBalancerSynced": "False", "cloudlb.io/ConfigurationHonoured": "False",
                          "LoadBalancerPortsError": "True"}
CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


def annotation_names(provider: str) -> list[str]:
    """The annotations each provider and the core read, for the strategy to draw often."""
    from cloudlb.sharing import SHARE_KEY_ANNOTATION  # noqa: PLC0415
    from cloudlb.translate import AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION  # noqa: PLC0415

    names = [SHARE_KEY_ANNOTATION, AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION,
             "service.beta.kubernetes.io/load-balancer-source-ranges", "networking.gke.io/load-balancer-type"]
    if provider == "aws":
        from cloudlb_aws.annotations import PARSED  # noqa: PLC0415

        names += list(PARSED)
    else:
        from cloudlb_gcp import gke_annotations  # noqa: PLC0415

        names += [value for key, value in vars(gke_annotations).items()
                  if key.isupper() and isinstance(value, str) and "/" in value]
    return names


def draw(count: int, seed: int, provider: str) -> list[dict[str, Any]]:
    """``count`` Services from the strategy, the same ones for the same seed."""
    drawn: list[dict[str, Any]] = []
    strategy = services(annotation_names(provider))

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(service: dict[str, Any]) -> None:
        drawn.append(service)

    while len(drawn) < count:  # hypothesis may stop early when it has seen enough
        before = len(drawn)
        collect()
        if len(drawn) == before:
            break
    return drawn[:count]


def as_manifest(drawn: dict[str, Any], name: str, namespace: str) -> dict[str, Any]:
    """The drawn Service, named and of type LoadBalancer (its spec kept, wrong types and all)."""
    metadata = drawn.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    spec = drawn.get("spec")
    spec = dict(spec) if isinstance(spec, dict) else {}
    spec["type"] = "LoadBalancer"
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP"}])
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def post(kube_url: str, manifest: dict[str, Any]) -> tuple[int, str]:
    """Create through the API as a client does; (HTTP status, message)."""
    namespace = manifest["metadata"]["namespace"]
    # fieldValidation=Ignore: the emulated API server drops the connection when it would warn about an unknown
    # field whose name holds a control character (see the chaos report); the real one sanitises the Warning.
    request = urllib.request.Request(f"{kube_url}/api/v1/namespaces/{namespace}/services?fieldValidation=Ignore",
                                     data=json.dumps(manifest).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        try:
            message = str(json.loads(body).get("message", body))
        except ValueError:
            message = body
        return exc.code, message
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        return 0, f"no answer: {exc!r}"


Submitted = Literal["accepted", "planted", "refused"]
INVALID = 422  # refused by validation: an older API server may have stored it


def submit(kube: EmulatedKubernetes, manifest: dict[str, Any]) -> tuple[Submitted, int, str]:
    """Create ``manifest`` through the API; plant it only if validation refused it. (outcome, HTTP status, message)

    Status 0 (no answer) counts as accepted only if the object is there.
    """
    status, message = post(kube.url, manifest)
    metadata = manifest["metadata"]
    if 0 < status < 300 or (status == 0 and kube.get("v1", "services", metadata["namespace"], metadata["name"])):
        return "accepted", status, message
    if status != INVALID:
        return "refused", status, message
    try:
        kube.create(manifest)
    except Exception as exc:  # whatever the helper refuses never reaches a controller
        return "refused", status, f"{message}; the helper: {exc}"
    return "planted", status, message


def ours(service: dict[str, Any], provider: str) -> bool:
    spec = service.get("spec") or {}
    klass = spec.get("loadBalancerClass") if isinstance(spec, dict) else None
    return klass is None or klass == f"cloudlb.io/{provider}"


def is_served(service: dict[str, Any], hostnames: Sequence[str]) -> bool:
    """An ingress entry naming one of the Service's load balancers (by DNS name or address)."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return any(entry.get("hostname") in hostnames or entry.get("ip") in hostnames for entry in ingress)


# Reasons that say the controller is still at it (a cloud fault, the cloud's state): not a verdict on the Service.
STILL_TRYING = {"RetryingAfterError", "WaitingForCloud", "ReplacingLoadBalancer"}


def is_named(service: dict[str, Any], events: Sequence[dict[str, Any]]) -> bool:
    """A Warning Event, and a status condition or port error that says what is wrong (not "retrying")."""
    if not any(event.get("type") == "Warning" for event in events):
        return False
    status = service.get("status") or {}
    conditions = status.get("conditions") or []
    if any(OUR_CONDITIONS_FAILING.get(str(c.get("type"))) == c.get("status") and c.get("reason") not in STILL_TRYING
           for c in conditions):
        return True
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    return any(port.get("error") for entry in ingress for port in entry.get("ports") or [])


def why_not_served(service: dict[str, Any]) -> str:
    """The failing condition's reason (what a user reads first)."""
    for condition in (service.get("status") or {}).get("conditions") or []:
        if OUR_CONDITIONS_FAILING.get(str(condition.get("type"))) == condition.get("status"):
            return f"{condition.get('type')}: {condition.get('reason')}"
    return "(no failing condition)"


def left_alone(service: dict[str, Any], events: Sequence[dict[str, Any]]) -> bool:
    """What a Service of another class must look like: no finalizer, no status, no Event of ours."""
    finalizers = (service.get("metadata") or {}).get("finalizers") or []
    status = service.get("status") or {}
    touched = CLEANUP_FINALIZER in finalizers or (status.get("loadBalancer") or {}).get("ingress") or any(
        str(c.get("type")) in OUR_CONDITIONS_FAILING for c in status.get("conditions") or [])
    return not touched and not events
