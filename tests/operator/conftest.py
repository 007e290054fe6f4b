from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import node_manifest


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        for index in range(2):
            emulated.create(node_manifest(f"node-{index}", provider_id=f"example://zone-a/vm-{index}",
                                          internal_ip=f"10.0.0.{10 + index}", zone="zone-a"))
        yield emulated
