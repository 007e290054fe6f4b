"""``aws-load-balancer-security-groups`` and ``-extra-security-groups``: the load balancer's security groups. Pure.

As cloud-provider-aws and the AWS Load Balancer Controller read them (comma-separated,
trimmed; each a group id, or, as the Load Balancer Controller also takes, the value of a
group's ``Name`` tag, looked up in the load balancer's VPC): ``security-groups`` replaces
the group cloudlb would create for the load balancer, so cloudlb then manages no rule for the load balancer's front end
(the user's groups say who may connect, and source ranges are not applied);
``extra-security-groups`` are attached beside cloudlb's own. The cluster's
backend group, which the nodes admit, stays attached either way, so the
targets keep receiving traffic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cloudlb.parsing import quoted
from cloudlb.problems import Problem
from cloudlb_aws.annotation_values import problem, string_list
from cloudlb_aws.annotations import PREFIX

SECURITY_GROUPS = PREFIX + "security-groups"
EXTRA_SECURITY_GROUPS = PREFIX + "extra-security-groups"
PARSED = (SECURITY_GROUPS, EXTRA_SECURITY_GROUPS)
GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
# An NLB takes five security groups, a Classic ELB five as well (the default quota).
MAX_GROUPS = 5
MAX_NAME_TAG = 256  # an EC2 tag value
# The characters AWS's tagging rules allow in a tag value (letters, digits, spaces and _ . : / = + - @).
NAME_TAG = re.compile(r"[\w .:/=+\-@]+")


@dataclass(frozen=True)
class FrontendGroups:
    replace: tuple[str, ...] = ()  # the user's groups instead of cloudlb's own (ids or Name tags)
    extra: tuple[str, ...] = ()  # the user's groups beside cloudlb's own (ids or Name tags)

    @property
    def names(self) -> tuple[str, ...]:
        """The entries that are Name tags, to be looked up."""
        return tuple(item for item in dict.fromkeys((*self.replace, *self.extra)) if not is_group_id(item))

    def resolved(self, ids: Mapping[str, str]) -> FrontendGroups:
        """The same groups with each Name tag replaced by the id ``ids`` gives it."""
        def by_id(items: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(ids.get(item, item) for item in items))
        return FrontendGroups(by_id(self.replace), by_id(self.extra))

    @property
    def own_group(self) -> bool:
        """Whether cloudlb's own front-end group (and its rules) is wanted."""
        return not self.replace

    def groups(self, own: object, backend: object) -> list[object]:
        """The load balancer's groups, in upstream's order: the user's, else cloudlb's own; the backend; extras."""
        first: list[object] = list(self.replace) if self.replace else [own]
        chosen = [*first, backend, *self.extra]
        return [g for i, g in enumerate(chosen) if g not in chosen[:i]]


def is_group_id(item: str) -> bool:
    return GROUP_ID.fullmatch(item) is not None


def _ids(annotations: Mapping[str, str], name: str, problems: list[Problem]) -> tuple[str, ...]:
    """Group ids and Name tags; a Name tag is resolved when the load balancer is planned (it needs a read)."""
    found: list[str] = []
    for item in string_list(annotations.get(name, "")):
        if item.startswith("sg-") and not is_group_id(item):
            # Fatal: the load balancer would be reachable through other groups than the user chose.
            problems.append(problem(name, f"{quoted(item)} is not a security group id such as sg-0123456789abcdef0"))
        elif len(item) > MAX_NAME_TAG or (not is_group_id(item) and not NAME_TAG.fullmatch(item)):
            problems.append(problem(name, f"{quoted(item)} is neither a security group id nor a Name tag (at most "
                                          f"{MAX_NAME_TAG} letters, digits, spaces and _ . : / = + - @)"))
        else:
            found.append(item)
    return tuple(dict.fromkeys(found))


def parse(annotations: Mapping[str, str]) -> tuple[FrontendGroups, list[Problem]]:
    problems: list[Problem] = []
    replace, extra = _ids(annotations, SECURITY_GROUPS, problems), _ids(annotations, EXTRA_SECURITY_GROUPS, problems)
    if SECURITY_GROUPS in annotations and not replace and not problems:
        problems.append(problem(SECURITY_GROUPS, "names no security group; cloudlb's own group is used",
                                fatal=False))
    count = len(replace or ("own",)) + 1 + len(set(extra) - set(replace))
    if count > MAX_GROUPS:
        problems.append(problem(EXTRA_SECURITY_GROUPS if extra else SECURITY_GROUPS,
                                f"the load balancer would carry {count} security groups (with cloudlb's backend "
                                f"group); AWS takes at most {MAX_GROUPS}"))
    return FrontendGroups(replace, extra), problems
