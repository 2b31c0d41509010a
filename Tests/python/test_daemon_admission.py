"""voicecored's admission and WebSocket liveness, on the real binary with real sockets: silent and
slow clients cannot starve the port (header timeout, per-address limits, /healthz always
answered), half-open WebSockets are found by ping, and unmasked client frames fail the
connection (RFC 6455 §5.1). Raw TCP sockets play the misbehaving clients; the handshake is done by
hand where a client library would answer pings or mask frames for us."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from daemon_harness import Daemon, connect_device, connect_worker, daemon_binary, hello, next_json
from test_daemon_robustness import make_certificate


def settings(**options: int) -> dict[str, str]:
    """Options through the environment (VOICECORED_<NAME>), which a daemon without them ignores:
    run against an older binary (VOICECORED_BIN), each test fails on behaviour, not on a flag."""
    return {f"VOICECORED_{k.upper()}": str(v) for k, v in options.items()}


def healthz(d: Daemon, timeout: float = 1.0) -> tuple[int, float]:
    """Status and seconds of one GET /healthz on a new connection."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(d.http + "/healthz", timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.monotonic() - t0


def silent_socket(d: Daemon) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s.setblocking(False)
    return s


def is_closed(s: socket.socket) -> bool:
    """True once the daemon has closed (or reset) the connection."""
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_closed(s: socket.socket, timeout: float) -> float | None:
    """Seconds until the daemon closes s, or None if it is still open after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if is_closed(s):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


class SilentCrowd:
    """n silent TCP connections held against the port: any the daemon closes is opened again."""

    def __init__(self, d: Daemon, n: int) -> None:
        self.d = d
        self.sockets = [silent_socket(d) for _ in range(n)]
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)
        self._thread.start()

    def _hold(self) -> None:
        while not self._stop.wait(0.05):
            for i, s in enumerate(self.sockets):
                if is_closed(s):
                    s.close()
                    try:
                        self.sockets[i] = silent_socket(self.d)
                        self.reopened += 1
                    except OSError:
                        pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for s in self.sockets:
            s.close()

    def __enter__(self) -> "SilentCrowd":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- WebSocket by hand -----------------------------------------------------------------------------


def raw_upgrade(d: Daemon, path: str = "/xiaozhi/v1/", headers: dict[str, str] | None = None,
                tls: ssl.SSLContext | None = None) -> socket.socket:
    """A TCP socket that has completed the WebSocket handshake and answers nothing by itself."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    if tls is not None:
        s = tls.wrap_socket(s, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    fields = {"Host": f"127.0.0.1:{d.port}", "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
              "Sec-WebSocket-Version": "13", "Protocol-Version": "1", "Device-Id": "aa:bb:cc:dd:ee:99",
              "Client-Id": "c0ffee00-0000-4000-8000-000000000099"}
    fields.update(headers or {})
    s.sendall((f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    assert head.endswith(b"\r\n\r\n"), "the daemon sent a frame before it was spoken to"
    return s


def ws_frame(opcode: int, payload: bytes, masked: bool = True) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(s: socket.socket, timeout: float) -> tuple[int, bytes] | None:
    """The next frame the daemon sends (opcode, payload), or None when the connection ends."""
    s.settimeout(timeout)

    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    try:
        b0, b1 = exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", exactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", exactly(8))[0]
        assert not b1 & 0x80, "server frames are never masked"
        return b0 & 0x0F, exactly(n)
    except (EOFError, ConnectionResetError):
        return None


def close_code(s: socket.socket, timeout: float = 5.0) -> int | None:
    """Reads frames until the daemon's close frame; its status code (None: closed without one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            f = read_frame(s, max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            return None
        if f is None:
            return None
        opcode, payload = f
        if opcode == 8:
            return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
    return None


# --- The tests -------------------------------------------------------------------------------------


def test_silent_sockets_do_not_starve_healthz_devices_or_workers() -> None:
    with Daemon() as d, SilentCrowd(d, 200) as crowd:
        time.sleep(0.3)
        for _ in range(10):
            status, seconds = healthz(d)
            assert status == 200 and seconds < 1.0, (status, seconds)
            time.sleep(0.2)
        with urllib.request.urlopen(d.http + "/metrics", timeout=1) as r:
            metrics = r.read().decode()
        assert "voicecored_pending_connections" in metrics

        async def device_and_worker() -> None:
            device = await asyncio.wait_for(connect_device(d), 2)
            await device.send(hello())
            if d.coordinator:
                assert (await next_json(device, timeout=2))["type"] == "hello"
            worker = await asyncio.wait_for(connect_worker(d), 2)
            await worker.send(json.dumps({"type": "register", "protocol": 1, "name": "crowded", "kinds": ["tts"],
                                          "slots": {"tts": 1}, "models": [], "labels": {}}))
            if d.coordinator:
                assert (await next_json(worker, timeout=2))["type"] == "registered"
            await device.close()
            await worker.close()
        asyncio.run(device_and_worker())
        # The crowd was held the whole time: what the daemon closed was opened again at once.
        assert sum(not is_closed(s) for s in crowd.sockets) >= 150


def test_a_slow_or_silent_request_is_closed_after_the_header_timeout() -> None:
    with Daemon(env=settings(header_timeout_ms=1000)) as d:
        silent = silent_socket(d)
        dribble = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400
        t0 = time.monotonic()
        closed_after = None
        for byte in request:
            try:
                dribble.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - t0
                break
            time.sleep(0.05)
            if is_closed_blocking(dribble):
                closed_after = time.monotonic() - t0
                break
        assert closed_after is not None and 0.7 < closed_after < 4.0, closed_after
        waited = wait_closed(silent, 4.0)
        assert waited is not None, "a silent connection outlived the header timeout"
        assert healthz(d)[0] == 200
        with urllib.request.urlopen(d.http + "/metrics", timeout=2) as r:
            metrics = r.read().decode()
        assert 'voicecored_admission_total{action="header_timeout"} 2' in metrics, metrics[-800:]


def is_closed_blocking(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return is_closed(s)
    finally:
        s.setblocking(True)


def test_pending_connections_are_bounded_overall_and_per_address() -> None:
    # Overall bound 8, so the per-address share (4) applies from 4 pending connections on.
    with Daemon(env=settings(max_pending_connections=8, max_pending_per_address=4, header_timeout_ms=60000)) as d:
        held = [silent_socket(d) for _ in range(4)]
        # A fifth at once, while the four are fresh: refused (this address has had its share).
        fifth = silent_socket(d)
        assert wait_closed(fifth, 2.0) is not None, "a connection beyond the limit was kept"
        assert all(not is_closed(s) for s in held)
        time.sleep(1.2)
        # The four have been held idle over a second: a new connection takes the oldest one's place.
        status, _ = healthz(d, timeout=2)
        assert status == 200
        assert wait_closed(held[0], 2.0) is not None, "the oldest silent connection was not evicted"
        assert all(not is_closed(s) for s in held[1:])
        newcomer = silent_socket(d)
        time.sleep(0.3)
        assert not is_closed(newcomer)
        for s in held + [fifth, newcomer]:
            s.close()
    # The overall bound on its own.
    with Daemon(env=settings(max_pending_connections=3, max_pending_per_address=100, header_timeout_ms=60000)) as d:
        held = [silent_socket(d) for _ in range(3)]
        fourth = silent_socket(d)
        assert wait_closed(fourth, 2.0) is not None
        time.sleep(1.2)
        assert healthz(d, timeout=2)[0] == 200
        assert wait_closed(held[0], 2.0) is not None
        for s in held + [fourth]:
            s.close()


def test_a_burst_from_one_address_is_admitted_whole() -> None:
    # 300 devices at once from loopback, far past the per-address share, with the defaults.
    with Daemon() as d:
        async def burst() -> None:
            results = await asyncio.gather(*[connect_device(d, device_id=f"burst-{i}") for i in range(300)],
                                           return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            assert not failed, failed[:3]
            await asyncio.gather(*[ws.close() for ws in results])
        asyncio.run(burst())
        assert not any(e.get("event") == "admission.closed" for e in d.log)


def test_connections_per_address_are_bounded_when_configured() -> None:
    with Daemon(env=settings(max_connections_per_address=3)) as d:
        async def scenario() -> None:
            a = await connect_device(d)
            b = await connect_device(d)
            await a.send(hello())
            await b.send(hello())
            third = silent_socket(d)
            await asyncio.sleep(0.2)
            fourth = silent_socket(d)
            assert await asyncio.to_thread(wait_closed, fourth, 2.0) is not None
            assert not is_closed(third)
            third.close()
            await a.close()
            await asyncio.sleep(0.3)
            status, _ = await asyncio.to_thread(healthz, d, 2.0)
            assert status == 200
            await b.close()
        asyncio.run(scenario())


def test_a_half_open_device_is_dropped_within_the_ping_window() -> None:
    with Daemon(env=settings(ping_interval_s=1, ping_timeout_s=1)) as d:
        async def scenario() -> None:
            # A device whose client library answers pings stays connected.
            alive = await connect_device(d, device_id="aa:bb:cc:dd:ee:01")
            await alive.send(hello())
            # A device that completed the handshake and then went silent (power lost, NAT dropped).
            dead = raw_upgrade(d)
            dead.sendall(ws_frame(1, hello().encode()))
            first = await asyncio.to_thread(d.wait_for, "device.connected", 3)
            second = await asyncio.to_thread(d.wait_for, "device.connected", 3)
            assert first["device_id"] == "aa:bb:cc:dd:ee:01" and second["device_id"] == "aa:bb:cc:dd:ee:99"
            t0 = time.monotonic()
            gone = await asyncio.to_thread(d.wait_for, "device.disconnected", 8)
            took = time.monotonic() - t0
            # Its session ended (the core was told) within ping interval + timeout, with margin.
            assert gone["session"] == second["session"], gone
            assert took < 6.0, took
            if d.coordinator:
                # The core forgot the session (its jobs and timers cancelled).
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline and not any(
                        e.get("kind") == "session.gone" and e.get("session") == second["session"] for e in d.log):
                    await asyncio.sleep(0.05)
                assert any(e.get("kind") == "session.gone" and e.get("session") == second["session"] for e in d.log)
            # The live one answered every ping and is still there.
            await asyncio.sleep(1.0)
            await alive.ping()
            with urllib.request.urlopen(d.http + "/healthz", timeout=2) as r:
                assert json.loads(r.read())["devices"] == 1
            await alive.close()
            dead.close()
        asyncio.run(scenario())


def test_a_half_open_worker_link_is_dropped_within_the_ping_window() -> None:
    with Daemon(env=settings(ping_interval_s=1, ping_timeout_s=1)) as d:
        link = raw_upgrade(d, "/worker", {"Authorization": "Bearer worker-secret"})
        link.sendall(ws_frame(1, json.dumps({"type": "register", "protocol": 1, "name": "frozen", "kinds": ["tts"],
                                             "slots": {"tts": 1}, "models": [], "labels": {}}).encode()))
        connected = d.wait_for("worker.connected", 3)
        t0 = time.monotonic()
        gone = d.wait_for("worker.disconnected", 8)
        assert gone["worker"] == connected["worker"] and time.monotonic() - t0 < 6.0
        link.close()


def test_pings_reach_the_device_and_pongs_keep_it() -> None:
    with Daemon(env=settings(ping_interval_s=1, ping_timeout_s=2)) as d:
        s = raw_upgrade(d)
        s.sendall(ws_frame(1, hello().encode()))
        pings = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                f = read_frame(s, 0.5)
            except socket.timeout:
                continue
            assert f is not None, "the daemon hung up on a device that answers its pings"
            if f[0] == 9:
                pings += 1
                s.sendall(ws_frame(10, f[1]))
        assert pings >= 2
        s.close()


def test_unmasked_client_frames_fail_the_connection_with_1002() -> None:
    with Daemon() as d:
        text = raw_upgrade(d)
        text.sendall(ws_frame(1, hello().encode(), masked=False))
        assert close_code(text) == 1002
        text.close()
        # A control frame alone (an unmasked ping) too.
        ping = raw_upgrade(d)
        ping.sendall(ws_frame(9, b"hi", masked=False))
        assert close_code(ping) == 1002
        ping.close()
        # After masked frames, in the middle of a conversation; a worker link likewise.
        worker = raw_upgrade(d, "/worker", {"Authorization": "Bearer worker-secret"})
        worker.sendall(ws_frame(1, b'{"type":"heartbeat"}') + ws_frame(1, b"x" * 300) + ws_frame(2, b"\x00" * 70000, masked=False))
        assert close_code(worker) == 1002
        worker.close()
        # Masked frames from the same hand-made client are fine.
        good = raw_upgrade(d)
        good.sendall(ws_frame(1, hello().encode()) + ws_frame(9, b"hi"))
        seen = []
        while True:
            try:
                f = read_frame(good, 1.0)
            except socket.timeout:
                break
            assert f is not None and f[0] != 8, f
            seen.append(f[0])
        assert 10 in seen  # the pong
        good.close()
        assert any(e.get("event") == "frame.unmasked" for e in d.log)


def test_unmasked_frames_are_caught_over_tls_too(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with Daemon("--tls-cert", str(cert), "--tls-key", str(key)) as d:
        trusted = ssl.create_default_context(cafile=str(cert))
        good = raw_upgrade(d, tls=trusted)
        good.sendall(ws_frame(1, hello().encode()) + ws_frame(2, b"\x01" * 200))
        bad = raw_upgrade(d, tls=trusted)
        bad.sendall(ws_frame(1, hello().encode(), masked=False))
        assert close_code(bad) == 1002
        good.sendall(ws_frame(9, b"still here"))
        frames = []
        while True:
            try:
                f = read_frame(good, 1.0)
            except (socket.timeout, ssl.SSLError):
                break
            assert f is not None and f[0] != 8, f
            frames.append(f[0])
        assert 10 in frames
        good.close()
        bad.close()


def test_help_lists_the_admission_and_ping_options() -> None:
    out = subprocess.run([str(daemon_binary()), "--help"], capture_output=True, text=True, timeout=10)
    for option in ["--header-timeout-ms", "--max-pending-connections", "--max-pending-per-address",
                   "--max-connections-per-address", "--ping-interval-s", "--ping-timeout-s", "VOICECORED_PING_INTERVAL_S"]:
        assert option in out.stdout
