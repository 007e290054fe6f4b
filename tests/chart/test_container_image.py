"""The image recipe: multi-stage, slim, locked, non-root, no build tools in what ships.

There is no docker engine on the test machines, so the Dockerfile is checked as
text; the build itself is not exercised here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.chart.dockerfile import Stage, copy_sources, dockerignore_patterns, is_ignored, parse_dockerfile
from tests.chart.rendering import CHART_DIR, REPO_ROOT

pytestmark = pytest.mark.timeout(60)

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|apk|gcc|g\+\+|make|build-essential|pip install|uv)\b")


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE)[1]


def python_stages(stages: list[Stage]) -> list[Stage]:
    return [stage for stage in stages if stage.base.startswith("python:")]


def test_multi_stage_with_a_separate_final_stage(stages: list[Stage]) -> None:
    assert [stage.name for stage in python_stages(stages)] == ["build", "final"]
    assert stages[-1].name == "final"


def test_python_stages_use_one_slim_base(stages: list[Stage]) -> None:
    bases = {stage.base for stage in python_stages(stages)}
    # One base for both, so the venv's interpreter symlinks resolve in the final stage.
    assert len(bases) == 1
    (base,) = bases
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base


def test_uv_is_pinned(stages: list[Stage]) -> None:
    (uv_stage,) = [stage for stage in stages if stage.name == "uv"]
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+", uv_stage.base), uv_stage.base


def test_build_installs_exactly_the_lock(stages: list[Stage]) -> None:
    build = next(stage for stage in stages if stage.name == "build")
    syncs = [run for run in build.arguments("RUN") if "uv sync" in run]
    assert len(syncs) == 2  # dependencies, then our own packages
    for sync in syncs:
        # --no-default-groups: neither the sandbox's emulators (the default group) nor the test tools.
        assert "--frozen" in sync and "--no-default-groups" in sync and "--all-packages" in sync
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]  # the final stage gets the venv without /src
    assert not [run for run in build.arguments("RUN") if "uv lock" in run or "pip install" in run]
    assert any(source == "uv.lock" for copy in build.arguments("COPY") for source in copy_sources(copy))


def test_every_workspace_member_is_copied_before_the_first_sync(stages: list[Stage]) -> None:
    build = next(stage for stage in stages if stage.name == "build")
    members = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    copied_before_sync: list[str] = []
    for instruction, arguments in build.instructions:
        if instruction == "RUN" and "uv sync" in arguments:
            break
        if instruction == "COPY":
            copied_before_sync.extend(copy_sources(arguments))
    for member in members:
        assert f"{member}/pyproject.toml" in copied_before_sync, member
        assert any(member in copy_sources(copy) for copy in build.arguments("COPY")), member


def test_final_stage_has_no_build_tools(stages: list[Stage]) -> None:
    final = stages[-1]
    for run in final.arguments("RUN"):
        assert not BUILD_TOOLS.search(run.replace("pip uninstall", "")), run
    assert not [copy for copy in final.arguments("COPY") if "--from=uv" in copy]
    # Only the built virtual environment comes in, nothing from the build context.
    assert final.arguments("COPY") == ["--from=build /opt/cloudlb /opt/cloudlb"]


def test_runs_cloudlb_as_the_charts_non_root_user(stages: list[Stage]) -> None:
    final = stages[-1]
    (user,) = final.arguments("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
    assert values["podSecurityContext"]["runAsGroup"] == int(gid)
    assert final.arguments("ENTRYPOINT") == ['["cloudlb"]']
    assert final.arguments("CMD") == ['["run"]']


def test_exposed_ports_are_the_charts_ports(stages: list[Stage]) -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    (exposed,) = stages[-1].arguments("EXPOSE")
    assert set(exposed.split()) == {str(values["metrics"]["port"]), str(values["health"]["port"])}


def test_everything_copied_exists_and_is_in_the_build_context(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE)
    sources = [source for stage in stages for copy in stage.arguments("COPY") for source in copy_sources(copy)]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not is_ignored(source, patterns), f"{source} is copied but excluded by .dockerignore"


@pytest.mark.parametrize("path", [
    ".git/HEAD", ".venv/bin/python", "providers/aws/.venv/lib", "cloudlb/__pycache__/cli.cpython-311.pyc",
    ".pytest_cache/v", "providers/gcp/.pytest_cache/v", ".mypy_cache/3.11", ".ruff_cache/x", "tests/unit",
    "providers/aws/tests/test_nlb.py", "charts/cloudlb/values.yaml", "cloudlb.egg-info/PKG-INFO",
])
def test_dockerignore_keeps_local_state_out(path: str) -> None:
    assert is_ignored(path, dockerignore_patterns(DOCKERIGNORE))


def test_dockerignore_checker_does_not_ignore_everything() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE)
    assert not is_ignored("cloudlb/cli.py", patterns)
    assert not is_ignored("providers/gcp/cloudlb_gcp/plugin.py", patterns)


def test_dockerfile_parser_joins_continuations(tmp_path: Path) -> None:
    sample = tmp_path / "Dockerfile"
    sample.write_text("ARG BASE=python:3.11-slim\nFROM ${BASE} AS one\n# note\nRUN a \\\n  # inside\n  && b\n"
                      "FROM one\nUSER 1:1\n")
    args, parsed = parse_dockerfile(sample)
    assert args == {"BASE": "python:3.11-slim"}
    assert [(s.base, s.name) for s in parsed] == [("python:3.11-slim", "one"), ("one", None)]
    assert parsed[0].arguments("RUN") == ["a && b"]
