"""The real image: two config versions side by side, rollout and rollback by image under
podman, the runtime's read-only properties, tamper refusal and the HEALTHCHECK.

Run by ``make image-test`` (and by ``make test`` as root); skipped when not root.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_data import agent, tool
from image_support import (
    FAST_CONFIG,
    REPO,
    Built,
    Podman,
    build,
    eventually,
    run_args,
    wait_ready,
)
from support import RedisServer, free_port

if os.geteuid() != 0:
    pytest.skip(
        "needs root: rootful podman (run `make image-test` as root)", allow_module_level=True
    )

pytestmark = [pytest.mark.image, pytest.mark.timeout(900)]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("image-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _start(
    podman: Podman,
    image: Built,
    role: str,
    *,
    redis: RedisServer,
    revision: int,
    empty_dirs: list[str],
    extra: dict[str, str] | None = None,
) -> tuple[str, int]:
    name = podman.name(role)
    port = free_port()
    assert port != 8000
    env = {
        "REGISTRY_HOST": "127.0.0.1",
        "REGISTRY_PORT": str(port),
        "REGISTRY_REDIS_URL": redis.url,
        "REGISTRY_AUTH": "off",  # chosen explicitly, as a real Redis requires
        "REGISTRY_DEPLOY_REVISION": str(revision),
        **FAST_CONFIG,
        **(extra or {}),
    }
    podman(
        "run",
        "--detach",
        "--name",
        name,
        *run_args(empty_dirs),
        *(f"--env={k}={v}" for k, v in env.items()),
        image.ref,
    )
    wait_ready(podman, name, port)
    return name, port


def _get(port: int, path: str) -> Any:
    answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    answer.raise_for_status()
    return answer.json()


def _heartbeat(port: int, agent_id: str, config_version: str | None) -> str:
    body = agent(agent_id, tool("geocode", "geocode"), profile="geocoder")
    if config_version is not None:
        body["config_version"] = config_version
    answer = httpx.post(f"http://127.0.0.1:{port}/heartbeat", json=body, timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["config"]["version"])


def _converged(ports: list[int], version: str, agents: dict[str, str | None]) -> bool:
    """Every replica serves ``version``; every agent's heartbeat answer carries it."""
    if any(_get(port, "/config/active")["version"] != version for port in ports):
        return False
    for i, agent_id in enumerate(agents):
        agents[agent_id] = _heartbeat(ports[i % len(ports)], agent_id, agents[agent_id])
    return all(v == version for v in agents.values())


