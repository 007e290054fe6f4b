"""moto's EC2 tag lookup made constant-time, so that the sandbox answers at 1,000 load balancers.

moto 5 finds one resource's tags by scanning every tag of the account (``describe_tags`` with a
resource-id filter), and ``DescribeSecurityGroups`` does that for each group it returns: quadratic.
At 600 groups one listing took 12 s, at 1,000 it outlasted botocore's 60 s read timeout, so the
sandbox (and the scale benchmark) could not list a cluster's groups at all. This reads the same
tags straight from moto's own dict: the same answer, in the same shape. Applied in the process that
runs moto's server, before it serves.
"""

from __future__ import annotations

from typing import Any

_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603 - patch the class once per process
    if _applied:
        return
    _applied = True
    from moto.ec2.models.core import TaggedEC2Resource  # noqa: PLC0415 - moto is the sandbox's, not the provider's
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix  # noqa: PLC0415

    def get_tags(self: Any) -> list[dict[str, str]]:
        resource_id = self.id
        if not resource_id:
            return []
        tags = dict(self.ec2_backend.tags.get(resource_id, {}))
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [{"resource_id": resource_id, "key": key, "value": value, "resource_type": kind}
                for key, value in tags.items()]

    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]
