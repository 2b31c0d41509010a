"""Device MCP end to end: the real voicecored (Coordinator embedded), the real assistant worker
process (`voicecore worker assistant --script Examples/python/tools.py`) calling a scripted
OpenAI-compatible LLM over real HTTP, a scripted TTS worker (real worker protocol) and a device
that speaks MCP the way the XiaoZhi firmware does (main/mcp_server.cc): it announces
`features.mcp`, answers `initialize`, pages `tools/list` with `nextCursor` (the name of the first
tool of the next page) and runs `tools/call`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from daemon_harness import WORKER_TOKEN, Daemon, connect_device, hello, next_json
from test_daemon_turns import scripted_worker, tts_job
from voicecore.testing import Rule, ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parents[2]

STATUS = {"name": "self.get_device_status", "description": "Provides the real-time information of the device.",
          "inputSchema": {"type": "object", "properties": {}}}
VOLUME = {"name": "self.audio_speaker.set_volume", "description": "Set the volume of the audio speaker.",
          "inputSchema": {"type": "object", "properties": {"volume": {"type": "integer", "minimum": 0, "maximum": 100}},
                          "required": ["volume"]}}
CAMERA = {"name": "self.camera.take_photo", "description": "Take a photo and explain it.",
          "inputSchema": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}}

RULES = [
    Rule(when="volume to 30", tool_calls=[ToolCall("self_audio_speaker_set_volume", {"volume": 30})]),
    Rule(when=r'"result": "true"', reply="The volume is now 30."),
    Rule(when=r'did not answer tools/call', reply="The speaker did not answer."),
    Rule(when="hello", reply="Hi there."),
    Rule(when="device status", tool_calls=[ToolCall("self_get_device_status", {})]),
    Rule(when="Unknown tool", reply="I could not read the status."),
]


class Board:
    """A XiaoZhi board's MCP server on a real device connection: two pages of tools, `tools/call`
    answered after `call_delay` seconds; `answer_list=False` leaves `tools/list` unanswered."""

    def __init__(self, ws: Any, answer_list: bool = True, call_delay: float = 0.0, camera: bool = False) -> None:
        self.ws = ws
        self.camera = camera
        self.vision: dict[str, Any] = {}
        self.answer_list = answer_list
        self.call_delay = call_delay
        self.requests: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.frames = 0
        self.session_id = ""
        self.stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ws.send(hello(60, mcp=True))
        reply = await next_json(self.ws)
        assert reply["type"] == "hello", reply
        self.session_id = reply["session_id"]
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for msg in self.ws:
            if isinstance(msg, bytes):
                self.frames += 1
                continue
            m = json.loads(msg)
            if m.get("type") == "mcp":
                self.requests.append(m["payload"])
                asyncio.create_task(self._answer(m["payload"]))
                continue
            self.messages.append(m)
            if m.get("type") == "tts" and m.get("state") == "stop":
                self.stopped.set()

    async def _reply(self, ident: int, result: Any = None, error: str | None = None) -> None:
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": ident}
        if error is not None:
            payload["error"] = {"message": error}
        else:
            payload["result"] = result
        await self.ws.send(json.dumps({"session_id": self.session_id, "type": "mcp", "payload": payload}))

    async def _answer(self, request: dict[str, Any]) -> None:
        method, ident, params = request.get("method"), request.get("id"), request.get("params") or {}
        if method == "initialize":
            self.vision = params.get("capabilities", {}).get("vision") or {}
            await self._reply(ident, {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                                      "serverInfo": {"name": "esp-box-3", "version": "2.0.0"}})
        elif method == "tools/list":
            if not self.answer_list:
                return
            if params.get("cursor", "") == "":
                await self._reply(ident, {"tools": [STATUS], "nextCursor": VOLUME["name"]})
            elif params["cursor"] == VOLUME["name"]:
                await self._reply(ident, {"tools": [VOLUME, CAMERA] if self.camera else [VOLUME]})
            else:
                await self._reply(ident, error="unknown cursor")
        elif method == "tools/call":
            await asyncio.sleep(self.call_delay)
            if self.camera and params.get("name") == CAMERA["name"] and self.vision.get("url"):
                # Esp32Camera::Explain: the photo goes to the vision URL; the body is the result.
                status, body = await upload_like_the_firmware(self.vision["url"], self.vision.get("token", ""),
                                                               params["arguments"]["question"], JPEG)
                if status == 200:
                    await self._reply(ident, {"content": [{"type": "text", "text": body.decode()}], "isError": False})
                else:
                    await self._reply(ident, error="Failed to upload photo")
            elif params.get("name") == VOLUME["name"] and isinstance(params.get("arguments", {}).get("volume"), int):
                await self._reply(ident, {"content": [{"type": "text", "text": "true"}], "isError": False})
            else:
                await self._reply(ident, error="Unknown tool: " + str(params.get("name")))
        else:
            await self._reply(ident, error="Method not implemented: " + str(method))

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"session_id": self.session_id, "type": "listen", "state": "detect", "text": text}))

    def sentences(self) -> list[str]:
        return [m["text"] for m in self.messages if m.get("type") == "tts" and m.get("state") == "sentence_start"]

    async def close(self) -> None:
        await self.ws.close()
        if self._task:
            await asyncio.wait_for(self._task, 5)


async def start_assistant(d: Daemon, llm_url: str, tmp: Path) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), VOICECORE_LLM_URL=llm_url,
               VOICECORE_SESSION_DB=str(tmp / "sessions.sqlite3"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voicecore", "worker", "assistant", "--script", str(ROOT / "Examples/python/tools.py"),
        "--hub", f"{d.ws}/worker", "--token", WORKER_TOKEN, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(events(d, "worker.registered")) < 2:  # the TTS worker registered first
        assert proc.returncode is None and time.monotonic() < deadline, "the assistant worker did not register"
        await asyncio.sleep(0.1)
    return proc


async def stop_assistant(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]


def events(d: Daemon, kind: str) -> list[dict[str, Any]]:
    return [e for e in d.log if e.get("kind") == kind]


async def wait_event(d: Daemon, kind: str, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for e in events(d, kind):
            if all(e.get(k) == v for k, v in fields.items()):
                return e
        assert time.monotonic() < deadline, f"no {kind} {fields} in the event log"
        await asyncio.sleep(0.05)


def run_stack(test: Any, tmp: Path, coordinator: dict[str, Any] | None = None) -> Any:
    """Runs `test(d, llm, board_factory)` against a daemon, the assistant worker process, a TTS
    worker and the scripted LLM."""
    with Daemon("--coordinator", json.dumps(coordinator or {})) as d:
        assert d.coordinator

        async def main() -> Any:
            async with ScriptedLLM(RULES, default_reply="I do not know.") as llm:
                tts, tts_task = await scripted_worker(d, "tts", tts_job(0.3))
                assistant = await start_assistant(d, llm.url, tmp)
                try:
                    async def board(**kw: Any) -> Board:
                        b = Board(await connect_device(d, device_id=f"aa:bb:cc:dd:ee:{len(events(d, 'session.connected')) + 1:02x}"), **kw)
                        await b.start()
                        return b
                    return await test(d, llm, board)
                finally:
                    await stop_assistant(assistant)
                    tts_task.cancel()
                    await tts.close()
        return asyncio.run(main())


def test_the_llm_calls_a_device_tool_and_the_reply_uses_its_result(tmp_path):
    async def test(d: Daemon, llm: ScriptedLLM, board: Any) -> None:
        b = await board()
        listed = await wait_event(d, "mcp.listed")
        assert listed["reason"] == "ok" and listed["value"] == 2
        assert [r["method"] for r in b.requests] == ["initialize", "tools/list", "tools/list"]
        assert b.requests[0]["params"]["capabilities"] == {}  # no vision model configured
        assert [r["params"]["cursor"] for r in b.requests[1:]] == ["", VOLUME["name"]]
        await b.say("Please set the volume to 30.")
        await asyncio.wait_for(b.stopped.wait(), 30)
        # The device ran the call the LLM made, with the LLM's arguments, under the hub's id.
        call = b.requests[3]
        assert call["method"] == "tools/call" and call["params"] == {"name": VOLUME["name"], "arguments": {"volume": 30}}
        assert call["id"] not in {r["id"] for r in b.requests[:3]}
        # The LLM was offered both pages of the device's tools and got the device's result back.
        offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
        assert {"self_get_device_status", "self_audio_speaker_set_volume", "local_time"} <= offered
        tool_message = llm.requests[1]["messages"][-1]
        assert tool_message["role"] == "tool" and json.loads(tool_message["content"]) == {"result": "true"}
        assert b.sentences() == ["The volume is now 30."] and b.frames > 0
        answer = await wait_event(d, "mcp.answer", reason="tools/call")
        assert answer["to"] == "result" and answer["value"] == call["id"] and "job" in answer
        # The next turn carries the same tools without asking the device again.
        b.stopped.clear()
        await b.say("hello")
        await asyncio.wait_for(b.stopped.wait(), 30)
        assert len(b.requests) == 4
        assert {"self_audio_speaker_set_volume"} <= {t["function"]["name"] for t in llm.requests[-1]["tools"]}
        # The device's JSON-RPC error reaches the LLM as the tool's error.
        b.stopped.clear()
        await b.say("What is the device status?")
        await asyncio.wait_for(b.stopped.wait(), 30)
        assert b.requests[4]["method"] == "tools/call" and b.requests[4]["params"]["name"] == STATUS["name"]
        assert json.loads(llm.requests[-1]["messages"][-1]["content"])["error"].endswith("Unknown tool: self.get_device_status")
        assert b.sentences()[-1] == "I could not read the status."
        assert (await wait_event(d, "mcp.answer", to="error"))["text"] == "Unknown tool: self.get_device_status"
        await b.close()

    run_stack(test, tmp_path)


def test_a_device_that_never_lists_its_tools_is_still_answered(tmp_path):
    async def test(d: Daemon, llm: ScriptedLLM, board: Any) -> None:
        b = await board(answer_list=False)
        await b.say("hello")  # before the listing gave up: the turn does not wait for it
        await asyncio.wait_for(b.stopped.wait(), 30)
        assert b.sentences() == ["Hi there."]
        assert not any(t["function"]["name"].startswith("self_") for t in llm.requests[0].get("tools", []))
        listed = await wait_event(d, "mcp.listed")
        assert listed["reason"] == "timeout" and listed["value"] == 0
        assert any(e["reason"] == "tools/list" for e in events(d, "mcp.timeout"))
        await b.close()

    run_stack(test, tmp_path, {"mcp_list_timeout_ms": 1500})


def test_a_late_tools_call_answer_is_dropped_and_the_llm_gets_a_timeout_error(tmp_path):
    async def test(d: Daemon, llm: ScriptedLLM, board: Any) -> None:
        b = await board(call_delay=2.5)
        await wait_event(d, "mcp.listed", reason="ok")
        await b.say("Please set the volume to 30.")
        await asyncio.wait_for(b.stopped.wait(), 30)
        tool_message = llm.requests[1]["messages"][-1]
        assert tool_message["role"] == "tool" and "did not answer tools/call within 1 s" in tool_message["content"]
        assert b.sentences() == ["The speaker did not answer."]
        timeout = await wait_event(d, "mcp.timeout", reason="tools/call")
        dropped = await wait_event(d, "mcp.dropped", timeout=10)
        assert dropped["reason"] == "late" and dropped["value"] == timeout["value"]
        await b.close()

    run_stack(test, tmp_path, {"mcp_call_timeout_ms": 1000})


def test_malformed_mcp_is_an_error_to_its_device_only(tmp_path):
    async def test(d: Daemon, llm: ScriptedLLM, board: Any) -> None:
        bad = await board()
        good = await board()
        await wait_event(d, "mcp.listed", reason="ok")
        await bad.ws.send(json.dumps({"session_id": bad.session_id, "type": "mcp", "payload": "not an object"}))
        await bad.ws.send(json.dumps({"session_id": bad.session_id, "type": "mcp", "payload": [1, 2]}))
        # An answer to nothing the hub asked, and an answer without an id: dropped and logged.
        await bad.ws.send(json.dumps({"session_id": bad.session_id, "type": "mcp", "payload": {"jsonrpc": "2.0", "id": 999, "result": {}}}))
        await bad.ws.send(json.dumps({"session_id": bad.session_id, "type": "mcp", "payload": {"jsonrpc": "2.0", "result": {}}}))
        deadline = time.monotonic() + 10
        while len([m for m in bad.messages if m.get("type") == "error"]) < 2:
            assert time.monotonic() < deadline, bad.messages
            await asyncio.sleep(0.05)
        errors = [m["message"] for m in bad.messages if m.get("type") == "error"]
        assert all('"payload" must be a JSON object' in e for e in errors), errors
        await wait_event(d, "mcp.dropped", reason="unknown-id", value=999)
        await wait_event(d, "mcp.dropped", reason="malformed")
        # Both devices still talk: the other one never saw any of it.
        await good.say("Please set the volume to 30.")
        await bad.say("hello")
        await asyncio.wait_for(asyncio.gather(good.stopped.wait(), bad.stopped.wait()), 30)
        assert good.sentences() == ["The volume is now 30."] and bad.sentences() == ["Hi there."]
        assert not any(m.get("type") == "error" for m in good.messages)
        assert sum(1 for e in events(d, "input.rejected") if "payload" in e.get("reason", "")) == 2
        await bad.close()
        await good.close()

    run_stack(test, tmp_path)


# --- Vision: `voicecore up --vision-url` and a camera board's photo upload ------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40 + b"\xff\xd9"
BOUNDARY = "----ESP32_CAMERA_BOUNDARY"


async def upload_like_the_firmware(url: str, token: str, question: str, jpeg: bytes) -> tuple[int, bytes]:
    """`Esp32Camera::Explain`: a chunked multipart POST, one chunk per `http->Write`, with the
    firmware's headers, then the response read whole."""
    from urllib.parse import urlsplit

    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nDevice-Id: aa:bb:cc:dd:ee:ff\r\n"
            f"Client-Id: c0ffee00-0000-4000-8000-000000000001\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n")
    writes = [f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"question\"\r\n\r\n{question}\r\n".encode(),
              f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"camera.jpg\"\r\n"
              f"Content-Type: image/jpeg\r\n\r\n".encode(),
              *[jpeg[i:i + 4096] for i in range(0, len(jpeg), 4096)],
              f"\r\n--{BOUNDARY}--\r\n".encode(), b""]
    writer.write(head.encode())
    for data in writes:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()
    status_line = await reader.readline()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    writer.close()
    return int(status_line.split()[1]), body


