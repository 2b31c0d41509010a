"""The default assistant of `voicecore up`: answers from a folder of documents (KB_DIR, default
Examples/python/kb), with the LLM when there is one and with the best passage when there is not.

    KB_DIR=my-docs VOICECORE_LLM_URL=http://127.0.0.1:8080/v1 \\
    voicecore worker assistant --script Examples/python/assistant.py --hub ws://127.0.0.1:8000/worker --token T

Passages are the paragraphs of the folder's .md/.txt files. Retrieval uses voicecore.Retriever when
the library has it, else a small BM25 over the paragraphs (in this file, so the script runs alone).
"""

import math
import os
import re
from collections import Counter
from pathlib import Path

from voicecore import Assistant

app = Assistant(system="You are a friendly voice assistant. Answer in one short spoken sentence, "
                       "using the facts below when they help.")
FOLDER = Path(os.environ.get("KB_DIR") or Path(__file__).with_name("kb"))
STOPWORDS = set("a an and are as at be by do does for from how i in is it its me my of on or the to was what when where "
                "which who why with you your can tell about".split())


def words(text):
    return [w for w in re.findall(r"[\w']+", text.lower()) if w not in STOPWORDS]


class ParagraphIndex:
    """BM25 (k1 1.2, b 0.75) over paragraphs."""

    def __init__(self, passages):
        self.passages = passages
        self.terms = [Counter(words(p)) for p in passages]
        self.lengths = [sum(t.values()) for t in self.terms]
        self.average = sum(self.lengths) / max(1, len(self.lengths))
        frequency = Counter(w for t in self.terms for w in t)
        n = len(passages)
        self.idf = {w: math.log(1 + (n - df + 0.5) / (df + 0.5)) for w, df in frequency.items()}

    def search(self, text, k=3):
        query = set(words(text))
        scored = []
        for passage, terms, length in zip(self.passages, self.terms, self.lengths):
            score = sum(self.idf[w] * terms[w] * 2.2 / (terms[w] + 1.2 * (0.25 + 0.75 * length / self.average))
                        for w in query if w in terms)
            if score > 0:
                scored.append((score, passage))
        scored.sort(key=lambda s: -s[0])
        return [p for _, p in scored[:k]]


def paragraphs(folder):
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in (".md", ".txt") and path.is_file():
            for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
                block = " ".join(block.split()).lstrip("# ")
                if block:
                    yield block


kb = ParagraphIndex(list(paragraphs(FOLDER)) if FOLDER.is_dir() else [])


@app.on_utterance
async def answer(session, text):
    passages = kb.search(text, k=2)
    if not app.llm.available:
        yield passages[0] if passages else "Sorry, I know nothing about that."
        return
    context = "Facts:\n" + "\n".join(passages) if passages else ""
    async for delta in app.llm.stream(messages=app.messages(session, text, context=context), tools=False, max_tokens=60):
        yield delta


if __name__ == "__main__":
    app.run()
