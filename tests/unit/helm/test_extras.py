"""Chart values for people trying it: image registry, init containers and sidecars, the
`helm test` pod, `make helm-template`, and the README's one-liner with a user's Redis."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import yaml

REDIS = {"redis": {"url": "redis://my-redis:6379/0"}}
TEMPLATE = Path(__file__).resolve().parents[3] / "helm" / "tools" / "template.py"


def _pods(manifests: list[dict[str, Any]], k8s: SimpleNamespace) -> tuple[Any, Any]:
    deployment = k8s.find(manifests, "Deployment")["spec"]["template"]["spec"]
    test_pod = k8s.find(manifests, "Pod")["spec"]
    return deployment, test_pod


def test_image_registry_and_global_image_registry(render: Any, k8s: SimpleNamespace) -> None:
    image = {"registry": "registry.example.com/", "repository": "team/agent-registry"}
    deployment, test_pod = _pods(render({"image": image}), k8s)
    assert deployment["containers"][0]["image"] == "registry.example.com/team/agent-registry:0.1.0"
    assert test_pod["containers"][0]["image"] == deployment["containers"][0]["image"]
    values = {"image": image, "global": {"imageRegistry": "mirror.internal:5000"}}
    deployment, _ = _pods(render(values), k8s)
    assert deployment["containers"][0]["image"] == "mirror.internal:5000/team/agent-registry:0.1.0"
    deployment, _ = _pods(render({}), k8s)  # no registry: the repository as it is
    assert deployment["containers"][0]["image"] == "ghcr.io/example/agent-registry:0.1.0"


def test_init_containers_and_sidecars(render: Any, k8s: SimpleNamespace) -> None:
    values = {
        **REDIS,
        "initContainers": [
            {"name": "wait-redis", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}
        ],
        "sidecars": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31", "args": ["-l", "info"]}],
    }
    manifests = render(values)
    pod = k8s.find(manifests, "Deployment")
    spec = pod["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["wait-redis"]
    assert [c["name"] for c in spec["containers"]] == ["registry", "proxy"]
    kubernetes_validate.validate(pod, "1.29.0", strict=True)
    assert "initContainers" not in k8s.find(render({}), "Deployment")["spec"]["template"]["spec"]


def test_helm_test_pod_is_a_test_hook_the_service_never_selects(
    render: Any, k8s: SimpleNamespace
) -> None:
    manifests = render(REDIS)
    pod = k8s.find(manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    selector = k8s.find(manifests, "Service")["spec"]["selector"]
    labels = pod["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in selector.items())
    (check,) = pod["spec"]["containers"]
    assert check["command"][:2] == ["python", "-c"]
    compile(check["command"][2], "helm_test.py", "exec")  # valid Python
    env = {e["name"]: e["value"] for e in check["env"]}
    assert env["REGISTRY_URL"] == f"http://{k8s.FULLNAME}.{k8s.NAMESPACE}.svc:8000"
    assert check["securityContext"]["readOnlyRootFilesystem"] is True
    assert "Pod" not in k8s.kinds(render({**REDIS, "tests": {"enabled": False}}))


def test_network_policy_admits_the_test_pod(render: Any, k8s: SimpleNamespace) -> None:
    manifests = render({**REDIS, "networkPolicy": {"enabled": True}})
    peers = k8s.find(manifests, "NetworkPolicy")["spec"]["ingress"][0]["from"]
    labels = k8s.find(manifests, "Pod")["metadata"]["labels"]
    assert any(
        "podSelector" in p
        and p["podSelector"].get("matchLabels")
        and all(labels.get(k) == v for k, v in p["podSelector"]["matchLabels"].items())
        for p in peers
    )


def _template(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TEMPLATE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_helm_template_prints_manifests_and_one_line_errors() -> None:
    done = _template("--set", "redis.url=redis://r:6379/0", "--set", "replicaCount=2")
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert "# Source: agent-registry/templates/deployment.yaml" in done.stdout
    bad = _template("--set", "replicaCount=3")  # several replicas need Redis
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "redis.url is empty" in bad.stderr


def test_make_helm_template_runs_the_tool() -> None:
    make = shutil.which("make")
    assert make is not None
    done = subprocess.run(
        [make, "-s", "--no-print-directory", "helm-template", "ARGS=--namespace demo"],
        cwd=TEMPLATE.parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "namespace: demo" in done.stdout


def test_readme_one_liner_with_your_own_redis(k8s: SimpleNamespace, tmp_path: Path) -> None:
    readme = (k8s.CHART_DIR / "README.md").read_text()
    (line,) = [
        x
        for x in readme.splitlines()
        if x.startswith("helm install reg ./helm/agent-registry --set redis.url")
    ]
    args = shlex.split(line)[4:]  # after `helm install reg ./helm/agent-registry`
    (tmp_path / "redis-password").write_text("s3cret-from-a-file")
    done = _template(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert (
        by_kind["ConfigMap"]["data"]["REGISTRY_REDIS_URL"] == "redis://my-redis.default.svc:6379/0"
    )
    assert by_kind["Deployment"]["spec"]["replicas"] == 3
    assert "redis-password" in by_kind["Secret"]["data"]
