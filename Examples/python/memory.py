"""An assistant that remembers: the conversation, a summary of older turns and facts about the user
live in the memory service (docs/memory.md), so they hold across reconnects, restarts and
assistant workers on other machines.

    VOICECORE_LLM_URL=http://127.0.0.1:8080/v1 \\
    voicecore worker assistant --script Examples/python/memory.py --hub ws://127.0.0.1:8000/worker --token T \\
        --memory-url http://127.0.0.1:8700 --memory-token M

(`voicecore up --script Examples/python/memory.py` starts the memory service and passes it on.)
The LLM is offered the built-in `remember` tool: "my name is Ana" becomes a fact that every later
turn, on any worker, gets in its system prompt.
"""

from voicecore import Assistant

app = Assistant(system="You are a friendly voice assistant on a kitchen speaker. Answer in one short sentence. "
                       "When the user tells you something lasting about themselves, call remember.",
                history_tokens=1500)


@app.on_utterance
async def answer(session, text):
    lowered = text.lower()
    if "forget everything" in lowered:
        await session.forget()  # this device's messages, summary and facts with this agent
        yield "All right, I have forgotten our conversation."
        return
    if "what do you know about me" in lowered:
        yield ("I know this: " + " ".join(session.facts)) if session.facts else "Nothing yet. Tell me about yourself!"
        return
    if lowered.startswith("remember that "):
        await session.remember_fact(text[len("remember that "):])  # without the LLM's help
        yield "I will remember that."
        return
    if not app.llm.available:
        yield f"You said: {text}"
        return
    # app.messages: system + facts + summary of older turns + recent turns (session.history) + text.
    async for delta in app.llm.stream(messages=app.messages(session, text), max_tokens=80):
        yield delta


if __name__ == "__main__":
    app.run()
