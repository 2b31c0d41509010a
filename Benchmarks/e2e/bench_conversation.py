"""First LLM token as a conversation grows: the embedded server (SmolLM2 on llama.cpp, `voicecore
up`'s flags), the default assistant's questions asked one after the other in one conversation,
each prompt built by ``Assistant.messages`` with the retrieved facts as the default script passes
them, the history growing by each question and its answer. Beside it, the anchor: the same
conversation with the facts in the system message (where they were before), which makes the
server read the whole history again every turn.

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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from bench_e2e import default_script  # noqa: E402  (this folder: the default assistant as a module)
from voicecore.assistant.session import Session  # noqa: E402
from voicecore.launcher import embedded_llm  # noqa: E402
from voicecore.launcher.addresses import free_port  # noqa: E402

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
    script = default_script()
    app = script.app
    port = free_port()
    server = subprocess.Popen(embedded_llm.server_argv(embedded_llm.serving_model(), port),
                              env=dict(os.environ, **embedded_llm.SERVER_ENV), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not asyncio.run(embedded_llm.wait_ready(f"http://127.0.0.1:{port}/v1", 120)):
            print("bench_conversation: the embedded server did not start", file=sys.stderr)
            return 1
        first_token(port, app.messages(Session(device_id="warm", id="warm", language="en"), "Hello."))
        times: dict[str, list[list[float]]] = {"today": [[] for _ in range(args.turns)], "anchor": [[] for _ in range(args.turns)]}
        for r in range(args.rounds):
            # One whole conversation per layout, the order alternated by round: the server keeps one
            # prompt's cache, so conversations interleaved turn by turn would evict each other's.
            for name in (("today", "anchor") if r % 2 == 0 else ("anchor", "today")):
                session = Session(device_id=f"bench-{name}", id=name, language="en")
                for turn in range(args.turns):
                    question = QUESTIONS[turn % len(QUESTIONS)]
                    passages = script.facts(question)
                    context = "Facts:\n" + "\n".join(passages) if passages else ""
                    if name == "today":
                        messages = app.messages(session, question, context=context)
                    else:  # the facts in the system message, before the history
                        messages = app.messages(session, question)
                        messages[0] = dict(messages[0], content=messages[0]["content"] + (f"\n\n{context}" if context else ""))
                    seconds, answer = first_token(port, messages)
                    times[name][turn].append(seconds)
                    session.memory.messages.extend([{"role": "user", "content": question}, {"role": "assistant", "content": answer}])
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    print(f"first LLM token (ms, median of {args.rounds}) by turn of one conversation, SmolLM2 on the embedded server")
    print(f"{'turn':>4} {'VoiceCore (facts with the utterance)':>38} {'anchor (facts in the system message)':>38}")
    for turn in range(args.turns):
        today, anchor = (statistics.median(times[name][turn]) * 1000 for name in ("today", "anchor"))
        print(f"{turn + 1:>4} {today:>38.0f} {anchor:>38.0f}")
    last = slice(args.turns // 2, None)
    today, anchor = (statistics.fmean(statistics.median(t) for t in times[name][last]) * 1000 for name in ("today", "anchor"))
    print(f"turns {args.turns // 2 + 1}-{args.turns}: mean {today:.0f} ms against {anchor:.0f} ms ({anchor / today:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
