"""voicecored's transport, tested on the real binary with real WebSockets, HTTP and Opus: config,
OTA, health, metrics, the page, admission (tokens, limits, fields), framing errors, limits and the
SIGTERM drain. Everything here holds with or without the Coordinator linked in."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websockets

from daemon_harness import (WORKER_TOKEN, Daemon, OpusEncoder, connect_device, connect_worker, daemon_binary, frame,
                            hello, next_json, tone)


def get(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def refused_status(coro) -> int:
    async def attempt() -> int:
        try:
            ws = await coro
        except websockets.InvalidStatus as e:
            return e.response.status_code
        await ws.close()
        return 101
    return asyncio.run(attempt())


def test_help_documents_every_option_and_bad_config_is_refused(tmp_path: Path) -> None:
    out = subprocess.run([str(daemon_binary()), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for option in ["--port", "--worker-token", "--device-tokens", "--tls-cert", "--hello-timeout-ms", "--send-queue-bytes",
                   "--max-devices", "--prebuffer-frames", "--log-file", "--coordinator", "VOICECORED_WORKER_TOKEN",
                   "--worker-send-queue-bytes", "--uplink-burst-ms", "--uplink-rate-percent", "--tls-key"]:
        assert option in out.stdout
    missing = subprocess.run([str(daemon_binary()), "--port", "0"], capture_output=True, text=True, timeout=10)
    assert missing.returncode == 2 and "worker_token is required" in missing.stderr
    unknown = subprocess.run([str(daemon_binary()), "--worker-token", "x", "--bogus", "1"], capture_output=True, text=True, timeout=10)
    assert unknown.returncode == 2 and "unknown option" in unknown.stderr
    bad_file = tmp_path / "c.json"
    bad_file.write_text('{"prot": 1}')
    typo = subprocess.run([str(daemon_binary()), "--config", str(bad_file)], capture_output=True, text=True, timeout=10)
    assert typo.returncode == 2 and 'unknown key "prot"' in typo.stderr
    range_ = subprocess.run([str(daemon_binary()), "--worker-token", "x", "--port", "70000"], capture_output=True, text=True, timeout=10)
    assert range_.returncode == 2 and "0..65535" in range_.stderr


def test_config_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "voicecored.json"
    cfg.write_text(json.dumps({"firmware_version": "1.0.0", "firmware_url": "http://fw/1.bin", "device_tokens": ["a", "b"]}))
    with Daemon("--config", str(cfg)) as d:
        body = json.loads(get(d.http + "/xiaozhi/ota/")[1])
        assert body["firmware"] == {"version": "1.0.0", "url": "http://fw/1.bin"}
        assert body["websocket"]["token"] == "a"
    with Daemon("--config", str(cfg), env={"VOICECORED_FIRMWARE_VERSION": "2.0.0"}) as d:
        assert json.loads(get(d.http + "/xiaozhi/ota/")[1])["firmware"]["version"] == "2.0.0"
    with Daemon("--config", str(cfg), "--firmware-version", "3.0.0", env={"VOICECORED_FIRMWARE_VERSION": "2.0.0"}) as d:
        assert json.loads(get(d.http + "/xiaozhi/ota/")[1])["firmware"]["version"] == "3.0.0"


def test_ota_answers_get_and_post_with_websocket_and_no_mqtt() -> None:
    with Daemon("--device-tokens", "dev-token") as d:
        for data in (None, json.dumps({"version": 2, "mac_address": "aa:bb"}).encode()):
            status, raw, headers = get(d.http + "/xiaozhi/ota/", data, {"Device-Id": "aa:bb:cc:dd:ee:ff", "Content-Type": "application/json"})
            assert status == 200 and headers["content-type"] == "application/json"
            body = json.loads(raw)
            assert "mqtt" not in body  # its presence makes the firmware choose MQTT
            assert body["websocket"] == {"url": f"ws://127.0.0.1:{d.port}/xiaozhi/v1/", "token": "dev-token"}
            assert abs(body["server_time"]["timestamp"] - time.time() * 1000) < 60_000
            assert set(body["firmware"]) == {"version", "url"}
        assert d.wait_for("ota.request")["device_id"] == "aa:bb:cc:dd:ee:ff"
        status, _, _ = get(d.http + "/xiaozhi/ota/", b"x" * 70_000)
        assert status == 413 or status >= 400


def test_ota_advertises_the_configured_public_url() -> None:
    with Daemon("--public-ws-url", "wss://voice.example.com/xiaozhi/v1/") as d:
        assert json.loads(get(d.http + "/xiaozhi/ota")[1])["websocket"]["url"] == "wss://voice.example.com/xiaozhi/v1/"


def test_healthz_metrics_and_the_page(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>VoiceCore test page</h1>")
    (tmp_path / "app.js").write_text("console.log(1)")
    with Daemon(web_root=tmp_path) as d:
        status, raw, _ = get(d.http + "/healthz")
        health = json.loads(raw)
        assert status == 200 and health["status"] == "ok" and health["devices"] == 0
        status, raw, headers = get(d.http + "/metrics")
        text = raw.decode()
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
        for metric in ["voicecored_sessions 0", 'voicecored_connections{peer="worker"} 0', "# TYPE voicecored_hub_seconds histogram",
                       'voicecored_errors_total{kind="bad_opus"} 0', 'voicecored_queue_depth{queue="playout_frames"} 0',
                       'voicecored_opus_frames_total{op="decode"} 0']:
            assert metric in text
        status, raw, headers = get(d.http + "/")
        assert status == 200 and b"VoiceCore test page" in raw and headers["content-type"].startswith("text/html")
        status, raw, headers = get(d.http + "/app.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert get(d.http + "/missing.html")[0] == 404
        assert get(d.http + "/../etc/passwd")[0] in (400, 404)


def test_device_tokens_are_checked_before_the_upgrade() -> None:
    with Daemon("--device-tokens", "t1,t2") as d:
        assert refused_status(connect_device(d)) == 401
        assert refused_status(connect_device(d, token="nope")) == 401
        assert refused_status(connect_device(d, token="t2")) == 101
        # Browsers cannot set headers on a WebSocket: the query carries the same fields.
        assert refused_status(websockets.connect(f"{d.ws}/xiaozhi/v1/?token=t1&device_id=web-1&client_id=c1&protocol_version=3")) == 101
        assert d.wait_for("upgrade.refused")["status"] == 401
        assert 'voicecored_errors_total{kind="unauthorized"} 2' in get(d.http + "/metrics")[1].decode()


def test_an_upgrade_on_no_endpoint_is_refused_naming_the_endpoints() -> None:
    # The transport answers from the endpoints the device and worker modules registered.
    async def refusal(url: str) -> tuple[int, bytes]:
        try:
            ws = await websockets.connect(url)
        except websockets.InvalidStatus as e:
            return e.response.status_code, e.response.body or b""
        await ws.close()
        return 101, b""

    with Daemon() as d:
        status, body = asyncio.run(refusal(d.ws + "/nowhere"))
        assert status == 404
        assert body == b"no WebSocket endpoint here (devices: /xiaozhi/v1/, workers: /worker)\n"
        assert asyncio.run(refusal(d.ws + "/xiaozhi/v1"))[0] == 101   # an endpoint's other spelling
        assert d.wait_for("upgrade.refused")["status"] == 404


def test_dev_mode_is_announced_and_open() -> None:
    with Daemon() as d:
        assert any(e.get("event") == "dev_mode" and e.get("level") == "warn" for e in d.log)
        assert refused_status(connect_device(d)) == 101


def test_worker_token_is_required() -> None:
    with Daemon() as d:
        assert refused_status(websockets.connect(f"{d.ws}/worker")) == 401
        assert refused_status(connect_worker(d, token="wrong")) == 401
        assert refused_status(connect_worker(d)) == 101
        assert refused_status(websockets.connect(f"{d.ws}/worker?token={WORKER_TOKEN}")) == 101


def test_upgrade_fields_are_validated() -> None:
    with Daemon() as d:
        assert refused_status(connect_device(d, version=4)) == 400
        assert refused_status(connect_device(d, device_id="<script>")) == 400
        assert refused_status(connect_device(d, device_id="x" * 65)) == 400
        assert refused_status(websockets.connect(f"{d.ws}/elsewhere")) == 404
        for version in (1, 2, 3):
            assert refused_status(connect_device(d, version=version)) == 101


def test_connection_limits() -> None:
    with Daemon("--max-devices", "1", "--max-workers", "1") as d:
        async def run() -> None:
            first = await connect_device(d)
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect_device(d, device_id="aa:bb:cc:dd:ee:02")
            assert refused.value.response.status_code == 503
            worker = await connect_worker(d)
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect_worker(d)
            assert refused.value.response.status_code == 503
            await first.close()
            await worker.close()
            await asyncio.sleep(0.2)
            again = await connect_device(d)  # a freed slot is usable again
            await again.close()
        asyncio.run(run())


def test_bad_device_input_is_answered_and_other_sessions_carry_on() -> None:
    with Daemon() as d:
        async def run() -> None:
            a = await connect_device(d, version=3)
            b = await connect_device(d, version=2, device_id="aa:bb:cc:dd:ee:02")
            await a.send("{not json")
            assert (await next_json(a))["type"] == "error"
            await a.send(json.dumps({"no_type": 1}))
            assert "type" in (await next_json(a))["message"]
            await a.send(b"\x00\x00\x00\x09opus")  # v3 header announcing 9 bytes, carrying 4
            assert "payload_size" in (await next_json(a))["message"]
            await a.send(frame(3, b"\xf8\xff\xfe"))  # audio before hello
            assert "hello" in (await next_json(a))["message"]
            await a.send(json.dumps({"type": "hello", "audio_params": {"format": "opus", "frame_duration": 33}}))
            assert "frame_duration" in (await next_json(a))["message"]
            await a.send(hello(60))
            await next_json(a)  # the server hello, or the reason there is none
            await a.send(frame(3, b"\xff" * 7))  # a TOC announcing 63 frames: not Opus
            assert "undecodable Opus" in (await next_json(a))["message"]
            # Session b is untouched by a's garbage and gets its own answers.
            await b.send("[]")
            assert (await next_json(b))["type"] == "error"
            enc = OpusEncoder(16000, 20)
            await b.send(hello(20))
            await next_json(b)
            await b.send(frame(2, enc.encode(tone(320, 16000))))
            metrics = get(d.http + "/metrics")[1].decode()
            assert 'voicecored_errors_total{kind="malformed_json"} 1' in metrics
            assert 'voicecored_errors_total{kind="bad_opus"} 1' in metrics
            assert 'voicecored_errors_total{kind="bad_frame"} 1' in metrics
            await asyncio.sleep(0.1)
            assert 'voicecored_opus_frames_total{op="decode"} 1' in get(d.http + "/metrics")[1].decode()
            assert a.state == websockets.protocol.State.OPEN and b.state == websockets.protocol.State.OPEN
            await a.close()
            await b.close()
        asyncio.run(run())


def test_oversized_messages_close_with_1009_and_spare_others() -> None:
    with Daemon("--device-max-message-bytes", "2048", "--worker-max-message-bytes", "4096") as d:
        async def run() -> None:
            big = await connect_device(d)
            other = await connect_device(d, device_id="aa:bb:cc:dd:ee:02")
            await big.send(b"\x01" * 5000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(big.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            worker = await connect_worker(d)
            await worker.send("x" * 10000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(worker.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            await other.send("{oops")
            assert (await next_json(other))["type"] == "error"
            await other.close()
        asyncio.run(run())


def test_bad_worker_input_is_answered() -> None:
    with Daemon() as d:
        async def run() -> None:
            w = await connect_worker(d)
            await w.send("{")
            assert "malformed JSON" in (await next_json(w))["message"]
            await w.send(json.dumps({"type": "teleport"}))
            assert "unknown worker message type" in (await next_json(w))["message"]  # the core's verdict
            await w.send(json.dumps({"type": "done", "job": "seven"}))
            assert "job" in (await next_json(w))["message"]
            await w.send(b"\x01\x01\x00")
            assert "12-byte" in (await next_json(w))["message"]
            await w.send(b"\x07\x01\x00\x00" + bytes(8) + b"\x00\x00")
            assert "version" in (await next_json(w))["message"]
            await w.close()
        asyncio.run(run())


def test_a_rejected_worker_message_is_answered_once_by_the_core() -> None:
    """The core answers what it rejects (the daemon composes no answer): a message before register
    gets one error with the core's reason, and the next answer is about the next message."""
    with Daemon() as d:
        async def run() -> None:
            w = await connect_worker(d)
            await w.send(json.dumps({"type": "heartbeat"}))
            assert (await next_json(w))["message"] == "not registered"
            await w.send(json.dumps({"type": "done", "job": 41}))
            answer = await next_json(w)
            assert answer["message"] == "not registered" and "job" not in answer
            await w.send('{"type":"done","type":"done"}')
            answer = await next_json(w)
            assert answer["type"] == "error" and "duplicate key" in answer["message"]
            await w.close()
        asyncio.run(run())
        # The log line is read by the harness's reader thread: give it a moment on a loaded machine.
        deadline = time.monotonic() + 5
        while not any(e.get("event") == "worker.bad_message" for e in d.log) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(e.get("event") == "worker.bad_message" for e in d.log)


