"""``iam-policy.json`` grants exactly the AWS actions the provider invoked during the test session.

Runs last (see conftest): it needs every other AWS test to have run, and it
checks both directions, so a new call without a policy update fails, and so
does a permission nothing uses any more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parent.parent / "iam-policy.json"
TESTS = Path(__file__).resolve().parent
# Actions IAM checks that are not API calls of their own: tagging on create
# (CreateLoadBalancer and CreateTargetGroup with Tags need AddTags as well).
IMPLIED = {
    "elasticloadbalancing:CreateLoadBalancer": {"elasticloadbalancing:AddTags"},
    "elasticloadbalancing:CreateTargetGroup": {"elasticloadbalancing:AddTags"},
}


def policy_actions() -> set[str]:
    document = json.loads(POLICY.read_text())
    assert document["Version"] == "2012-10-17"
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    assert not any("*" in action for action in actions), "wildcards are not least privilege"
    return actions


def test_iam_policy_has_exactly_the_actions_the_tests_used(
        request: pytest.FixtureRequest, aws_actions_used: set[str]) -> None:
    ran = {Path(str(item.path)).name for item in request.session.items}
    every_module = {path.name for path in TESTS.glob("test_*.py")}
    options = request.config.option
    if not every_module <= ran or options.keyword or options.markexpr:
        pytest.skip("needs every AWS provider test in the session to know every action used")

    used = set(aws_actions_used)
    wanted = used | {implied for action in used for implied in IMPLIED.get(action, set())}
    granted = policy_actions()
    assert sorted(wanted - granted) == [], "actions used but not granted"
    assert sorted(granted - wanted) == [], "actions granted but never used"
