"""The browser page in real headless Chromium (Debian `chromium`) with a WAV as the microphone,
against a scripted XiaoZhi server (real WebSocket; it answers with the page's own Opus frames
sent back, so the reply audio is real Opus that the page must decode and play).

The same page against the real daemon is the end-to-end test that lands with the daemon."""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

from aiohttp import ClientSession, web
from websockets.asyncio.client import connect

from voicecore.audio import write_wav
from voicecore.testing import speak

PAGE = Path(__file__).resolve().parents[2] / "python" / "voicecore" / "web" / "index.html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class ScriptedDevicePeer:
    """Serves the page and speaks the server side of the XiaoZhi protocol for one turn."""

    heard, answer = "what is the capital of France", "Paris."
    pause_at: int | None = None  # the reply pauses before this frame (`tts stop` + `tts start`, marked pause)

    def __init__(self) -> None:
        self.hello = None
        self.listen = []
        self.query = {}
        self.frames: list[bytes] = []
        self.done = asyncio.Event()

    async def serve(self) -> tuple[web.AppRunner, int]:
        """The page at / and the device endpoint, on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/xiaozhi/v1/", self.device)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]

    async def page(self, request):
        return web.FileResponse(PAGE)

    async def device(self, request):
        self.query = dict(request.query)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == web.WSMsgType.TEXT:
                m = json.loads(msg.data)
                if m["type"] == "hello":
                    self.hello = m
                    await ws.send_json({"type": "hello", "transport": "websocket", "session_id": "web-1",
                                        "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}})
                elif m["type"] == "listen":
                    self.listen.append(m)
                    await self.on_listen(ws, m)
            elif msg.type == web.WSMsgType.BINARY:
                await self.on_frame(ws, msg.data)
        return ws

    async def on_listen(self, ws, message) -> None:
        pass

    async def on_frame(self, ws, frame: bytes) -> None:
        if len(self.frames) >= 40:
            return
        self.frames.append(frame)
        if len(self.frames) == 40:  # 2.4 s of microphone: the "utterance"
            await ws.send_json({"type": "stt", "text": self.heard, "session_id": "web-1"})
            await ws.send_json({"type": "tts", "state": "start", "session_id": "web-1"})
            await ws.send_json({"type": "tts", "state": "sentence_start", "text": self.answer, "session_id": "web-1"})
            for i, frame in enumerate(self.frames):
                if i == self.pause_at:
                    await ws.send_json({"type": "tts", "state": "stop", "pause": True, "session_id": "web-1"})
                    await ws.send_json({"type": "tts", "state": "start", "pause": True, "session_id": "web-1"})
                    await asyncio.sleep(0.5)
                await ws.send_bytes(frame)
                await asyncio.sleep(0.01)
            await ws.send_json({"type": "tts", "state": "stop", "session_id": "web-1"})
            self.done.set()


class PausedReplyPeer(ScriptedDevicePeer):
    """A reply paused half-way, as the hub pauses one the user talks over in realtime mode: `tts
    stop` then `tts start`, both marked `pause`, then the rest."""

    heard, answer = "tell me a story", "Once upon a time."
    pause_at = 20


class EmptyPushToTalkPeer(ScriptedDevicePeer):
    """The server side of a push-to-talk turn with no words in it: `listen stop` is answered by a
    lone `tts stop`, as the hub does (no transcript, no reply)."""

    async def on_listen(self, ws, message) -> None:
        if message["state"] == "stop":
            await ws.send_json({"type": "tts", "state": "stop", "session_id": "web-1"})

    async def on_frame(self, ws, frame: bytes) -> None:
        self.frames.append(frame)


async def page_target(debug_port: int, timeout: float = 40.0) -> str:
    """The DevTools WebSocket URL of Chromium's page, once its endpoint is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{debug_port}/json") as r:
                    targets = [t for t in await r.json() if t.get("type") == "page"]
                if targets:
                    return str(targets[0]["webSocketDebuggerUrl"])
            except OSError:
                pass
            if loop.time() > deadline:
                raise TimeoutError("Chromium's DevTools endpoint did not come up")
            await asyncio.sleep(0.2)


