"""A tool-using assistant: a Python tool (the time in a city) and the device's own MCP tools
(XiaoZhi firmware exposes e.g. `self.audio_speaker.set_volume`, `self.light.set_brightness`),
all in one registry the LLM chooses from.

    VOICECORE_LLM_URL=http://127.0.0.1:8080/v1 \\
    voicecore worker assistant --script Examples/python/tools.py --hub ws://127.0.0.1:8000/worker --token T
"""

from datetime import datetime, timedelta, timezone

from voicecore import Assistant

app = Assistant(system="You are a voice assistant on a smart speaker. Use the tools when they help. Answer in one short sentence.")

OFFSETS = {"london": 0, "paris": 1, "berlin": 1, "moscow": 3, "beijing": 8, "tokyo": 9, "new york": -5}


@app.tool(timeout=2)
def local_time(city: str) -> str:
    """The current local time in a city.

    Args:
        city: The city's name, e.g. "Tokyo".
    """
    offset = OFFSETS.get(city.lower())
    if offset is None:
        raise LookupError(f"I do not know the time zone of {city}")
    return (datetime.now(timezone.utc) + timedelta(hours=offset)).strftime("%H:%M")


@app.on_utterance
async def answer(session, text):
    # app.llm.stream offers @app.tool functions, this device's MCP tools (session.tools) and the
    # built-in `remember` (a fact the user states, kept in the memory service for later turns), runs
    # the calls the model makes (validated, with timeouts; failures go back to the model as errors)
    # and streams the spoken answer. app.messages puts the remembered facts, the summary of older
    # turns and the recent ones (session.history) into the prompt.
    async for delta in app.llm.stream(messages=app.messages(session, text)):
        yield delta


if __name__ == "__main__":
    app.run()
