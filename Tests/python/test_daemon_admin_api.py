"""The operators' admin HTTP API (/api/v1/, docs/admin-api.md) on the real voicecored, with real
device clients over WebSocket: who may call it (401/403, disabled without --admin-token), what a
malformed request gets (400/404/405/413 with a JSON reason), and that the Coordinator's answers
describe the devices that are really connected."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from typing import Any

from daemon_harness import Daemon, connect_device, hello, next_json


def logged(d: Daemon, pick: Any, enough: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The daemon log's entries ``pick`` accepts, once ``enough(entries)`` holds (or ``timeout``
    passed): the harness reads the log on a thread, so a line the daemon wrote may not be in yet."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [e for e in d.log if pick(e)]
        if enough(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)

ADMIN = "operator-secret"


def call(d: Daemon, method: str, path: str, token: str | None = ADMIN, body: Any = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One request on a fresh connection: status, JSON body, headers (lower-cased names)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read()
    conn.close()
    return r.status, json.loads(text) if text else {}, {k.lower(): v for k, v in r.getheaders()}


def test_admin_api_is_disabled_without_an_admin_token() -> None:
    with Daemon() as d:
        for token in (None, "anything", ADMIN):
            status, body, _ = call(d, "GET", "/api/v1/devices", token=token)
            assert status == 403, (token, status, body)
            assert body == {"error": "admin API disabled: start with --admin-token"}


def test_auth_matrix() -> None:
    with Daemon("--admin-token", ADMIN) as d:
        status, body, headers = call(d, "GET", "/api/v1/devices", token=None)
        assert status == 401 and "bearer" in body["error"].lower()
        assert headers.get("www-authenticate") == "Bearer"
        assert headers.get("content-type", "").startswith("application/json")
        status, body, _ = call(d, "GET", "/api/v1/devices", token="not-the-token")
        assert status == 403 and body == {"error": "the admin token is wrong"}
        # The worker token is not an admin token.
        status, _, _ = call(d, "GET", "/api/v1/devices", token="worker-secret")
        assert status == 403
        status, body, _ = call(d, "GET", "/api/v1/devices", headers={"Authorization": "Basic b3A6c2VjcmV0"}, token=None)
        assert status == 403
        # A refused POST is answered whole (its body read and dropped) and the connection stays usable.
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say", token="wrong", body={"text": "hi"})
        assert status == 403
        status, body, _ = call(d, "GET", "/api/v1/devices")
        assert status == 200 and body == {"devices": []}
        refused = logged(d, lambda e: e.get("event") == "admin.refused", lambda r: len(r) >= 4)
        assert len(refused) >= 4 and {e["status"] for e in refused} == {401, 403}
        assert "not-the-token" not in json.dumps(d.log)


def test_the_token_can_come_from_the_environment() -> None:
    with Daemon(env={"VOICECORED_ADMIN_TOKEN": ADMIN}) as d:
        assert call(d, "GET", "/api/v1/devices")[0] == 200
        assert call(d, "GET", "/api/v1/devices", token="x")[0] == 403


def test_bad_requests_get_json_reasons() -> None:
    with Daemon("--admin-token", ADMIN) as d:
        status, body, _ = call(d, "GET", "/api/v1/nothing-here")
        assert status == 404 and "no such route" in body["error"]
        status, body, _ = call(d, "POST", "/api/v1/devices", body={})
        assert status == 405 and "GET" in body["error"]
        status, body, _ = call(d, "GET", "/api/v1/devices/not-connected")
        assert status == 404 and body == {"error": 'device "not-connected" is not connected'}
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say", raw=b'{"text": "unterminated')
        assert status == 400 and body["error"].startswith("malformed JSON body:"), body
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say", raw=b'{"a": 1, "a": 2}')
        assert status == 400 and "duplicate" in body["error"], body
        big = json.dumps({"text": "x" * 70000}).encode()
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say", raw=big)
        assert status == 413 and "65536" in body["error"], body
        # Exactly the limit is read and handed on (and then refused by the core for its own reasons).
        exact = b'{"text": "' + b"y" * (65536 - 12) + b'"}'
        assert len(exact) == 65536
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say", raw=exact)
        assert status in (400, 404), (status, body)
        # After all that the daemon still serves, and the core logged each request it was handed.
        assert call(d, "GET", "/api/v1/devices")[0] == 200
        requests = logged(d, lambda e: e.get("kind") == "admin.request", lambda r: {e["value"] for e in r} >= {404, 405, 200})
        assert {e["value"] for e in requests} >= {404, 405, 200}
        assert all(e["text"].startswith(("GET /api/v1/", "POST /api/v1/")) for e in requests)


def test_keep_alive_connection_serves_admin_and_plain_requests_in_turn() -> None:
    with Daemon("--admin-token", ADMIN) as d:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        for path, auth in [("/api/v1/devices", True), ("/healthz", False), ("/api/v1/devices/x", True), ("/api/v1/devices", False)]:
            conn.request("GET", path, headers={"Authorization": f"Bearer {ADMIN}"} if auth else {})
            r = conn.getresponse()
            r.read()
            expected = {"/healthz": (200, 503)}.get(path, (200,) if path == "/api/v1/devices" and auth else (404, 401))
            assert r.status in expected, (path, auth, r.status)
        # A POST with a body, refused or answered, leaves the connection ready for the next request.
        for token, status in [("wrong", 403), (ADMIN, 404), (ADMIN, 404)]:
            conn.request("POST", "/api/v1/devices/nobody/say", body=b'{"text": "hello"}',
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == status and "error" in json.loads(r.read())
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        assert r.status in (200, 503)
        conn.close()


def test_a_client_that_leaves_mid_body_leaves_the_daemon_serving() -> None:
    with Daemon("--admin-token", ADMIN) as d:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(f"POST /api/v1/devices/x/say HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"text\": ".encode())
        time.sleep(0.2)
        s.close()
        time.sleep(0.2)
        assert call(d, "GET", "/api/v1/devices")[0] == 200


def test_devices_lists_what_is_connected() -> None:
    with Daemon("--admin-token", ADMIN) as d:
        async def run() -> None:
            a = await connect_device(d, device_id="kitchen")
            await a.send(hello())
            assert (await next_json(a))["type"] == "hello"
            b = await connect_device(d, device_id="bedroom", version=3)
            await b.send(hello())
            assert (await next_json(b))["type"] == "hello"
            status, body, _ = await asyncio.to_thread(call, d, "GET", "/api/v1/devices")
            assert status == 200
            devices = {x["device_id"]: x for x in body["devices"]}
            assert set(devices) == {"kitchen", "bedroom"}
            assert devices["kitchen"]["state"] == "idle" and devices["kitchen"]["session"].startswith("s")
            assert devices["bedroom"]["protocol_version"] == 3
            status, one, _ = await asyncio.to_thread(call, d, "GET", "/api/v1/devices/bedroom")
            assert status == 200
            assert {k: v for k, v in one.items() if k != "connected_for_ms"} == \
                {k: v for k, v in devices["bedroom"].items() if k != "connected_for_ms"}
            # The session name is the one the log uses.
            for _ in range(100):
                connected = [e for e in d.log if e.get("kind") == "session.connected" and e.get("text") == "bedroom"]
                if connected:
                    break
                await asyncio.sleep(0.05)
            assert connected and connected[-1]["session"] == one["session"]
            await a.close()
            for _ in range(100):
                status, body, _ = await asyncio.to_thread(call, d, "GET", "/api/v1/devices")
                if [x["device_id"] for x in body["devices"]] == ["bedroom"]:
                    break
                await asyncio.sleep(0.05)
            assert [x["device_id"] for x in body["devices"]] == ["bedroom"]
            assert (await asyncio.to_thread(call, d, "GET", "/api/v1/devices/kitchen"))[0] == 404
            await b.close()

        asyncio.run(run())


def test_post_bodies_empty_or_chunked() -> None:
    """A POST with no body reaches the core with none (refused there with its reason); a chunked
    body (which lws 4.1 does not hand a server) is refused with 411 and the connection closed."""
    with Daemon("--admin-token", ADMIN) as d:
        status, body, _ = call(d, "POST", "/api/v1/devices/x/say")
        assert status == 400 and "JSON object" in body["error"], body
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        payload = b'{"text": "hello"}'
        s.sendall(f"POST /api/v1/devices/nobody/say HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                  f"Transfer-Encoding: chunked\r\n\r\n{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break  # closed after the answer
            data += chunk
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 411"), data
        assert "Content-Length" in json.loads(rest)["error"]
        assert call(d, "GET", "/api/v1/devices")[0] == 200
