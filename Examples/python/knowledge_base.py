"""A knowledge-base assistant: retrieval-augmented answers over a folder of documents.

    voicecore index docs/ --out kb.vcidx          # or let this script index KB_DIR on start
    KB_DIR=docs VOICECORE_LLM_URL=http://127.0.0.1:8080/v1 \\
    voicecore worker assistant --script Examples/python/knowledge_base.py --hub ws://127.0.0.1:8000/worker --token T

Without an LLM (no VOICECORE_LLM_URL, e.g. `voicecore up --no-llm`) it answers with the best passage.
"""

import os
from pathlib import Path

from voicecore import Assistant, Retriever

app = Assistant(system="Answer the question from the passages below, in one or two spoken sentences. "
                       "If they do not contain the answer, say you do not know.")
# A new index leaves out the words of spoken questions that name no topic ("what", "which", "tell me
# about"), as `voicecore index` does by default; an existing one keeps the options it was made with.
kb = Retriever(os.environ.get("KB_INDEX", "kb.vcidx"), {"stopwords": "spoken"})

folder = os.environ.get("KB_DIR")
if folder:  # (re)index the folder's text files; add() replaces a document with the same id
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() in (".txt", ".md") and path.is_file():
            kb.add(str(path.relative_to(folder)), path.read_text(encoding="utf-8", errors="replace"), metadata={"source": path.name})
    kb.save()


@app.on_utterance
async def answer(session, text):
    hits = kb.search(text, k=3)
    if not hits:
        yield "I could not find anything about that in my documents."
        return
    if not app.llm.available:
        yield hits[0].text
        return
    passages = "\n\n".join(f"[{h.metadata.get('source', h.id)}] {h.text}" for h in hits)
    async for delta in app.llm.stream(messages=app.messages(session, text, context="Passages:\n" + passages), tools=False):
        yield delta


if __name__ == "__main__":
    app.run()
