"""The install docs point at files that exist and document every value the chart takes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.chart.rendering import CHART_DIR, REPO_ROOT

pytestmark = pytest.mark.timeout(60)

DOCS = [*sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "charts" / "README.md", CHART_DIR / "README.md"]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
EXAMPLE_PATH = re.compile(r"charts/examples/[\w.-]+\.yaml")
# The cloud permissions, written with the providers; the chart's README must point at both.
PERMISSION_FILES = {"providers/aws/iam-policy.json", "providers/gcp/gcp-permissions.yaml"}


def relative_links(doc: Path) -> list[tuple[str, Path]]:
    links = [(target, (doc.parent / target).resolve()) for target in LINK.findall(doc.read_text())
             if not re.match(r"[a-z]+://", target)]
    links += [(path, REPO_ROOT / path) for path in EXAMPLE_PATH.findall(doc.read_text())]
    return links


CASES = [(doc, target, path) for doc in DOCS for target, path in relative_links(doc)]


def test_docs_exist_for_each_install_path() -> None:
    names = {doc.name for doc in DOCS}
    assert {"install-eks.md", "install-gke.md", "install-self-managed.md",
            "alongside-cloud-controller-manager.md"} <= names


@pytest.mark.parametrize(("doc", "target", "path"), CASES,
                         ids=[f"{d.relative_to(REPO_ROOT)}->{t}" for d, t, _ in CASES])
def test_relative_links_resolve(doc: Path, target: str, path: Path) -> None:
    assert path.exists(), f"{doc.name} links to {target}, which does not exist"


def test_chart_readme_points_at_both_permission_files() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    for path in PERMISSION_FILES:
        assert f"../../{path}" in readme
        assert (REPO_ROOT / path).is_file()


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    undocumented = [key for key in schema["properties"] if key != "global" and f"`{key}" not in readme]
    assert undocumented == []
