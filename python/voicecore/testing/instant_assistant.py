"""The instant assistant script (``voicecore worker assistant --script …/instant_assistant.py``): no
LLM; it answers ``"question n"`` with two sentences that name ``n``, so the reply (two TTS segments)
is known in advance. Full-stack tests, chaos runs and soaks use it with the instant ASR and TTS
engines (voicecore.asr.instant, voicecore.tts.instant)."""

from __future__ import annotations

import os

from voicecore import Assistant

app = Assistant(system="instant", slots=int(os.environ.get("VOICECORE_ASSISTANT_SLOTS", "4")), name=os.environ.get("VOICECORE_ASSISTANT_NAME", "assistant-instant"))


def answer(text: str) -> list[str]:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    if len(words) < 2 or words[0] != "question":
        return ["I did not catch that."]
    n = words[1]
    return [f"Answer {n} begins. ", f"Answer {n} ends."]


@app.on_utterance
async def reply(session, text):
    for piece in answer(text):
        yield piece


if __name__ == "__main__":
    app.run()