def test_labels_tag_and_shared_layers(podman: Podman, images: tuple[Built, Built]) -> None:
    v1 = images[0]
    version = re.search(r'^version = "(.+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert version is not None
    for built in images:
        assert (
            built.ref == f"localhost/agent-registry:{version[1]}-cfg-{built.config_version[7:19]}"
        )
        labels = podman.inspect(built.ref)["Labels"]
        assert labels["io.agent-registry.config.version"] == built.config_version
        assert labels["io.agent-registry.config.environment"] == "prod"
        assert labels["org.opencontainers.image.revision"] == built.commit
        assert labels["org.opencontainers.image.version"] == version[1]
        # The source is the clone's origin (a URL, or a path in a local clone), sans userinfo;
        # without an origin, the Containerfile's default.
        assert labels["org.opencontainers.image.source"] == _origin()
    one, two = (podman.inspect(b.ref)["RootFS"]["Layers"] for b in images)
    # base, user, venv shared; the bundle layer differs, and so does the empty provenance
    # layer on top (keyed on the build args, so the labels never come from the cache).
    assert len(one) == len(two) >= 5
    assert [i for i, (a, b) in enumerate(zip(one, two, strict=True)) if a != b] == [3, 4]
    history = json.loads(podman("history", "--no-trunc", "--format", "json", v1.ref).stdout)
    provenance = next(entry for entry in history if "provenance:" in entry["CreatedBy"])
    assert provenance["size"] < 4096  # it writes no file: a tar header or two
    layered = [
        entry["CreatedBy"]
        for entry in history
        if entry["size"] > 0 and "provenance:" not in entry["CreatedBy"]
    ]
    assert "/app/bundle" in layered[0], layered[:3]  # newest layer with content first
    healthcheck = podman.inspect(v1.ref)["Healthcheck"]["Test"]
    assert "REGISTRY_PORT" in " ".join(healthcheck)


def test_provenance_is_never_taken_from_the_layer_cache(
    request: pytest.FixtureRequest, podman: Podman, images: tuple[Built, Built]
) -> None:
    """The same tree from another source: every layer comes from the cache but the labels.

    buildah keys a LABEL step on its text, not on the ARG values it expands, so without the
    Containerfile's provenance RUN this image would carry v1's source (a CI run once did).
    """
    v1 = images[0]
    source = "https://git.example.invalid/fork/agent-registry.git"
    tag = "localhost/agent-registry:provenance-check"
    other = build(request.config, podman, REPO, env={"GIT_SOURCE": source}, tag=tag)
    try:
        labels = podman.inspect(other.ref)["Labels"]
        assert labels["org.opencontainers.image.source"] == source
        assert labels["org.opencontainers.image.revision"] == v1.commit
        assert podman.inspect(v1.ref)["Labels"]["org.opencontainers.image.source"] == _origin()
        mine, theirs = (podman.inspect(ref)["RootFS"]["Layers"] for ref in (other.ref, v1.ref))
        assert mine[:4] == theirs[:4]  # base, user, venv and bundle: from the cache
    finally:
        podman("rmi", tag, check=False)


def test_short_git_commit_is_refused_by_name(podman: Podman, images: tuple[Built, Built]) -> None:
    parent = _base_ref()
    done = podman(
        "build",
        "--format",
        "docker",
        "--pull=never",
        "--build-arg",
        f"PYTHON_IMAGE={parent}",
        "--build-arg",
        f"GIT_COMMIT={_git('rev-parse', '--short', 'HEAD')}",
        "--target",
        "build",
        str(REPO),
        check=False,
        timeout=600,
    )
    assert done.returncode != 0
    assert "GIT_COMMIT=" in done.stderr + done.stdout
    assert "must be the full 40-hex commit sha" in done.stderr + done.stdout


def _base_ref() -> str:
    done = subprocess.run(
        ["bash", "-c", ". image/common.sh && image_base_ref"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


WRITABLE_SCAN = """
import json, os
skip = ("/proc", "/sys", "/dev")
writable = []
for top, dirs, files in os.walk("/"):
    if top.startswith(skip):
        dirs[:] = []
        continue
    if os.access(top, os.W_OK):
        writable.append(top)
    for f in files:
        p = os.path.join(top, f)
        if not os.path.islink(p) and os.access(p, os.W_OK):
            writable.append(p)
tried = {}
for p in ("/app/bundle/manifest.json", "/app/bundle/new", "/app/x", "/opt/venv/x", "/x"):
    try:
        open(p, "a").close()
        tried[p] = "written"
    except OSError as exc:
        tried[p] = exc.strerror
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "writable": writable, "tried": tried}))
"""


BUNDLE_MODES = """
import json, os
out = {}
for top, dirs, files in os.walk("/app/bundle"):
    for p in [top, *(os.path.join(top, f) for f in files)]:
        st = os.stat(p)
        out[p] = [st.st_uid, st.st_mode & 0o7777]
print(json.dumps(out))
"""


def test_runtime_is_non_root_and_read_only(
    podman: Podman, images: tuple[Built, Built], redis: RedisServer, empty_dirs: list[str]
) -> None:
    v1 = images[0]
    name, _ = _start(podman, v1, "ro", redis=redis, revision=1, empty_dirs=empty_dirs)
    inside = json.loads(podman("exec", name, "python", "-c", WRITABLE_SCAN).stdout)
    assert (inside["uid"], inside["gid"]) == (10001, 10001)
    stray = [p for p in inside["writable"] if not any(p.startswith(d) for d in empty_dirs)]
    assert stray == []
    for path in empty_dirs:
        assert path in inside["writable"]
    # An existing file fails its permission check first; new files fail on the read-only root.
    assert set(inside["tried"].values()) <= {"Read-only file system", "Permission denied"}, inside
    assert inside["tried"]["/app/bundle/new"] == "Read-only file system"
    podman.remove(name)

    # Without --read-only too, uid 10001 cannot change the bundle: root owns it, mode 0555.
    rw = podman.name("rw")
    done = podman(
        "run", "--rm", "--name", rw, "--network", "none", v1.ref, "python", "-c", WRITABLE_SCAN
    )
    tried = json.loads(done.stdout)["tried"]
    assert tried["/app/bundle/manifest.json"] == "Permission denied"
    assert tried["/app/bundle/new"] == "Permission denied"
    modes = podman("run", "--rm", "--network", "none", v1.ref, "python", "-c", BUNDLE_MODES)
    entries = json.loads(modes.stdout)
    assert len(entries) > 3
    assert {uid for uid, _ in entries.values()} == {0}, entries
    assert [p for p, (_, mode) in entries.items() if mode & 0o022] == []


def test_rollout_then_rollback_by_image(
    podman: Podman, images: tuple[Built, Built], redis: RedisServer, empty_dirs: list[str]
) -> None:
    v1, v2 = images
    redis.client().flushall()
    token = secrets.token_urlsafe(24)
    common = {"redis": redis, "empty_dirs": empty_dirs, "extra": {"REGISTRY_ADMIN_TOKEN": token}}
    one, port1 = _start(podman, v1, "rev1", revision=1, **common)
    assert _get(port1, "/config/active")["version"] == v1.config_version
    agents: dict[str, str | None] = dict.fromkeys(("a-1", "a-2", "a-3", "a-4"))
    eventually(lambda: _converged([port1], v1.config_version, agents), what="v1 on revision 1")

    # helm upgrade: revision 2 runs image v2. Prod's bundle carries the default rollout
    # policy, so v2 is a gated candidate; the operator promotes it through every step.
    two, port2 = _start(podman, v2, "rev2", revision=2, **common)
    rollout = _get(port1, "/config/rollout")
    assert (rollout["state"], rollout["candidate"]) == ("running", v2.config_version), rollout
    assert (rollout["baseline"], rollout["step"]) == (v1.config_version, 0), rollout
    assert _get(port2, "/config/active")["version"] == v1.config_version
    for _ in rollout["steps"]:
        answer = httpx.post(
            f"http://127.0.0.1:{port2}/admin/config/rollout/promote",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
    assert _get(port1, "/config/rollout")["state"] == "complete"
    eventually(lambda: _converged([port1, port2], v2.config_version, agents), what="v2 everywhere")

    # helm rollback: revision 3 runs image v1 again, and revision 2 goes away.
    podman("stop", "--time", "5", two)
    three, port3 = _start(podman, v1, "rev3", revision=3, **common)
    eventually(
        lambda: _converged([port1, port3], v1.config_version, agents), what="v1 after rollback"
    )
    versions = _get(port3, "/config/versions")
    assert versions["active"]["version"] == v1.config_version
    assert versions["active"]["revision"] == 3
    assert {v["version"] for v in versions["versions"]} == {v1.config_version, v2.config_version}
    activations = [h["version"] for h in reversed(versions["history"])]  # oldest first
    assert activations[:3] == [v1.config_version, v2.config_version, v1.config_version]
    for name in (one, three):
        assert "Traceback" not in podman.logs(name)


def test_tampered_bundle_refuses_to_start(
    podman: Podman, images: tuple[Built, Built], redis: RedisServer, tmp_path: Path
) -> None:
    v1 = images[0]
    target = "profiles/geocoder.json"
    (tmp_path / "Containerfile").write_text(
        f"FROM {v1.ref}\nUSER 0\nRUN printf ' ' >> /app/bundle/{target}\nUSER 10001:10001\n"
    )
    tampered = f"localhost/agent-registry-test:tampered-{podman.prefix.rsplit('-', 1)[1]}"
    podman.images.append(tampered)
    podman(
        "build", "--format", "docker", "--pull=never", "-t", tampered, str(tmp_path), timeout=300
    )
    name = podman.name("tampered")
    done = podman(
        "run",
        "--name",
        name,
        "--read-only",
        "--network",
        "host",
        "--env=REGISTRY_HOST=127.0.0.1",
        f"--env=REGISTRY_PORT={free_port()}",
        f"--env=REGISTRY_REDIS_URL={redis.url}",
        "--env=REGISTRY_AUTH=off",
        tampered,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0
    assert target in done.stdout + done.stderr, done.stdout + done.stderr


def test_healthcheck_follows_registry_port(
    podman: Podman, images: tuple[Built, Built], redis: RedisServer, empty_dirs: list[str]
) -> None:
    name, port = _start(podman, images[0], "health", redis=redis, revision=1, empty_dirs=empty_dirs)
    assert port != 8000

    def healthy() -> bool:
        return podman("healthcheck", "run", name, check=False).returncode == 0

    eventually(healthy, timeout=60, what=f"healthcheck on port {port}")
    done = podman("healthcheck", "run", name, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    status = podman("inspect", "--format", "{{.State.Health.Status}}", name)
    assert status.stdout.strip() == "healthy"


def _origin() -> str:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["git", "-C", str(root), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        default = re.search(r"^ARG SOURCE=(\S+)$", (root / "Containerfile").read_text(), re.M)
        assert default is not None
        return default.group(1)
    return re.sub(r"^([a-z+]+://)[^/@]*@", r"\1", url)