async def evaluate_in(cdp, ident: int, expression: str):
    """The value of a JavaScript expression evaluated in the page (``ident``: the request's id)."""
    await cdp.send(json.dumps({"id": ident, "method": "Runtime.evaluate", "params": {"expression": expression, "returnByValue": True}}))
    while True:
        reply = json.loads(await cdp.recv())
        if reply.get("id") == ident:
            return reply.get("result", {}).get("result", {}).get("value")


async def evaluate(debug_port: int, expressions: list[tuple[str, float]]) -> list:
    """Each JavaScript expression evaluated in the page in turn, after its delay in seconds; their values."""
    values = []
    async with connect(await page_target(debug_port), max_size=None) as cdp:
        for ident, (expression, delay) in enumerate(expressions, 1):
            await asyncio.sleep(delay)
            values.append(await evaluate_in(cdp, ident, expression))
    return values


async def page_state(debug_port: int, timeout: float = 40.0):
    """window.voicecore of the page, once its turn has played (read through the DevTools protocol)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with connect(await page_target(debug_port, timeout), max_size=None) as cdp:
        ident = 0
        while True:
            ident += 1
            value = await evaluate_in(cdp, ident, "JSON.stringify(window.voicecore || null)")
            state = json.loads(value) if value else None
            if state and (state["errors"] or (state["playedSeconds"] > 1.0 and state["state"] in ("ready", "listening"))):
                return state
            if loop.time() > deadline:
                return state
            await asyncio.sleep(0.3)


def free_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def open_chromium(profile: Path, microphone_wav: Path, debug_port: int, url: str) -> subprocess.Popen:
    """Headless Chromium on ``url`` with ``microphone_wav`` as its microphone and DevTools on
    ``debug_port`` (read with ``page_state``)."""
    return subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={microphone_wav}",
         "--autoplay-policy=no-user-gesture-required", f"--remote-debugging-port={debug_port}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def page_at(tmp_path: Path, url: str, microphone: bytes, timeout: float = 40.0) -> dict | None:
    """Headless Chromium on the page at ``url`` with ``microphone`` (48 kHz PCM16) as its
    microphone: its window.voicecore once a turn has played (``page_state``)."""
    assert CHROMIUM, "Debian chromium is missing: scripts/ensure-deps.sh apt installs it"
    wav = tmp_path / "mic.wav"
    wav.write_bytes(write_wav(microphone, 48000))
    debug_port = free_port()
    browser = open_chromium(tmp_path / "profile", wav, debug_port, url)
    try:
        return await page_state(debug_port, timeout)
    finally:
        browser.terminate()
        browser.wait(10)


def one_turn(tmp_path: Path, peer: ScriptedDevicePeer, microphone: bytes, query: str) -> dict | None:
    """The page at ``/?query`` against ``peer``, with ``microphone`` as its microphone."""

    async def main():
        runner, port = await peer.serve()
        try:
            return await page_at(tmp_path, f"http://127.0.0.1:{port}/?{query}", microphone)
        finally:
            await runner.cleanup()

    return asyncio.run(asyncio.wait_for(main(), 90))


def test_page_streams_the_microphone_as_opus_and_plays_the_reply(tmp_path):
    assert CHROMIUM, "Debian chromium is missing: scripts/ensure-deps.sh apt installs it"

    pcm = speak("What is the capital of France?", 48000)
    peer = ScriptedDevicePeer()
    state = one_turn(tmp_path, peer, b"\0\0" * 24000 + pcm + b"\0\0" * 96000,
                     "mode=handsfree&autostart=1&token=devtoken&device=aa:bb:cc:dd:ee:ff")
    assert peer.query["device-id"] == "aa:bb:cc:dd:ee:ff" and peer.query["protocol-version"] == "1" and peer.query["token"] == "devtoken"
    assert peer.hello["audio_params"] == {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}
    assert peer.listen[0] == {"session_id": "web-1", "type": "listen", "state": "start", "mode": "auto"}
    # Opus packets of 60 ms (SILK modes: TOC configs 3, 7, 11), not PCM (60 ms of PCM is 1920 bytes);
    # the speech in the WAV makes some of them large.
    assert len(peer.frames) == 40 and all(3 <= len(f) < 400 for f in peer.frames)
    assert all(f[0] >> 3 in (3, 7, 11) for f in peer.frames), sorted({f[0] >> 3 for f in peer.frames})
    assert sum(len(f) > 40 for f in peer.frames) >= 10, [len(f) for f in peer.frames]
    assert state is not None and state["errors"] == [], state
    assert {"role": "user", "text": "what is the capital of France"} in state["transcript"]
    assert {"role": "assistant", "text": "Paris."} in state["transcript"]
    assert state["replyFrames"] == 40
    assert 2.2 < state["playedSeconds"] < 2.6  # 40 decoded 60 ms frames were scheduled for playback
    turn = state["turns"][0]
    assert turn["stt"] is not None and turn["firstAudio"] >= turn["ttsStart"] >= turn["stt"]


def test_a_paused_reply_drops_the_queued_audio_and_goes_on_as_one_turn(tmp_path):
    assert CHROMIUM, "Debian chromium is missing: scripts/ensure-deps.sh apt installs it"
    state = one_turn(tmp_path, PausedReplyPeer(), b"\0\0" * 48000 * 4, "mode=handsfree&autostart=1")
    assert state is not None and state["errors"] == [], state
    # The pause's `tts stop` did not end the reply (all of its audio in its turn; the next turn is
    # hands-free listening again) and its `tts start` dropped the audio the page had queued.
    assert 2.3 < state["turns"][0]["audioSeconds"] < 2.5 and state["drops"] == 1, state
    assert state["replyFrames"] == 40
    assert {"role": "assistant", "text": "Once upon a time."} in state["transcript"]


def test_push_to_talk_with_no_words_ends_on_the_servers_tts_stop(tmp_path):
    """Held and released with nothing said: the page waits ("Thinking…") until the server's lone
    `tts stop`, then says that no words were heard, ready for the next press."""
    assert CHROMIUM, "Debian chromium is missing: scripts/ensure-deps.sh apt installs it"

    async def main():
        wav = tmp_path / "mic.wav"
        wav.write_bytes(write_wav(b"\0\0" * 48000 * 4, 48000))
        peer = EmptyPushToTalkPeer()
        runner, port = await peer.serve()
        debug_port = free_port()
        browser = open_chromium(tmp_path / "profile", wav, debug_port, f"http://127.0.0.1:{port}/?mode=ptt&autostart=1")
        status = "document.getElementById('status').textContent"
        try:
            for _ in range(50):  # connected: the talk button is enabled
                if await evaluate(debug_port, [("!document.getElementById('talk').disabled", 0.2)]) == [True]:
                    break
            values = await evaluate(debug_port, [("press(), " + status, 0.0), (status, 1.0), ("release(), " + status, 0.0),
                                                 (status, 1.0), ("JSON.stringify(window.voicecore.errors)", 0.0)])
        finally:
            browser.terminate()
            browser.wait(10)
            await runner.cleanup()
        return peer, values

    peer, (pressed, held, released, after, errors) = asyncio.run(asyncio.wait_for(main(), 90))
    assert [m["state"] for m in peer.listen] == ["start", "stop"] and peer.listen[0]["mode"] == "manual", peer.listen
    assert held.startswith("Listening") and released == "Thinking…", (pressed, held, released)
    assert after == "No words heard." and errors == "[]", (after, errors)
