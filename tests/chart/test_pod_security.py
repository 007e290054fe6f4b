"""The controller's pod meets the `restricted` Pod Security Standard in every documented setup."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.pod_security import restricted_violations
from tests.chart.rendering import REQUIRED_VALUES, documented_setups, only_object, rendered_objects

pytestmark = pytest.mark.timeout(60)

SETUPS = documented_setups()


def pod_spec(values: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = only_object(rendered_objects(values), "Deployment")["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("values", [v for _, v in SETUPS], ids=[n for n, _ in SETUPS])
def test_pod_complies_with_restricted_profile(values: dict[str, Any]) -> None:
    assert restricted_violations(pod_spec(values)) == []


def test_restricted_fields_are_set_explicitly() -> None:
    pod = pod_spec(dict(REQUIRED_VALUES))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["runAsNonRoot"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod


def test_writable_tmp_is_the_only_writable_path_and_is_bounded() -> None:
    pod = pod_spec(dict(REQUIRED_VALUES))
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


@pytest.mark.parametrize(
    ("override", "violation"),
    [
        ({"securityContext": {"allowPrivilegeEscalation": True, "runAsNonRoot": True,
                              "capabilities": {"drop": ["ALL"]}}},
         "container controller does not set allowPrivilegeEscalation: false"),
        ({"securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                              "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}},
         "container controller adds capabilities ['NET_ADMIN']"),
        ({"securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                              "capabilities": {"drop": ["NET_RAW"]}}},
         "container controller does not drop ALL capabilities"),
        ({"podSecurityContext": {"runAsUser": 0}}, "pod runs as user 0"),
        ({"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}, "pod seccomp profile is Unconfined"),
    ],
    ids=["escalation", "added-capability", "no-drop", "root", "unconfined"],
)
def test_checker_reports_a_loosened_security_context(override: dict[str, Any], violation: str) -> None:
    # The chart lets operators loosen these; the checker must notice, or the tests above prove nothing.
    assert violation in restricted_violations(pod_spec({**REQUIRED_VALUES, **override}))
