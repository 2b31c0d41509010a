"""Agents end to end: `voicecore up --config` (real voicecored, one real assistant worker process per
agent running its own script) with two scripted OpenAI-compatible LLMs over real HTTP, a recording
ASR worker and an eSpeak TTS worker on the real worker SDK, and devices on the real XiaoZhi
WebSocket protocol.

Two devices bound to two agents (one by device id, one by token) reach their own script, system
prompt and LLM, and their jobs carry their agent's language and voice; an operator moves a device
to the other agent at run time; budgets refuse a turn with the spoken refusal and a
`budget.exceeded` event and /metrics counts the tokens; bad config files stop `voicecore up` with the
reason."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from test_e2e_assistant import ROOT, Up
from voicecore.testing import Rule, ScriptedLLM
from voicecore.tts.espeak import EspeakEngine
from voicecore.tts.worker import tts_handler
from voicecore.worker import Job, Worker

ADMIN = "operator-secret"
KITCHEN_DEVICE = "aa:bb:cc:dd:ee:01"
STORY_DEVICE = "aa:bb:cc:dd:ee:02"

KITCHEN_SCRIPT = '''
from voicecore import Assistant
app = Assistant(system="the script's own prompt")

@app.on_utterance
async def answer(session, text):
    async for delta in app.llm.stream(messages=app.messages(session, text)):
        yield delta

if __name__ == "__main__":
    app.run()
'''

# Another script: it tells the LLM the session's language and the agent, and caps the reply.
STORY_SCRIPT = '''
from voicecore import Assistant
app = Assistant()

@app.on_utterance
async def answer(session, text):
    messages = app.messages(session, text)
    messages[0]["content"] += f" Language: {session.language}. Agent: {session.agent}."
    async for delta in app.llm.stream(messages=messages, max_tokens=77):
        yield delta

if __name__ == "__main__":
    app.run()
'''


class Recorder:
    """ASR and TTS on the real worker SDK, in a thread of its own: every job's params are kept; the
    ASR jobs just listen (the turns here are typed: `listen detect` with text); TTS is eSpeak NG."""

    def __init__(self, hub: str, token: str) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []
        self.worker = Worker(slots={"asr": 8, "tts": 4}, name="recorder")
        speak = tts_handler(EspeakEngine())

        async def asr(job: Job) -> None:
            self.jobs.append(("asr", dict(job.params)))
            while True:
                await job.next_input()

        async def tts(job: Job) -> None:
            self.jobs.append(("tts", dict(job.params)))
            await speak(job)

        self.worker.handler("asr")(asr)
        self.worker.handler("tts")(tts)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.worker.serve(hub, token),), daemon=True)
        self.thread.start()

    def params(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in list(self.jobs) if k == kind]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agents")
    kitchen_llm = ScriptedLLM([Rule(when="dinner", reply="Pasta tonight. With tomatoes.")], model="kitchen-model",
                              default_reply="Ask me about food.").start_in_thread()
    story_llm = ScriptedLLM([Rule(when="story", reply="Once upon a time there was a cat.")], model="story-model",
                            default_reply="Shall I tell you a story?").start_in_thread()
    write(tmp / "kitchen.py", KITCHEN_SCRIPT)
    write(tmp / "story.py", STORY_SCRIPT)
    config = {
        "workers": "assistant",
        "worker_token": "worker-secret",
        "no_llm": True,
        "device_tokens": "tok-kitchen",
        "agents": {
            "kitchen": {"system_prompt": "You are the kitchen helper.", "script": "kitchen.py", "llm_url": kitchen_llm.url,
                        "language": "en", "voice": "en-gb"},
            "story": {"system_prompt": "You tell stories to children.", "script": "story.py", "llm_url": story_llm.url,
                      "language": "ru", "budgets": {"device": {"turns_per_minute": 0}}},
        },
        "bindings": {"devices": {KITCHEN_DEVICE: "kitchen"}, "tokens": {"tok-story": "story"}, "default": "kitchen"},
        "budgets": {"device": {"turns_per_minute": 2}, "refusal_text": "That is enough for this minute."},
    }
    path = write(tmp / "agents.json", json.dumps(config))
    up = Up(tmp / "state", "--config", str(path), "--admin-token", ADMIN)
    # `up` waits for the per-agent assistants; ASR and TTS are this test's recorder.
    recorder = Recorder(up.status["ws"] + "/worker", "worker-secret")
    wait_for(lambda: "recorder" in daemon_log(up), 30, "the recorder did not register")
    yield up, recorder, kitchen_llm, story_llm
    up.stop()
    kitchen_llm.stop_thread()
    story_llm.stop_thread()


def daemon_log(up: Up) -> str:
    return (up.state / "logs" / "voicecored.log").read_text(errors="replace")


def events(up: Up, kind: str) -> list[dict[str, Any]]:
    out = []
    for line in daemon_log(up).splitlines():
        if line.startswith("{") and f'"{kind}"' in line:
            entry = json.loads(line)
            if entry.get("kind") == kind:
                out.append(entry)
    return out


def wait_for(condition: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


async def typed_turns(up: Up, device_id: str, texts: list[str], token: str = "tok-kitchen", between: Any = None,
                      timeout: float = 60) -> list[dict[str, Any]]:
    """A device connects and, on the one connection, types each text (`listen start`, `listen
    detect`) and waits for its reply's `tts stop`; `between(i)` runs after turn i."""
    headers = {"Protocol-Version": "1", "Device-Id": device_id, "Client-Id": "c0ffee00-0000-4000-8000-000000000001",
               "Authorization": f"Bearer {token}"}
    results = []
    async with websockets.connect(up.status["ws"] + "/xiaozhi/v1/", additional_headers=headers, max_size=2**22) as ws:
        await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket",
                                  "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}}))
        loop = asyncio.get_running_loop()
        messages: list[dict[str, Any]] = []
        frames = 0

        async def until(predicate: Any) -> None:
            nonlocal frames
            deadline = loop.time() + timeout
            while True:
                msg = await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
                if isinstance(msg, bytes):
                    frames += 1
                    continue
                m = json.loads(msg)
                messages.append(m)
                if predicate(m):
                    return

        await until(lambda m: m.get("type") == "hello")
        for i, text in enumerate(texts):
            messages, frames = [], 0
            await ws.send(json.dumps({"type": "listen", "state": "start", "mode": "auto"}))
            await asyncio.sleep(0.3)  # the ASR stream job reaches its worker before the typed text cancels it
            await ws.send(json.dumps({"type": "listen", "state": "detect", "text": text}))
            await until(lambda m: m.get("type") == "tts" and m.get("state") == "stop")
            sentences = [m["text"] for m in messages if m.get("type") == "tts" and m.get("state") == "sentence_start"]
            results.append({"messages": messages, "frames": frames, "sentences": sentences, "spoken": " ".join(sentences)})
            if between is not None:
                between(i)
    return results