def test_vision_camera_boards_are_given_an_endpoint_that_explains_their_photo(tmp_path):
    from up_harness import Up
    import websockets

    vision = ScriptedLLM([Rule(when="what is in front of me", reply="A red mug on a wooden desk.")],
                         model="scripted-vision").start_in_thread()
    up = Up(tmp_path / "up", "--no-llm", "--workers", "none", "--vision-url", vision.url, "--vision-model", "scripted-vision")
    try:
        async def main() -> None:
            headers = {"Protocol-Version": "1", "Device-Id": "aa:bb:cc:dd:ee:ff", "Client-Id": "c0ffee00-0000-4000-8000-000000000001"}
            async with websockets.connect(up.status["ws"] + "/xiaozhi/v1/", additional_headers=headers) as ws:
                await ws.send(hello(60, mcp=True))
                assert (await next_json(ws))["type"] == "hello"
                initialize = (await next_json(ws))["payload"]
                assert initialize["method"] == "initialize"
                capability = initialize["params"]["capabilities"]["vision"]
                assert capability["url"] == up.status["vision"] and capability["url"].startswith("http://")
                assert capability["token"]
                url, token = "http://127.0.0.1:" + capability["url"].split(":", 2)[2], capability["token"]
                status, body = await upload_like_the_firmware(url, token, "What is in front of me?", JPEG)
                assert status == 200, body
                assert json.loads(body) == {"success": True, "action": "RESPONSE", "response": "A red mug on a wooden desk."}
                # The model got the question and the photo, as an OpenAI-compatible image part.
                request = vision.requests[-1]
                assert request["model"] == "scripted-vision"
                text, image = request["messages"][0]["content"]
                assert text == {"type": "text", "text": "What is in front of me?"}
                import base64
                assert image["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
                # A board without the token is refused, and the model is not asked.
                asked = len(vision.requests)
                status, body = await upload_like_the_firmware(url, "wrong", "What is in front of me?", JPEG)
                assert status == 401 and json.loads(body)["success"] is False and len(vision.requests) == asked
        asyncio.run(main())
    finally:
        assert up.stop() == 0
        vision.stop_thread()


def test_vision_the_llm_takes_a_photo_through_the_board_and_answers_from_the_vision_model(tmp_path):
    """The whole firmware flow under `voicecore up`: the LLM calls the board's
    `self.camera.take_photo`, the board uploads the photo to the advertised URL, the vision model
    explains it and the LLM's reply uses that explanation."""
    from up_harness import Up

    vision = ScriptedLLM([Rule(when="what is on the desk", reply="A red mug on a wooden desk.")]).start_in_thread()
    llm = ScriptedLLM([Rule(when="what do you see", tool_calls=[ToolCall("self_camera_take_photo", {"question": "What is on the desk?"})]),
                       Rule(when="red mug on a wooden desk", reply="I see a red mug.")]).start_in_thread()
    up = Up(tmp_path / "up", "--workers", "assistant", "--script", str(ROOT / "Examples/python/tools.py"), "--llm-url", llm.url,
            "--worker-token", WORKER_TOKEN, "--vision-url", vision.url)
    try:
        class Hub:
            ws = up.status["ws"]

        async def main() -> None:
            tts, tts_task = await scripted_worker(Hub, "tts", tts_job(0.3))  # type: ignore[arg-type]
            headers = {"Protocol-Version": "1", "Device-Id": "aa:bb:cc:dd:ee:ca", "Client-Id": "c0ffee00-0000-4000-8000-000000000001"}
            import websockets
            b = Board(await websockets.connect(up.status["ws"] + "/xiaozhi/v1/", additional_headers=headers), camera=True)
            await b.start()
            log = Path(up.status["logs"]["voicecored"])
            deadline = time.monotonic() + 10
            while '"mcp.listed"' not in log.read_text():
                assert time.monotonic() < deadline, b.requests
                await asyncio.sleep(0.05)
            listed = [json.loads(line) for line in log.read_text().splitlines() if '"mcp.listed"' in line]
            assert listed[0]["reason"] == "ok" and listed[0]["value"] == 3, listed
            await b.say("What do you see?")
            await asyncio.wait_for(b.stopped.wait(), 30)
            assert b.vision["url"] == up.status["vision"]
            call = next(r for r in b.requests if r.get("method") == "tools/call")
            assert call["params"] == {"name": CAMERA["name"], "arguments": {"question": "What is on the desk?"}}
            assert vision.requests and vision.requests[-1]["messages"][0]["content"][0]["text"] == "What is on the desk?"
            result = json.loads(json.loads(llm.requests[1]["messages"][-1]["content"])["result"])
            assert result == {"success": True, "action": "RESPONSE", "response": "A red mug on a wooden desk."}
            assert b.sentences() == ["I see a red mug."]
            await b.close()
            tts_task.cancel()
            await tts.close()
        asyncio.run(main())
    finally:
        assert up.stop() == 0
        vision.stop_thread()
        llm.stop_thread()

