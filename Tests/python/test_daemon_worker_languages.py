"""Workers that name their languages, through the real voicecored: a device's utterances go to the
ASR worker that hears the device's language (real worker protocol over real sockets, a real
`voicecore worker` process), and a bad `languages` is refused with a clear error."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from voicecore.client import ota_check

from daemon_harness import WORKER_TOKEN, Daemon, OpusEncoder, connect_device, connect_worker, frame, hello, next_json, tone

PYTHON_DIR = Path(__file__).resolve().parents[2] / "python"


def events(d: Daemon, kind: str) -> list[dict[str, Any]]:
    return [e for e in list(d.log) if e.get("kind") == kind]


def wait_event(d: Daemon, kind: str, match: dict[str, str], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in events(d, kind):
            if all(str(e.get(k)) == v for k, v in match.items()):
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {kind} {match} in the daemon log; stderr: {''.join(d.stderr)[-2000:]}")


async def register(d: Daemon, name: str, languages: list[str] | None) -> Any:
    ws = await connect_worker(d)
    message: dict[str, Any] = {"type": "register", "protocol": 1, "name": name, "kinds": ["asr"], "slots": {"asr": 4}}
    if languages is not None:
        message["languages"] = languages
    await ws.send(json.dumps(message))
    assert (await next_json(ws))["type"] == "registered"
    return ws


async def first_job(ws: Any, timeout: float = 5.0) -> dict[str, Any] | None:
    """The first `job` the hub sends this worker within ``timeout`` (accepted), else None."""
    try:
        while True:
            m = await next_json(ws, timeout)
            if m.get("type") == "job":
                await ws.send(json.dumps({"type": "accepted", "job": m["job"]}))
                return m
    except (asyncio.TimeoutError, TimeoutError):
        return None


async def listening_device(d: Daemon, device_id: str) -> Any:
    device = await connect_device(d, device_id=device_id)
    await device.send(hello(60))
    server_hello = await next_json(device)
    await device.send(json.dumps({"session_id": server_hello.get("session_id", ""), "type": "listen", "state": "start", "mode": "auto"}))
    enc = OpusEncoder(16000, 60)
    await device.send(frame(1, enc.encode(tone(enc.frame_samples, 16000, 300))))
    return device


def test_each_device_is_heard_by_the_asr_worker_that_hears_its_language() -> None:
    async def run(d: Daemon) -> None:
        english = await register(d, "tiny-en", ["en"])
        multilingual = await register(d, "base", None)
        chinese = await register(d, "sensevoice", ["zh-CN"])
        ota_check(d.http, "dev:zh", "zh-CN")
        ota_check(d.http, "dev:ru", "ru-RU")
        for device_id, worker, language in (("dev:zh", chinese, "zh-CN"), ("dev:en", english, "en"), ("dev:ru", multilingual, "ru-RU")):
            device = await listening_device(d, device_id)
            job = await first_job(worker)
            assert job is not None and job["kind"] == "asr" and job["params"]["language"] == language, (device_id, job)
            await device.close()
        # Nobody else got a job.
        for ws in (english, multilingual, chinese):
            assert await first_job(ws, 0.3) is None
            await ws.close()

    with Daemon() as d:
        asyncio.run(run(d))
        registered = {e.get("text"): e.get("reason") for e in events(d, "worker.registered")}
        assert registered == {"tiny-en": "languages=en", "base": None, "sensevoice": "languages=zh"}, registered


def test_a_bad_languages_field_is_refused_with_the_reason_and_harms_nobody() -> None:
    async def run(d: Daemon) -> None:
        good = await register(d, "good", ["en"])
        for bad in ("en", ["en", 1], ["english!"], [""]):
            ws = await connect_worker(d)
            await ws.send(json.dumps({"type": "register", "protocol": 1, "name": "bad", "kinds": ["asr"], "languages": bad}))
            answer = await next_json(ws)
            assert answer["type"] == "error" and "language" in answer.get("message", ""), (bad, answer)
            await ws.close()
        # The good worker still gets the English device's utterance.
        device = await listening_device(d, "dev:en")
        assert (await first_job(good)) is not None
        await device.close()
        await good.close()

    with Daemon() as d:
        asyncio.run(run(d))


def test_voicecore_worker_language_flag_registers_and_bad_tags_stop_it_at_once() -> None:
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with Daemon() as d:
        argv = [sys.executable, "-m", "voicecore", "worker", "asr", "--engine", "instant", "--hub", f"{d.ws}/worker",
                "--token", WORKER_TOKEN, "--name", "asr-zh"]
        bad = subprocess.run(argv + ["--language", "zh CN"], env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "--language 'zh CN' is not a language tag" in bad.stderr, bad.stderr
        worker = subprocess.Popen(argv + ["--language", "zh", "--language", "zh-TW"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            wait_event(d, "worker.registered", {"text": "asr-zh", "reason": "languages=zh"})
        finally:
            worker.terminate()
            worker.wait(timeout=20)
