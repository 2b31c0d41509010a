"""Reconciliation through the real voicecored: an ASR worker speaking the real worker protocol over
a real socket loses one job (it never answers it, never counts it in its heartbeats' `load`)
while devices keep connecting, one between every two heartbeats, so the worker always reports one
job fewer than the hub counts but never fewer than the jobs sent at least a heartbeat ago. The
job never accepted is the missing one: the hub cancels it there (`not-running`) and sends the
utterance again, with the worker's jobs still arriving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from daemon_harness import WORKER_TOKEN, Daemon, connect_device, hello, next_json

HEARTBEAT_MS = 400


async def busy_worker_losing_its_first_job(d: Daemon, devices: int) -> tuple[int, list[dict[str, Any]]]:
    ws = await websockets.connect(f"{d.ws}/worker", additional_headers={"Authorization": f"Bearer {WORKER_TOKEN}"})
    await ws.send(json.dumps({"type": "register", "protocol": 1, "name": "busy-asr", "kinds": ["asr"], "slots": {"asr": 16}}))
    reg = await next_json(ws)
    assert reg["type"] == "registered" and reg["heartbeat_ms"] == HEARTBEAT_MS, reg
    jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    cancels: list[dict[str, Any]] = []

    async def read() -> None:
        async for msg in ws:
            if isinstance(msg, str):
                m = json.loads(msg)
                if m["type"] == "job":
                    await jobs.put(m)
                elif m["type"] == "cancel":
                    cancels.append(m)

    reader = asyncio.create_task(read())
    held = 0

    async def listening_device(n: int) -> Any:
        device = await connect_device(d, device_id=f"aa:bb:cc:dd:ee:{n:02x}")
        await device.send(hello(60))
        server_hello = await next_json(device)
        await device.send(json.dumps({"session_id": server_hello["session_id"], "type": "listen", "state": "start", "mode": "auto"}))
        return device

    connected = [await listening_device(0)]
    lost = (await asyncio.wait_for(jobs.get(), 5))["job"]  # never accepted, never in `load`
    for n in range(1, devices):
        await asyncio.sleep(HEARTBEAT_MS / 1000)
        connected.append(await listening_device(n))
        job = await asyncio.wait_for(jobs.get(), 5)
        await ws.send(json.dumps({"type": "accepted", "job": job["job"]}))
        held += 1
        await ws.send(json.dumps({"type": "heartbeat", "load": {"asr": held}}))
    await asyncio.sleep(0.3)
    for device in connected:
        await device.close()
    reader.cancel()
    await ws.close()
    return lost, cancels


def test_a_lost_job_on_a_busy_worker_is_moved() -> None:
    with Daemon("--coordinator", json.dumps({"heartbeat_ms": HEARTBEAT_MS})) as d:
        lost, cancels = asyncio.run(busy_worker_losing_its_first_job(d, devices=6))
        log = list(d.log)
    moved = [e for e in log if e.get("kind") == "worker.reconciled" and e.get("reason") == "job-missing"]
    assert [e.get("job") for e in moved] == [lost], moved
    assert [c for c in cancels if c["job"] == lost and c.get("reason") == "not-running"], cancels
    failed = [e for e in log if e.get("kind") == "job.failed" and e.get("job") == lost]
    assert failed and failed[0].get("reason") == "job-missing", failed
    # Only the lost one: the jobs the worker accepted were never taken for missing.
    assert len(moved) == 1