def hello_timeout_close(d: Daemon, still_open_after: float, closed_within: float) -> float:
    """Connects a device that never says hello; checks it is still open after `still_open_after`
    seconds and closed (1008, the core's reason) within `closed_within`; returns when it closed."""
    async def run() -> float:
        ws = await connect_device(d)
        start = asyncio.get_running_loop().time()
        if still_open_after:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), still_open_after)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), closed_within)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert closed.value.rcvd.reason == "hello-timeout"
        return asyncio.get_running_loop().time() - start
    return asyncio.run(run())


def test_a_device_without_hello_is_closed() -> None:
    # --hello-timeout-ms is the Coordinator's hello_timeout_ms; the core closes the session.
    with Daemon("--hello-timeout-ms", "300") as d:
        hello_timeout_close(d, 0, 5)
        metrics = get(d.http + "/metrics")[1].decode()
        assert 'voicecored_errors_total{kind="hello_timeout"} 1' in metrics


def test_the_cores_hello_timeout_decides_through_the_daemon() -> None:
    # The core owns the rule: its hello_timeout_ms, raised above the daemon flag's value, holds
    # the connection open for it (the daemon keeps no timer of its own) ...
    with Daemon("--hello-timeout-ms", "300", "--coordinator", '{"hello_timeout_ms": 2500}') as d:
        took = hello_timeout_close(d, 1.2, 10)
        assert took >= 2.4, took
    # ... and lowered, closes sooner than the daemon's default.
    with Daemon("--coordinator", '{"hello_timeout_ms": 500}') as d:
        took = hello_timeout_close(d, 0.3, 5)
        assert took < 5, took


