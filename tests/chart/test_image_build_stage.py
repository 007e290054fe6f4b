"""The Dockerfile's build stage, replayed on this machine without a docker engine.

Its COPY instructions are carried out from the build context (honouring
.dockerignore), its ENV is applied, and its RUN instructions are run with the
host's uv, offline from uv's cache. Paths of the image are moved into a
temporary folder (/src and /opt/cloudlb) and the interpreter is the host's
Python 3.11; everything else is the Dockerfile's own commands. What comes out
is what the final stage would copy: the virtual environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chart.dockerfile import Stage, copy_sources, dockerignore_patterns, is_ignored, parse_dockerfile
from tests.chart.rendering import REPO_ROOT

pytestmark = pytest.mark.timeout(300)

IMAGE_VENV = "/opt/cloudlb"
IMAGE_WORKDIR = "/src"
DEV_ONLY = ("pytest", "mypy", "ruff", "moto", "kmock", "helm_python", "kubernetes_validate", "cloudlb_example")


def copy_into(source: Path, target: Path, context: Path, ignored: list[str]) -> None:
    """Docker's COPY of one source: a file to its target, a directory's contents into the target."""
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(context).as_posix()
        if path.is_file() and not is_ignored(relative, ignored):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def replay_copy(arguments: str, workdir: Path, ignored: list[str]) -> None:
    sources = copy_sources(arguments)
    destination = shlex.split(arguments)[-1]
    target = workdir / destination
    for source in sources:
        path = REPO_ROOT / source
        into_directory = destination.endswith("/") or len(sources) > 1
        copy_into(path, target / path.name if into_directory and path.is_file() else target, REPO_ROOT, ignored)


def image_environment(stage: Stage, venv: Path) -> dict[str, str]:
    environment = dict(os.environ)
    for arguments in stage.arguments("ENV"):
        for assignment in shlex.split(arguments):
            name, _, value = assignment.partition("=")
            environment[name] = value.replace(IMAGE_VENV, str(venv))
    environment.pop("VIRTUAL_ENV", None)  # the test's own environment must not leak in
    environment["UV_PYTHON"] = str(getattr(sys, "_base_executable", sys.executable))  # the host's 3.11
    environment["UV_OFFLINE"] = "1"  # the lock's packages come from uv's cache, never the network
    return environment


@pytest.fixture(scope="module")
def built_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The build stage's virtual environment, and what its RUN instructions printed."""
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH")
    root = tmp_path_factory.mktemp("image")
    venv, workdir = root / "opt-cloudlb", root / "src"
    _, stages = parse_dockerfile(REPO_ROOT / "Dockerfile")
    build = next(stage for stage in stages if stage.name == "build")
    ignored = dockerignore_patterns(REPO_ROOT / ".dockerignore")
    environment = image_environment(build, venv)
    output: list[str] = []
    for instruction, arguments in build.instructions:
        if instruction == "WORKDIR":
            assert arguments == IMAGE_WORKDIR
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and "--from=" not in arguments:
            replay_copy(arguments, workdir, ignored)
        elif instruction == "RUN":
            command = re.sub(r"^(--mount=\S+\s+)+", "", arguments).replace(IMAGE_VENV, str(venv))
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=workdir, env=environment,
                                    capture_output=True, text=True, timeout=240, check=False)
            assert result.returncode == 0, f"RUN {command}\n{result.stdout}\n{result.stderr}"
            output.append(result.stdout)
    yield venv, "\n".join(output)
    shutil.rmtree(root, ignore_errors=True)  # a few hundred MB


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3.*/site-packages")
    return found


def test_build_stage_installs_both_providers_and_the_command(built_venv: tuple[Path, str]) -> None:
    venv, output = built_venv
    # The build's own smoke check, `cloudlb providers`, ran and found both in-tree providers.
    assert re.search(r"^aws: ", output, re.MULTILINE), output
    assert re.search(r"^gcp: ", output, re.MULTILINE), output
    assert (venv / "bin" / "cloudlb").is_file()


def test_build_stage_installs_our_packages_as_copies_not_links_to_the_sources(built_venv: tuple[Path, str]) -> None:
    packages = site_packages(built_venv[0])
    for package in ("cloudlb", "cloudlb_aws", "cloudlb_gcp"):
        assert (packages / package / "__init__.py").is_file(), package
    # An editable install would leave a .pth pointing into /src, which the final stage does not have.
    pth_targets = [line for pth in packages.glob("*.pth") for line in pth.read_text().splitlines()]
    assert not [line for line in pth_targets if "src" in line], pth_targets


def test_build_stage_leaves_out_development_and_sandbox_packages(built_venv: tuple[Path, str]) -> None:
    installed = {path.name.split("-")[0].lower() for path in site_packages(built_venv[0]).iterdir()}
    assert not installed & set(DEV_ONLY)
