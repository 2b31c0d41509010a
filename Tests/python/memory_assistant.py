"""The assistant the `voicecore up` memory test runs: no LLM; it answers "question n" with two
sentences, the second saying how many earlier turns (and which facts) it was given, and keeps
"question 9" as a fact through the script API."""

from voicecore import Assistant

app = Assistant(system="memory test")


@app.on_utterance
async def reply(session, text):
    words = text.lower().replace(".", " ").split()
    n = words[1] if len(words) > 1 else "?"
    if n == "9":
        await session.remember_fact("The user asked question 9.")
    yield f"Answer {n} begins. "
    yield f"I remember {len(session.history) // 2} turns and {len(session.facts)} facts."


if __name__ == "__main__":
    app.run()
