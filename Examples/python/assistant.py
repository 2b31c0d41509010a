"""The default assistant of `voicecore up`: answers from a folder of documents (KB_DIR, default
Examples/python/kb), with the LLM when there is one and with the best passage when there is not.

    KB_DIR=my-docs VOICECORE_LLM_URL=http://127.0.0.1:8080/v1 \\
    voicecore worker assistant --script Examples/python/assistant.py --hub ws://127.0.0.1:8000/worker --token T

The folder's .md/.txt files are indexed in memory at start-up with voicecore.Retriever (BM25 with
English stemming), in passages short enough to be spoken. For a persisted index built ahead of time
see knowledge_base.py.

The conversation (session.history, a summary of older turns, facts) comes from the memory service
that `voicecore up` starts (docs/memory.md); app.messages puts it into the prompt. This script asks
the LLM with tools=False (the small embedded model answers faster without tool schemas), so the
LLM is not offered the `remember` tool here; Examples/python/memory.py shows it.
"""

import os
from pathlib import Path

from voicecore import Assistant, Retriever

app = Assistant(system="You are a friendly voice assistant. Answer in one short spoken sentence, "
                       "using the facts below when they help.")
FOLDER = Path(os.environ.get("KB_DIR") or Path(__file__).with_name("kb"))

# In memory (no path); passages of about one spoken sentence: the no-LLM answer stays short, and
# every fact token is prompt the LLM must evaluate before its first word (SmolLM2 on 2 cores: ~10 ms
# a token). 300-character chunks mixed three unrelated facts (~140 tokens for k=2) and put the
# answer's TTFT at p50 0.885 s; 120-character chunks keep the right fact in the top two at ~40 tokens
# (TTFT p50 0.438 s, first sentence 1.062 -> 0.648 s).
# "spoken" stop words: the question's "which", "what", "tell me about" name no topic (with function
# words only, "Which ocean is the largest?" ranked "…, which is the largest city." first).
kb = Retriever(None, options={"chunk_size": 120, "chunk_overlap": 0, "stemming": "en", "stopwords": "spoken"})
if FOLDER.is_dir():
    for path in sorted(FOLDER.rglob("*")):
        if path.suffix.lower() in (".md", ".txt") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            kb.add(str(path.relative_to(FOLDER)), text.replace("#", ""), metadata={"source": path.name})


def facts(text):
    """The passages worth the LLM's reading. One far weaker than the best is noise it must read
    before its first word (~20 tokens, 0.1-0.25 s for SmolLM2 on 2 cores); a close second stays
    (a question that names two things, or one the ranking gets wrong)."""
    hits = kb.search(text, k=2)
    return [" ".join(hit.text.split()) for hit in hits if hit.score >= 0.5 * hits[0].score]


@app.on_utterance
async def answer(session, text):
    passages = facts(text)
    if not app.llm.available:
        yield passages[0] if passages else "Sorry, I know nothing about that."
        return
    context = "Facts:\n" + "\n".join(passages) if passages else ""
    # Greedy (temperature 0): the model's most likely words, the same every time for the same
    # prompt. The servers' default (0.8 for llama.cpp's) made SmolLM2-135M answer "What is the
    # capital of Japan?" with "You're a language tutor. I'm here to help you practice your Japanese."
    async for delta in app.llm.stream(messages=app.messages(session, text, context=context), tools=False, max_tokens=60, temperature=0):
        yield delta


if __name__ == "__main__":
    app.run()
