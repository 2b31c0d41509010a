"""`voicecore worker …` as a user runs it: real processes dialling a scripted hub, with the example
scripts from Examples/python."""

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from voicecore.testing import Rule, ScriptedHub, ScriptedLLM, ToolCall

ROOT = Path(__file__).resolve().parents[2]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def start(hub: ScriptedHub, *args: str, env: dict | None = None, tmp: Path | None = None):
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "python"), **(env or {}))
    if tmp is not None:
        environment["VOICECORE_SESSION_DB"] = str(tmp / "sessions.sqlite3")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voicecore", "worker", *args, "--hub", hub.url, "--token", hub.token, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode


def test_echo_example_as_an_assistant_worker(tmp_path):
    async def main():
        async with ScriptedHub() as hub:
            proc = await start(hub, "assistant", "--script", str(ROOT / "Examples/python/echo.py"), tmp=tmp_path)
            w = await hub.next_worker(timeout=30)
            await w.job(1, "assistant", {"text": "hello there", "device_id": "d1", "session": "s1"})
            outputs, _, end = await w.until_end(1)
            assert end["type"] == "done"
            assert "".join(o["text"] for o in outputs) == "You said: hello there"
            assert await stop(proc) == 0

    run(main())


def test_tools_example_calls_its_python_tool_through_the_llm(tmp_path):
    async def main():
        rules = [Rule(when="time in tokyo", tool_calls=[ToolCall("local_time", {"city": "Tokyo"})]),
                 Rule(when=r'"result": "\d\d:\d\d"', reply="It is evening in Tokyo.")]
        async with ScriptedLLM(rules) as llm, ScriptedHub() as hub:
            proc = await start(hub, "assistant", "--script", str(ROOT / "Examples/python/tools.py"), env={"VOICECORE_LLM_URL": llm.url}, tmp=tmp_path)
            w = await hub.next_worker(timeout=30)
            await w.job(1, "assistant", {"text": "What's the time in Tokyo?", "device_id": "d1", "session": "s1",
                                         "tools": [{"name": "self.audio_speaker.set_volume", "description": "Set the volume",
                                                    "inputSchema": {"type": "object", "properties": {"volume": {"type": "integer"}}, "required": ["volume"]}}]})
            outputs, _, end = await w.until_end(1)
            assert end["type"] == "done", end
            result = next(o for o in outputs if o["event"] == "tool_result")
            assert result["name"] == "local_time" and re.fullmatch(r"\d\d:\d\d", result["result"]["result"])
            assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "It is evening in Tokyo."
            offered = {t["function"]["name"] for t in llm.requests[0]["tools"]}
            assert offered == {"local_time", "self_audio_speaker_set_volume", "remember"}
            assert await stop(proc) == 0

    run(main())


def test_tts_worker_command_speaks():
    async def main():
        async with ScriptedHub() as hub:
            proc = await start(hub, "tts", "--slots", "1", "--name", "tts-cli")
            w = await hub.next_worker(timeout=30)
            assert w.register["name"] == "tts-cli" and w.register["slots"] == {"tts": 1}
            await w.job(1, "tts", {"text": "Hello from the command line.", "sample_rate": 16000})
            _, audio, end = await w.until_end(1)
            assert end["type"] == "done"
            samples = np.frombuffer(audio, dtype="<i2")
            assert len(samples) > 16000 and np.abs(samples).max() > 3000
            assert await stop(proc) == 0

    run(main())


def test_missing_token_and_script_are_usage_errors():
    from voicecore.cli import main

    env_token = os.environ.pop("VOICECORE_TOKEN", None)
    try:
        assert main(["worker", "tts", "--hub", "ws://127.0.0.1:1/worker"]) == 2
        assert main(["worker", "assistant", "--token", "t"]) == 2
        assert main(["worker", "asr", "--token", "t", "--engine", "openai"]) == 2
    finally:
        if env_token is not None:
            os.environ["VOICECORE_TOKEN"] = env_token


BLAS_THREADS = """
import ctypes, sys
if sys.argv[1] == "worker":
    from voicecore.cli import main
    assert main(["worker", "asr", "--token", "t", "--engine", "openai"]) == 2  # a usage error, after the worker's start-up
import numpy
lib = next(line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line.lower())
print(ctypes.CDLL(lib).scipy_openblas_get_num_threads64_())
"""


def test_a_worker_process_runs_numpys_blas_on_one_thread():
    """OpenBLAS's idle threads busy-wait after each small product and take the encoder's core."""
    def threads(how: str) -> int:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")}
        env["PYTHONPATH"] = str(ROOT / "python")
        out = subprocess.run([sys.executable, "-c", BLAS_THREADS, how], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    assert threads("worker") == 1
    assert threads("plain") == len(os.sched_getaffinity(0))  # OpenBLAS's own default (a thread per CPU), which the worker changes
