"""An assistant that speaks first: "remind me in 10 seconds to drink water" sets a reminder that
the device speaks when it is due (never over the user: the hub waits for the user's turn and for
a reply in progress to end). Without an LLM it answers only reminders; with one it also chats.

    voicecore worker assistant --script Examples/python/reminders.py --hub ws://127.0.0.1:8000/worker --token T

Reminders live in this worker's memory (``app.remind``): a restart of the worker forgets them.
"""

import re

from voicecore import Assistant

app = Assistant(system="You are a friendly voice assistant. Answer in one short spoken sentence.")

UNITS = {"second": 1, "seconds": 1, "minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}
REMIND = re.compile(r"remind me in (\d+(?:\.\d+)?) (seconds?|minutes?|hours?) to (.+?)[.!?]*$", re.IGNORECASE)


@app.on_utterance
async def answer(session, text):
    m = REMIND.search(text.strip())
    if m:
        amount, unit, what = float(m.group(1)), m.group(2).lower(), m.group(3)
        app.remind(session.device_id, f"Reminder: {what}.", after=amount * UNITS[unit])
        yield f"OK, in {m.group(1)} {unit} I will remind you to {what}."
        return
    if not app.llm.available:
        yield "Say: remind me in ten seconds to drink water."
        return
    async for delta in app.llm.stream(messages=app.messages(session, text), tools=False, max_tokens=60):
        yield delta


@app.on_instruction
async def speak_first(session, instruction):
    """What the device says first when asked to phrase an instruction (the admin API's
    {"instruction": ...}, or app.say(..., instruction=...))."""
    if not app.llm.available:
        yield instruction
        return
    messages = [{"role": "system", "content": app.system + " You start the conversation: say what you are asked to, "
                 "to the user, in one short spoken sentence."}, *session.history,
                {"role": "user", "content": f"(Instruction, not from the user: {instruction})"}]
    async for delta in app.llm.stream(messages=messages, tools=False, max_tokens=60):
        yield delta


if __name__ == "__main__":
    app.run()
