"""The agent-side client proves its identity: a bearer token (re-read from its file when it
changes) or a client certificate over HTTPS."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from agents_data import provider
from security_fixtures import TOKENS, bearer, tokens_json
from support import RedisServer, eventually, start_registry
from tls_certs import ThrowawayCA

from service.client import Credentials, RegistryClient


async def _invalid_count(url: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    for line in text.splitlines():
        if line.startswith('registry_auth_failures_total{reason="invalid"}'):
            return float(line.split()[1])
    return 0.0


async def test_client_token_file_is_used_and_rotated_without_restart(
    redis_url: str, tmp_path: Path
) -> None:
    proc = start_registry(
        tmp_path, REGISTRY_REDIS_URL=redis_url, REGISTRY_AUTH="token", REGISTRY_TOKENS=tokens_json()
    )
    token_file = tmp_path / "token"
    token_file.write_text(TOKENS["agent_a"] + "\n")
    try:
        client = RegistryClient(
            [proc.url],
            provider("a-client"),
            interval=0.2,
            credentials=Credentials(token_file=token_file),
        )
        async with client:
            async with asyncio.timeout(20):
                await client.wait_registered()
            async with httpx.AsyncClient(base_url=proc.url) as http:
                owner = (await http.get("/agents/a-client", headers=bearer("admin"))).json()
                assert owner["owner"] == "token:team-a"
                before = await _invalid_count(proc.url)
                token_file.write_text("tok-revoked\n")  # a bad token is re-read, refused ...

                async def refused_once() -> bool:
                    return await _invalid_count(proc.url) > before

                await eventually(refused_once, timeout=20)
                token_file.write_text(TOKENS["agent_a_rotated"] + "\n")  # ... the new one works
                await asyncio.sleep(0.5)  # let a heartbeat with the old file land first
                settled = await _invalid_count(proc.url)

                async def steady() -> bool:
                    await asyncio.sleep(1.0)  # five heartbeat intervals with the new token
                    return await _invalid_count(proc.url) == settled

                await eventually(steady, timeout=20)
                head = await http.head("/heartbeat/a-client", headers=bearer("agent_a_rotated"))
                assert head.status_code == 200
    finally:
        proc.stop()


@pytest.mark.parametrize("workers", ["1", "2"])  # 2: a worker adopts a handed connection
async def test_client_certificate_over_https(
    redis_server: RedisServer, tmp_path: Path, workers: str
) -> None:
    redis_server.client().flushall()
    ca = ThrowawayCA(tmp_path)
    server = ca.issue("registry", cn="registry")
    agent = ca.issue("agent", cn="a-cert", spiffe="spiffe://registry.test/agent/a-cert")
    proc = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_server.url,
        REGISTRY_AUTH="mtls",
        REGISTRY_TLS_CERT=str(server.cert),
        REGISTRY_TLS_KEY=str(server.key),
        REGISTRY_TLS_CLIENT_CA=str(ca.cert),
        REGISTRY_WORKERS=workers,
    )
    creds = Credentials(cert=agent.cert, key=agent.key, ca=ca.cert)
    try:
        async with RegistryClient([proc.url], provider("a-cert"), credentials=creds) as client:
            async with asyncio.timeout(20):
                await client.wait_registered()
        records = redis_server.client().get("reg:{default}:a:a-cert") or b""
        assert b'"own":"mtls:spiffe://registry.test/agent/a-cert"' in records
    finally:
        proc.stop()
