"""`helm test`: the registry is ready and answers a heartbeat round trip (stdlib only)."""

import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ["REGISTRY_URL"].rstrip("/")
AGENT = os.environ.get("AGENT_ID", "helm-test")


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        URL + path, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
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
registration = {"agent_id": AGENT, "name": "helm-test", "http_host": "127.0.0.1", "tools": []}
status, body = call("POST", "/heartbeat", registration)
check("POST /heartbeat", status, (200,))
check("heartbeat answer", json.loads(body).get("status"), ("success",))
# 200 (nothing changed) or 202 (send a full POST): either way the TTL was refreshed.
check(f"HEAD /heartbeat/{AGENT}", call("HEAD", f"/heartbeat/{AGENT}")[0], (200, 202))
check(f"DELETE /agents/{AGENT}", call("DELETE", f"/agents/{AGENT}")[0], (204,))
check(f"HEAD /heartbeat/{AGENT} after DELETE", call("HEAD", f"/heartbeat/{AGENT}")[0], (410,))
print("ok: ready, and a heartbeat round trip works")
