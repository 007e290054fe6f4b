from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import example_cluster


@pytest.fixture
def kube() -> Iterator[EmulatedKubernetes]:
    with example_cluster() as emulated:
        yield emulated