def test_sigterm_drains_and_closes_with_a_reason() -> None:
    d = Daemon()
    try:
        async def run() -> None:
            device = await connect_device(d)
            worker = await connect_worker(d)
            await asyncio.sleep(0.1)
            d.proc.send_signal(signal.SIGTERM)
            for ws in (device, worker):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
                assert closed.value.rcvd.reason == "server shutting down"
        asyncio.run(run())
        assert d.proc.wait(timeout=10) == 0
        events = [e.get("event") for e in d.log]
        assert "drain.start" in events and "drain.done" in events
    finally:
        d.stop()


def test_the_downlink_codec_settings_reach_the_cores_hello() -> None:
    # The daemon hands its codec settings to the core once at start; the core's hello announces them.
    with Daemon("--downlink-sample-rate", "16000", "--downlink-frame-ms", "20") as d:
        async def run() -> None:
            ws = await connect_device(d)
            await ws.send(hello(60))
            server_hello = await next_json(ws)
            assert server_hello["type"] == "hello"
            assert server_hello["audio_params"] == {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 20}
            await ws.close()
        asyncio.run(run())
    # A --coordinator value for them is overridden by the codec the daemon really runs.
    with Daemon("--coordinator", '{"downlink_sample_rate": 48000}') as d:
        async def run2() -> None:
            ws = await connect_device(d)
            await ws.send(hello(60))
            assert (await next_json(ws))["audio_params"]["sample_rate"] == 24000
            await ws.close()
        asyncio.run(run2())
