"""The smallest assistant: says back what it heard. No LLM needed.

    voicecore worker assistant --script Examples/python/echo.py --hub ws://127.0.0.1:8000/worker --token T
"""

from voicecore import Assistant

app = Assistant()


@app.on_utterance
async def answer(session, text):
    yield f"You said: {text}"


if __name__ == "__main__":
    app.run()