def typed_turn(up: Up, device_id: str, text: str, token: str = "tok-kitchen") -> dict[str, Any]:
    return asyncio.run(typed_turns(up, device_id, [text], token=token))[0]


def admin(up: Up, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    host, port = up.status["http"].split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    return r.status, json.loads(text) if text else {}


def metrics(up: Up) -> str:
    host, port = up.status["http"].split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def test_two_devices_get_their_agents_scripts_prompts_languages_and_voices(hub):
    up, recorder, kitchen_llm, story_llm = hub
    kitchen = (typed_turn(up, KITCHEN_DEVICE, "what is for dinner"))
    story = (typed_turn(up, STORY_DEVICE, "tell me a story", token="tok-story"))
    assert kitchen["spoken"] == "Pasta tonight. With tomatoes." and kitchen["frames"] > 10
    assert story["sentences"] == ["Once upon a time there was a cat."] and story["frames"] > 10
    # Each agent's LLM got its agent's system prompt, through its own script.
    k = kitchen_llm.requests[-1]
    s = story_llm.requests[-1]
    assert k["messages"][0]["content"] == "You are the kitchen helper." and "max_tokens" not in k
    assert s["messages"][0]["content"] == "You tell stories to children. Always answer in Russian. Language: ru. Agent: story." and s["max_tokens"] == 77
    assert all("dinner" not in json.dumps(r) for r in story_llm.requests)
    # The agents' languages and voices travel in the ASR and TTS jobs.
    tts = {p["text"]: p for p in recorder.params("tts")}
    assert (tts["Pasta tonight."]["language"], tts["Pasta tonight."]["voice"]) == ("en", "en-gb")
    assert (tts["Once upon a time there was a cat."]["language"], tts["Once upon a time there was a cat."]["voice"]) == ("ru", "")
    assert {"en", "ru"} <= {p["language"] for p in recorder.params("asr")}
    bound = {(e["to"], e["reason"]) for e in events(up, "session.agent")}
    assert {("kitchen", "device"), ("story", "token")} <= bound
    # The LLM's reported usage is counted per agent and model, in the event log and in /metrics.
    usage = [e for e in events(up, "turn.usage") if e.get("reason") == "reported"]
    assert {e["to"] for e in usage} >= {"kitchen", "story"} and all(e["value"] > 0 for e in usage)
    text = metrics(up)
    assert 'voicecored_llm_tokens_total{agent="kitchen",model="kitchen-model"}' in text
    assert 'voicecored_llm_tokens_total{agent="story",model="story-model"}' in text
    status, body = admin(up, "GET", "/api/v1/agents")
    assert status == 200 and [a["name"] for a in body["agents"]] == ["kitchen", "story"]
    assert [a["workers"] for a in body["agents"]] == [1, 1]


def test_an_operator_moves_a_device_to_another_agent_at_run_time(hub):
    up, recorder, kitchen_llm, story_llm = hub
    device = "aa:bb:cc:dd:ee:07"
    answers: list[tuple[int, dict[str, Any]]] = []

    def move(turn: int) -> None:
        if turn == 0:  # connected, bound by default to kitchen: moved to story
            answers.append(admin(up, "POST", f"/api/v1/devices/{device}/agent", {"agent": "cartoons"}))
            answers.append(admin(up, "POST", "/api/v1/devices/ff:ff:ff:ff:ff:ff/agent", {"agent": "story"}))
            answers.append(admin(up, "POST", f"/api/v1/devices/{device}/agent", {"agent": "story"}))

    before = len(story_llm.requests)
    first, second = asyncio.run(typed_turns(up, device, ["what is for dinner", "tell me a story"], between=move))
    assert first["spoken"] == "Pasta tonight. With tomatoes."
    assert kitchen_llm.requests[-1]["messages"][-1]["content"] == "what is for dinner"
    (bad, bad_body), (unknown, _), (ok, body) = answers
    assert bad == 400 and "unknown agent" in bad_body["error"]
    assert unknown == 404
    assert ok == 200 and body["agent"] == "story" and body["from"] == "kitchen" and len(body["sessions"]) == 1, body
    # The same connection's next turn is the story agent's: its script, prompt, LLM and language.
    assert second["sentences"] == ["Once upon a time there was a cat."]
    assert len(story_llm.requests) == before + 1
    assert story_llm.requests[-1]["messages"][0]["content"] == "You tell stories to children. Always answer in Russian. Language: ru. Agent: story."
    assert ("story", "moved") in {(e["to"], e["reason"]) for e in events(up, "session.agent")}
    # The move outlives the connection.
    assert typed_turn(up, device, "another story please")["sentences"] == ["Once upon a time there was a cat."]


def test_a_device_over_its_budget_hears_the_refusal(hub):
    up, recorder, kitchen_llm, _ = hub
    device = "aa:bb:cc:dd:ee:09"
    before = len(kitchen_llm.requests)
    refused = asyncio.run(typed_turns(up, device, ["what is for dinner", "what is for dinner", "and for dessert"]))[2]
    # Spoken, not just shown: the refusal went through TTS and its audio reached the device.
    assert refused["sentences"] == ["That is enough for this minute."] and refused["frames"] > 10
    assert len(kitchen_llm.requests) == before + 2  # the refused turn never reached the LLM
    exceeded = [e for e in events(up, "budget.exceeded") if e.get("text") == device]
    assert len(exceeded) == 1 and exceeded[0]["reason"] == "device.turns_per_minute" and exceeded[0]["to"] == "kitchen"
    text = metrics(up)
    assert 'voicecored_core_events_total{event="budget.exceeded"} 1' in text
    assert 'voicecored_turns_total{outcome="refused"} 1' in text
    # The story agent lifts the per-device limit: three turns in a row are fine.
    for _ in range(3):
        assert typed_turn(up, STORY_DEVICE, "tell me a story", token="tok-story")["sentences"][0].startswith("Once")


@pytest.mark.parametrize("config,error", [
    ({"agents": {"a": {}}, "bindings": {"devices": {"d1": "b"}}}, 'bound to unknown agent "b"'),
    ({"agents": {"a": {"script": "missing.py"}}}, "script .*missing.py not found"),
    ('{"agents": {"a": {}}, "bindings": {"devices": {"d1": "a", "d1": "a"}}}', "duplicate key 'd1'"),
    ({"agents": {"a": {}}, "bindings": {"default": "zz"}}, 'bindings.default is bound to unknown agent "zz"'),
    ({"agents": {"a": {"prompt": "x"}}}, "unknown setting 'prompt'"),
    ({"bindings": {"default": "a"}}, "no agents are configured"),
    ({"agents": {"a": {}}, "budgets": {"device": {"turns_per_minute": -1}}}, r"turns_per_minute must be an integer in 0\.\.\.1000000"),
])
def test_config_errors_stop_voicecore_up_with_the_reason(tmp_path, config, error):
    path = tmp_path / "bad.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    done = subprocess.run([sys.executable, "-m", "voicecore", "up", "--config", str(path), "--port", "0", "--state-dir", str(tmp_path / "s")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(error, done.stderr), done.stderr
    assert not (tmp_path / "s" / "up.json").exists()
