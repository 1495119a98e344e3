"""`helm lint --strict` (Helm's own linter, through the SDK) is clean for every values set,
against Kubernetes 1.29 and the newest version kubernetes-validate ships."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import helm_python as helm
import pytest
from kubernetes_validate.utils import latest_version

KUBE_VERSIONS = ("v1.29.0", f"v{latest_version()}")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_lint_strict_is_clean(
    k8s: SimpleNamespace, values: dict[str, Any], kube_version: str
) -> None:
    report = helm.lint(
        k8s.CHART_DIR, values, strict=True, namespace=k8s.NAMESPACE, kube_version=kube_version
    )
    assert report["total_charts_linted"] == 1
    # No findings at all, not even informational ones (severity 1).
    assert report["messages"] == []
    assert report["errors"] == []


def test_lint_reports_a_broken_template(k8s: SimpleNamespace, tmp_path: Path) -> None:
    """The clean result above is not vacuous: a broken copy of the chart gets findings."""
    broken = tmp_path / "agent-registry"
    shutil.copytree(k8s.CHART_DIR, broken)
    service = broken / "templates" / "service.yaml"
    service.write_text(service.read_text() + "  bogus: {{ .Values.no.such.value }}\n")
    report = helm.lint(broken, {}, strict=True, kube_version=KUBE_VERSIONS[0])
    assert any(m["severity"] == 3 and "service.yaml" in m["error"] for m in report["messages"])
