"""First LLM token as a conversation grows: the embedded server (SmolLM2 on llama.cpp, `voicecore
up`'s flags), the default assistant's questions asked one after the other in one conversation,
each prompt built by ``Assistant.messages`` with the retrieved facts as the default script passes
them, the history growing by each question and its answer. Three layouts, each its own
conversation: VoiceCore as `voicecore up` runs it (after each reply the assistant primes the
server with the conversation as the next turn sends it, ``Assistant.prime``, through its memory),
the same without the prime, and the anchor: the facts in the system message (where they were
before), which makes the server read the whole history again every turn.

    python3 Benchmarks/e2e/bench_conversation.py [--turns 10] [--rounds 2]

Needs `make llm` (llama-cpp-python's server and the SmolLM2 GGUF). Prints the first-token time of
each turn (median over the rounds); one server, one conversation per layout in turn, the order
alternated by round.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from voicecore.assistant import LLM  # noqa: E402
from voicecore.assistant.session import Session  # noqa: E402
from voicecore.launcher import embedded_llm  # noqa: E402
from voicecore.launcher.addresses import free_port  # noqa: E402
from voicecore.testing.default_assistant import load_default_assistant  # noqa: E402

QUESTIONS = ["What is the capital of France?", "What is the capital of Germany?", "What is the highest mountain?",
             "Which ocean is the largest?", "What is the capital of Japan?"]


def first_token(port: int, messages: list[dict]) -> tuple[float, str]:
    """Seconds from the request to the first streamed token, and the whole answer."""
    body = json.dumps({"messages": messages, "stream": True, "max_tokens": 60, "temperature": 0})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    first, text = None, ""
    while line := response.readline():
        if line.startswith(b"data: ") and b"[DONE]" not in line:
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
            if delta and first is None:
                first = time.perf_counter() - start
            text += delta
    conn.close()
    if first is None:
        raise RuntimeError(f"the server answered no token: {text!r}")
    return first, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if why := embedded_llm.missing():
        print(f"first token in a conversation: not measured — {why} (make llm installs it)")
        return 0
    os.environ["VOICECORE_SESSION_DB"] = str(Path(tempfile.mkdtemp(prefix="bench-conversation-")) / "sessions.db")
    script = load_default_assistant()
    app = script.app
    port = free_port()
    app.llm = LLM([f"http://127.0.0.1:{port}/v1"])
    server = subprocess.Popen(embedded_llm.server_argv(embedded_llm.serving_model(), port),
                              env=dict(os.environ, **embedded_llm.SERVER_ENV), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not asyncio.run(embedded_llm.wait_ready(f"http://127.0.0.1:{port}/v1", 120)):
            print("bench_conversation: the embedded server did not start", file=sys.stderr)
            return 1
        first_token(port, app.messages(Session(device_id="warm", id="warm", language="en"), "Hello."))
        times = asyncio.run(conversations(script, port, args.turns, args.rounds))
    finally:
        server.terminate()
        server.wait()
    print(f"first LLM token (ms, median of {args.rounds}) by turn of one conversation, SmolLM2 on the embedded server")
    print(f"{'turn':>4} {'VoiceCore (primed)':>19} {'not primed':>11} {'anchor (facts in the system message)':>37}")
    for turn in range(args.turns):
        row = [statistics.median(times[name][turn]) * 1000 for name in LAYOUTS]
        print(f"{turn + 1:>4} {row[0]:>19.0f} {row[1]:>11.0f} {row[2]:>37.0f}")
    last = slice(args.turns // 2, None)
    primed, unprimed, anchor = (statistics.fmean(statistics.median(t) for t in times[name][last]) * 1000 for name in LAYOUTS)
    print(f"turns {args.turns // 2 + 1}-{args.turns}: mean {primed:.0f} ms primed, {unprimed:.0f} ms not primed, "
          f"{anchor:.0f} ms the anchor ({anchor / primed:.2f}x)")
    return 0


LAYOUTS = ("primed", "not primed", "anchor")


async def conversations(script, port: int, turns: int, rounds: int) -> dict[str, list[list[float]]]:
    """First-token seconds by layout and turn. The requests block the loop (nothing else runs on
    it); the prime is the assistant's own, through its memory, as after a turn in `voicecore up`."""
    app = script.app
    times: dict[str, list[list[float]]] = {name: [[] for _ in range(turns)] for name in LAYOUTS}
    for r in range(rounds):
        # One whole conversation per layout, the order turned by round: the server keeps one
        # prompt's cache, so conversations interleaved turn by turn would evict each other's.
        for name in LAYOUTS[r % 3:] + LAYOUTS[: r % 3]:
            session = Session(device_id=f"bench-{name}-{r}", id=name, language="en", backend=app.memory)
            for turn in range(turns):
                question = QUESTIONS[turn % len(QUESTIONS)]
                passages = script.facts(question)
                context = "Facts:\n" + "\n".join(passages) if passages else ""
                if name != "anchor":
                    messages = app.messages(session, question, context=context)
                else:  # the facts in the system message, before the history
                    messages = app.messages(session, question)
                    messages[0] = dict(messages[0], content=messages[0]["content"] + (f"\n\n{context}" if context else ""))
                seconds, answer = first_token(port, messages)
                times[name][turn].append(seconds)
                exchange = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
                session.memory.messages.extend(exchange)
                if name == "primed":
                    await app.memory.append(session.agent, session.device_id, exchange)
                    if not await app.prime(session):
                        raise RuntimeError("the prime failed")
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    await app.close()
    return times


if __name__ == "__main__":
    sys.exit(main())
