"""`helm test`: the registry is ready and answers a heartbeat round trip (stdlib only)."""

import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request

URL = os.environ["REGISTRY_URL"].rstrip("/")
AGENT = os.environ.get("AGENT_ID", "helm-test")
if os.environ.get("TCP_ONLY"):
    host, _, port = URL.split("://", 1)[1].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        sys.exit(f"FAIL connect {host}:{port}: {exc}")
    print("ok: the replica accepts connections (mTLS only: nothing more without a certificate)")
    sys.exit(0)
HEADERS = {"content-type": "application/json"}
if os.environ.get("TOKEN_FILE"):
    with open(os.environ["TOKEN_FILE"], encoding="utf-8") as handle:
        HEADERS["authorization"] = "Bearer " + handle.read().strip()
CONTEXT = None
if URL.startswith("https://"):
    # The server certificate is checked against the mounted CA when there is one; its names
    # need not include the Service's DNS name.
    CONTEXT = ssl.create_default_context(cafile=os.environ.get("CA_FILE") or None)
    CONTEXT.check_hostname = False
    if not os.environ.get("CA_FILE"):
        CONTEXT.verify_mode = ssl.CERT_NONE


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method, headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=10, context=CONTEXT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        sys.exit(f"FAIL {method} {URL}{path}: {exc}")


def check(what, got, wanted):
    print(f"{what}: {got}")
    if got not in wanted:
        sys.exit(f"FAIL {what}: expected {' or '.join(map(str, wanted))}, got {got}")


check("GET /health/ready", call("GET", "/health/ready")[0], (200,))
if os.environ.get("READY_ONLY"):
    print("ok: ready (no agent token for this test: heartbeat round trip skipped)")
    sys.exit(0)
registration = {"agent_id": AGENT, "name": "helm-test", "http_host": "127.0.0.1", "tools": []}
status, body = call("POST", "/heartbeat", registration)
check("POST /heartbeat", status, (200,))
check("heartbeat answer", json.loads(body).get("status"), ("success",))
# 200 (nothing changed) or 202 (send a full POST): either way the TTL was refreshed.
check(f"HEAD /heartbeat/{AGENT}", call("HEAD", f"/heartbeat/{AGENT}")[0], (200, 202))
check(f"DELETE /agents/{AGENT}", call("DELETE", f"/agents/{AGENT}")[0], (204,))
check(f"HEAD /heartbeat/{AGENT} after DELETE", call("HEAD", f"/heartbeat/{AGENT}")[0], (410,))
print("ok: ready, and a heartbeat round trip works")
