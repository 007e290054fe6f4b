from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudlb.kubeapi import EmulatedKubernetes


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        yield emulated
