"""A device's language from OTA, end to end through the real voicecored: the device POSTs its
system info (with "language", as the XiaoZhi firmware's GetSystemInfoJson does) to /xiaozhi/ota/
with its Device-Id, then connects its WebSocket; a scripted ASR worker (the real worker protocol
over a real socket) receives the session's ASR job with that language. A device that reported
nothing gets the hub's language; a malformed tag is rejected and changes nothing; the journal of
such a run replays to the recorded digest."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from daemon_harness import Daemon, connect_device, hello, next_json
from test_daemon_journal import replay
from test_daemon_turns import assistant_job, scripted_worker, stop_workers, tts_job

from voicecore.journal import read_segment, run_files


def ota(d: Daemon, device_id: str, info: dict[str, Any] | None, accept_language: str | None = None) -> dict[str, Any]:
    """The firmware's OTA call: POST its system info (GET when None) with its Device-Id."""
    headers = {"Device-Id": device_id, "Client-Id": "c0ffee00-0000-4000-8000-000000000001"}
    if accept_language is not None:
        headers["Accept-Language"] = accept_language
    data = None
    if info is not None:
        data = json.dumps(info).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(d.http + "/xiaozhi/ota/", data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
        return json.loads(r.read())


def system_info(language: str) -> dict[str, Any]:
    return {"version": 2, "language": language, "flash_size": 16777216, "mac_address": "aa:bb:cc:dd:ee:02",
            "uuid": "00000000-0000-4000-8000-000000000002", "chip_model_name": "esp32s3",
            "application": {"name": "xiaozhi", "version": "1.6.0"}, "board": {"type": "bread-compact-wifi"}}


async def asr_languages(d: Daemon, devices: list[str]) -> dict[str, str]:
    """Connects each device in turn (hello, listen) and returns the language of its ASR job."""
    jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def asr(ws: Any, job: dict[str, Any]) -> None:
        await jobs.put(job)

    workers = [await scripted_worker(d, "asr", asr), await scripted_worker(d, "assistant", assistant_job),
               await scripted_worker(d, "tts", tts_job(0.2))]
    seen: dict[str, str] = {}
    for device_id in devices:
        device = await connect_device(d, device_id=device_id)
        await device.send(hello(60))
        server_hello = await next_json(device)
        assert server_hello["type"] == "hello"
        await device.send(json.dumps({"session_id": server_hello["session_id"], "type": "listen", "state": "start", "mode": "auto"}))
        job = await asyncio.wait_for(jobs.get(), 10)
        assert job["kind"] == "asr", job
        seen[device_id] = job["params"]["language"]
        await device.close()
    await stop_workers(workers)
    return seen


def core_entries(d: Daemon, kind: str) -> list[dict[str, Any]]:
    return [e for e in list(d.log) if e.get("kind") == kind and "seq" in e]


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_ota_language_reaches_the_asr_job_of_the_devices_session() -> None:
    with Daemon() as d:
        # The firmware's POST: the system info's "language" wins over Accept-Language.
        answer = ota(d, "aa:bb:cc:dd:ee:02", system_info("ru-RU"), accept_language="zh-CN")
        assert answer["websocket"]["url"].endswith("/xiaozhi/v1/") and "mqtt" not in answer
        # A GET carries only Accept-Language: its first tag is the device's language.
        ota(d, "aa:bb:cc:dd:ee:04", None, accept_language="de-DE,de;q=0.9,en;q=0.5")
        # A malformed tag is rejected (the core logs why, the daemon notes it) and changes nothing.
        ota(d, "aa:bb:cc:dd:ee:05", system_info("russian please"))
        ota(d, "aa:bb:cc:dd:ee:05", system_info("zh-Hans-CN-x-private-long"))
        wait_until(lambda: len(core_entries(d, "input.rejected")) >= 2
                   and len([e for e in d.log if e.get("event") == "ota.language_rejected"]) >= 2)
        learned = core_entries(d, "device.language")
        assert [(e["text"], e["to"]) for e in learned] == [("aa:bb:cc:dd:ee:02", "ru-RU"), ("aa:bb:cc:dd:ee:04", "de-DE")], learned
        rejected = core_entries(d, "input.rejected")
        assert len(rejected) == 2 and all("not a language tag" in e["reason"] for e in rejected), rejected
        assert len([e for e in d.log if e.get("event") == "ota.language_rejected"]) == 2

        seen = asyncio.run(asr_languages(d, ["aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:03", "aa:bb:cc:dd:ee:04",
                                             "aa:bb:cc:dd:ee:05"]))
        assert seen == {"aa:bb:cc:dd:ee:02": "ru-RU",   # from its OTA system info
                        "aa:bb:cc:dd:ee:03": "en",      # never reported: the hub's language
                        "aa:bb:cc:dd:ee:04": "de-DE",   # from its Accept-Language
                        "aa:bb:cc:dd:ee:05": "en"}, seen   # its reports were rejected


def test_the_hub_language_is_the_fallback_and_a_journal_of_ota_replays(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with Daemon("--journal", str(journal), "--drain-timeout-ms", "0", "--coordinator", json.dumps({"language": "fr"})) as d:
        ota(d, "aa:bb:cc:dd:ee:02", system_info("ru-RU"))
        seen = asyncio.run(asr_languages(d, ["aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:03"]))
        assert seen == {"aa:bb:cc:dd:ee:02": "ru-RU", "aa:bb:cc:dd:ee:03": "fr"}, seen
    files = run_files(journal)
    events = [r.obj() for f in files for r in read_segment(f)[0] if r.type == "E"]
    ota_events = [e for e in events if e["type"] == "device.language"]
    assert ota_events == [{"type": "device.language", "device_id": "aa:bb:cc:dd:ee:02", "language": "ru-RU"}], ota_events
    out = replay(str(journal))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: digest" in out.stdout and "equals the recorded one" in out.stdout, out.stdout
    # --trace by device id shows its OTA report and what the core made of it.
    traced = replay(str(journal), "--trace", "aa:bb:cc:dd:ee:02")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert any("→ device.language" in line for line in traced.stdout.splitlines()), traced.stdout[:3000]
    assert any("· " in line and '"device.language"' in line and "ru-RU" in line for line in traced.stdout.splitlines())
