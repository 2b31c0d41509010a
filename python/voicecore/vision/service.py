"""The camera boards' vision endpoint.

The XiaoZhi firmware's ``self.camera.take_photo`` tool (``main/boards/common/esp32_camera.cc``,
``Esp32Camera::Explain``) POSTs the photo to the URL of ``capabilities.vision.url`` from MCP
``initialize``: ``multipart/form-data`` (often ``Transfer-Encoding: chunked``) with a ``question``
field and a ``file`` field (``camera.jpg``, ``image/jpeg``), headers ``Authorization: Bearer
<capabilities.vision.token>``, ``Device-Id`` and ``Client-Id``. It needs HTTP 200 and hands the body,
unread, to the LLM as the tool's result. This service asks any OpenAI-compatible chat endpoint that
takes images (``image_url`` content part, a ``data:`` URL) and answers
``{"success": true, "action": "RESPONSE", "response": "<the model's text>"}``; a failure is a non-200
status with ``{"success": false, "message": ...}``, which the firmware reports as a failed tool call.
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger("voicecore.vision")

PATH = "/vision/explain"
DEFAULT_QUESTION = "Describe what you see in this photo."


class VisionService:
    def __init__(self, model_url: str, model: str = "", token: str = "", api_key: str = "",
                 timeout: float = 30.0, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.model_url = model_url.rstrip("/")
        self.model = model
        self.token = token
        self.api_key = api_key
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_bytes)
        app.router.add_post(PATH, self.explain)
        return app

    async def start(self, host: str = "0.0.0.0", port: int = 0) -> int:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    @staticmethod
    def fail(status: int, message: str) -> web.Response:
        return web.json_response({"success": False, "message": message}, status=status)

    async def explain(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        device = request.headers.get("Device-Id", "")
        if self.token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                log.warning("vision: refused an upload with a wrong token (device %s)", device or "?")
                return self.fail(401, "invalid token")
        if not request.content_type.startswith("multipart/"):
            return self.fail(400, "expected multipart/form-data with `question` and `file`")
        question, image = "", b""
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                if part.name == "question":
                    question = (await part.text()).strip()
                elif part.name == "file":
                    image = await part.read()
        except (ValueError, aiohttp.ClientError) as exc:
            return self.fail(400, f"unreadable upload: {exc}")
        if not image:
            return self.fail(400, "no `file` part (the photo) in the upload")
        try:
            text = await self.ask(question or DEFAULT_QUESTION, image, request.headers.get("Content-Type", ""))
        except Exception as exc:  # the model's failure is the device's failed tool call
            log.warning("vision: the model failed for device %s: %s", device or "?", exc)
            return self.fail(502, f"vision model failed: {exc}")
        log.info("vision: device %s, %d-byte photo, %.2f s: %r -> %r", device or "?", len(image), time.monotonic() - started,
                 question, text[:200])
        return web.json_response({"success": True, "action": "RESPONSE", "response": text})

    async def ask(self, question: str, jpeg: bytes, _content_type: str = "") -> str:
        assert self._session is not None, "start() first"
        body: dict[str, Any] = {
            "stream": False,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": question},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()}},
            ]}],
        }
        if self.model:
            body["model"] = self.model
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with self._session.post(self.model_url + "/chat/completions", json=body, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:200]}")
            answer = await response.json(content_type=None)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"unexpected answer: {str(answer)[:200]}") from None
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return str(content or "").strip()
