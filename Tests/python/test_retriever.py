import ctypes
import json
import math
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import voicecore
from voicecore import OpenAIEmbedder, Retriever
from voicecore import _native
from voicecore.cli import main as cli_main
from voicecore.embeddings import EmbeddingError

ROOT = Path(__file__).resolve().parents[2]


def test_issue_example_round_trip(tmp_path):
    path = tmp_path / "kb.vcidx"
    kb = Retriever(path)
    kb.add("doc-1", "Solar panels convert sunlight into electricity.", metadata={"lang": "en", "date": "2025-06-01"}, vector=[1, 0, 0])
    kb.add("doc-2", "Солнечные панели преобразуют свет в электричество.", metadata={"lang": "ru", "date": "2024-01-01"}, vector=[0, 1, 0])
    kb.add("doc-3", "Wind turbines make electricity from wind.", metadata={"lang": "en"}, vector=[0.1, 0, 1])
    kb.delete("doc-3")
    kb.save()
    kb.close()

    kb = Retriever(path)
    assert len(kb) == 2
    hits = kb.search("electricity sunlight", k=10, mode="hybrid", vector=[0.9, 0.1, 0], filter={"lang": "en"})
    assert [h.id for h in hits] == ["doc-1"]
    h = hits[0]
    assert h.chunk == 0 and h.score > 0 and h.text.startswith("Solar") and h.metadata == {"lang": "en", "date": "2025-06-01"}
    assert kb.search("панель", mode="bm25")[0].id == "doc-2"  # Russian stemming: панели -> панел
    assert kb.search("x", filter={"date": {"gte": "2025-01-01"}}, mode="bm25") == []
    assert [h.id for h in kb.search(mode="dense", vector=[0, 1, 0], filter={"date": {"lt": "2025-01-01"}})] == ["doc-2"]
    with pytest.raises(voicecore.Error) as info:
        kb.delete("doc-3")
    assert info.value.code == -5


def test_chunks_have_positions_for_citations():
    kb = Retriever(None, {"chunk_size": 200, "chunk_overlap": 0.15})
    text = "\n\n".join(" ".join(f"p{p}w{i}" for i in range(40)) for p in range(4))
    kb.add("long", text)
    chunks = kb.chunks(text)
    assert len(chunks) > 4
    for c in chunks:
        assert text[c["start"] : c["end"]] == c["text"]
    hit = kb.search("p2w17", k=1)[0]
    assert text[hit.start : hit.end] == hit.text and "p2w17" in hit.text
    assert kb.stats()["chunks"] == len(chunks)


def test_per_chunk_vectors_and_dimension_mismatch():
    kb = Retriever(None, {"chunk_size": 50})
    text = "alpha beta gamma delta. " * 10
    n = len(kb.chunks(text))
    kb.add("a", text, vectors=[[1.0, float(i)] for i in range(n)])
    with pytest.raises(voicecore.Error, match="chunks but 2 vectors") as info:
        kb.add("b", text, vectors=[[1.0, 0.0], [0.0, 1.0]])
    assert info.value.code == -10
    with pytest.raises(voicecore.Error, match="dimension 3") as info:
        kb.add("c", "x", vector=[1.0, 2.0, 3.0])
    assert info.value.code == -10
    with pytest.raises(voicecore.Error, match="dimension"):
        kb.search(mode="dense", vector=[1.0, 2.0, 3.0])
    with pytest.raises(voicecore.Error, match="needs a query vector"):
        kb.search("alpha", mode="hybrid")


def test_invalid_utf8_and_bad_options_are_errors():
    kb = Retriever()
    lib = _native.lib()
    bad = b"caf\xc3"
    code = lib.vc_retriever_add(kb._h, b"x", bad, len(bad), None, None, 0, 0)
    assert code == -3 and b"UTF-8" in lib.vc_retriever_errmsg(kb._h)
    with pytest.raises(voicecore.Error, match="unknown option"):
        Retriever(None, {"k3": 1})
    with pytest.raises(voicecore.Error, match="unknown search option"):
        kb.search("x", typo=1)
    with pytest.raises(voicecore.Error, match="unknown operator"):
        kb.search("x", filter={"a": {"like": "b"}})


def test_corrupt_and_truncated_files(tmp_path):
    path = tmp_path / "kb.vcidx"
    kb = Retriever(path)
    for i in range(50):
        kb.add(f"d{i}", f"document number {i} about topic {i % 5}", metadata={"n": i})
    kb.save()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(voicecore.Error, match="truncated") as info:
        Retriever(path)
    assert info.value.code == -7
    flipped = bytearray(data)
    flipped[len(data) - 10] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(voicecore.Error, match="checksum") as info:
        Retriever(path)
    assert info.value.code == -7
    path.write_bytes(data)
    assert len(Retriever(path)) == 50


def test_spoken_stop_words_in_the_default_assistant_and_a_saved_index(tmp_path):
    """The default assistant's knowledge base (Examples/python/assistant.py, loaded as `voicecore up`
    does) finds the fact a spoken question asks for, not the passage that shares its question word;
    an index made with the option keeps it in its file."""
    from voicecore.testing.default_assistant import load_default_assistant

    assistant = load_default_assistant()
    assert assistant.facts("which ocean is the largest")[0].startswith("The Pacific is the largest ocean")
    assert assistant.facts("What is the capital of France?") == [
        "Paris is the capital of France. It lies on the river Seine and has about two million inhabitants."]

    path = tmp_path / "kb.vcidx"
    kb = Retriever(path, {"stopwords": "spoken", "chunk_size": 0})
    kb.add("canberra", "Canberra is the capital of Australia, not Sydney, which is the largest city.")
    kb.add("pacific", "The Pacific is the largest ocean on Earth.")
    kb.save()
    again = Retriever(path)
    assert [h.id for h in again.search("Which ocean is the largest?", k=2)] == ["pacific", "canberra"]
    assert [h.id for h in again.search("Please, what is it?", k=2)] == []  # nothing but spoken stop words
    with pytest.raises(voicecore.Error, match='"spoken"'):
        Retriever(None, {"stopwords": "some"})


def test_cjk_search():
    kb = Retriever()
    kb.add("bj", "北京大学是中国著名的大学")
    kb.add("tk", "東京大学は日本の大学です")
    kb.add("en", "Peking University is in Beijing")
    assert kb.search("北京", k=3)[0].id == "bj"
    assert kb.search("東京", k=3)[0].id == "tk"
    assert {h.id for h in kb.search("大学", k=3)} == {"bj", "tk"}


def test_cli_index_and_search(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The warranty lasts two years from the date of purchase.")
    (docs / "b.md").write_text("# Returns\n\nTell us within 30 days and you can return the speaker.")
    (docs / "c.html").write_text("<html><script>var x=1;</script><body><p>Battery life is 12 hours.</p></body></html>")
    (docs / "skip.bin").write_bytes(b"\x00\x01")
    out = tmp_path / "kb.vcidx"
    env = {"PYTHONPATH": str(ROOT / "python")}
    r = subprocess.run([sys.executable, "-m", "voicecore", "index", str(docs), "--out", str(out)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "indexed 3 files" in r.stdout and "3/3" in r.stderr  # the progress bar
    r = subprocess.run([sys.executable, "-m", "voicecore", "search", str(out), "battery life", "--json"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout.splitlines()[0])
    assert first["id"] == "c.html" and "Battery life" in first["text"] and "var x" not in first["text"]
    r = subprocess.run([sys.executable, "-m", "voicecore", "search", str(out), "the speaker warranty", "--json", "--documents"],
                       capture_output=True, text=True, env=env)
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert r.returncode == 0 and sorted(ids) == ["a.txt", "b.md"], r.stderr
    # The index leaves out the question words of spoken queries by default; --stopwords none keeps them.
    for stopwords, found in (("spoken", []), ("none", ["b.md"])):
        kept = tmp_path / f"{stopwords}.vcidx"
        r = subprocess.run([sys.executable, "-m", "voicecore", "index", str(docs), "--out", str(kept), "--quiet", "--stopwords", stopwords],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        assert [h.id for h in Retriever(kept).search("please tell", k=3)] == found
    assert cli_main(["search", str(tmp_path / "missing.vcidx"), "q"]) == 2


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    """A scripted OpenAI-compatible embeddings server: hashes words into 8 dimensions."""

    seen: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if body.get("model") == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "model exploded"}}')
            return
        data = []
        for i, text in enumerate(body["input"]):
            v = [0.0] * 8
            for w in text.lower().split():
                v[sum(map(ord, w)) % 8] += 1
            data.append({"object": "embedding", "index": i, "embedding": v})
        data.reverse()  # the API allows any order: index decides
        payload = json.dumps({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture()
def embeddings_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmbeddingsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _EmbeddingsHandler.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_embedder_against_a_real_http_server(embeddings_server):
    embed = OpenAIEmbedder(embeddings_server, model="mini", api_key="sk-test", batch_size=2)
    texts = ["red apple", "green apple", "blue sky"]
    vectors = embed(texts)
    assert len(vectors) == 3 and all(len(v) == 8 for v in vectors)
    assert vectors[0] != vectors[2]
    seen = _EmbeddingsHandler.seen
    assert [s["path"] for s in seen] == ["/v1/embeddings", "/v1/embeddings"]  # batches of 2
    assert seen[0]["auth"] == "Bearer sk-test" and seen[0]["body"]["input"] == texts[:2]
    kb = Retriever()
    for i, t in enumerate(texts):
        kb.add(str(i), t, vector=vectors[i])
    assert kb.search(mode="dense", vector=embed.embed_one("blue sky"), k=1)[0].id == "2"
    with pytest.raises(EmbeddingError, match="HTTP 500"):
        OpenAIEmbedder(embeddings_server, model="broken")(["x"])
    with pytest.raises(EmbeddingError):
        OpenAIEmbedder("http://127.0.0.1:9/v1", timeout=2)(["x"])


def test_search_many_equals_search_per_query():
    import random

    rng = random.Random(5)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "солнце", "ветер", "太阳能"]
    kb = Retriever(None, {"chunk_size": 0})
    for i in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        kb.add(f"d{i}", text, metadata={"group": i % 3}, vector=[rng.uniform(-1, 1) for _ in range(19)])
    kb.delete("d7")
    queries = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) for _ in range(21)]
    vectors = [[rng.uniform(-1, 1) for _ in range(19)] for _ in range(21)]
    for mode in ["bm25", "dense", "hybrid"]:
        for flt in [None, {"group": {"in": [0, 2]}}]:
            vecs = None if mode == "bm25" else vectors
            many = kb.search_many_slots(queries, k=7, mode=mode, vectors=vecs, filter=flt)
            one = [kb.search_slots(q, k=7, mode=mode, vector=None if vecs is None else v, filter=flt)
                   for q, v in zip(queries, vectors)]
            assert many == one, (mode, flt)
            assert any(many)
    # Vector-only batches, and the Hit-returning form.
    hits = kb.search_many(None, k=3, mode="dense", vectors=vectors[:2])
    assert [[h.slot for h in r] for r in hits] == [[s for s, _ in kb.search_slots(k=3, mode="dense", vector=v)] for v in vectors[:2]]
    assert hits[0][0].id.startswith("d")
    # Mismatched batch sizes and dimensions are errors, not crashes.
    with pytest.raises(voicecore.Error):
        kb.search_many_slots(queries, k=3, mode="hybrid", vectors=vectors[:5])
    with pytest.raises(voicecore.Error) as e:
        kb.search_many_slots(None, k=3, mode="dense", vectors=[[1.0, 2.0]])
    assert e.value.code == -10
    with pytest.raises(voicecore.Error):
        kb.search_many_slots(queries, k=3, mode="dense")
    assert kb.search_many_slots([], k=3, mode="bm25") == []


def test_exact_dense_scores_identical_single_and_batched_across_dimensions():
    """One query scans row by row, a batch scores pairs of queries against blocks of rows (and a
    NumPy vector goes in by address, a list by a copy): every path must give the same scores, bit
    for bit, for dimensions with and without a partial SIMD step, and equal a float64 reference
    to float32 rounding."""
    import numpy as np

    rng = np.random.default_rng(3)
    for dim in (16, 48, 384, 391):
        data = rng.standard_normal((203, dim)).astype(np.float32)
        queries = rng.standard_normal((9, dim)).astype(np.float32)
        kb = Retriever(None, {"chunk_size": 0, "metric": "dot"})
        for i, v in enumerate(data):
            kb.add(str(i), "", vector=v)
        many = kb.search_many_slots(None, k=5, mode="dense", vectors=queries)
        one = [kb.search_slots(k=5, mode="dense", vector=q) for q in queries]
        as_list = [kb.search_slots(k=5, mode="dense", vector=[float(x) for x in q]) for q in queries]
        assert many == one == as_list, dim
        exact = queries.astype(np.float64) @ data.astype(np.float64).T
        for i, hits in enumerate(one):
            assert [s for s, _ in hits] == list(np.argsort(-exact[i], kind="stable")[:5]), dim
            assert np.allclose([sc for _, sc in hits], exact[i][[s for s, _ in hits]], rtol=1e-4, atol=1e-4)
        kb.close()


def test_search_returns_the_chunks_of_its_slots():
    """``search`` fetches every hit's chunk in one call: the same fields ``chunk(slot)`` gives,
    metadata included, non-ASCII text intact, for single and batched searches."""
    kb = Retriever(None, {"chunk_size": 40, "chunk_overlap": 0})
    kb.add("ru", "Солнечные панели дают ток. " * 4, metadata={"lang": "ru", "year": 2024})
    kb.add("en", "Solar panels give current. " * 4)
    kb.add("zh", "太阳能电池板发电。" * 6, metadata={"lang": "zh"})
    for query in ["панели ток", "solar current", "太阳能"]:
        hits = kb.search(query, k=20, mode="bm25")
        assert hits
        for h in hits:
            c = kb.chunk(h.slot)
            assert (h.id, h.chunk, h.start, h.end, h.text, h.metadata) == (
                c["id"], c["chunk"], c["start"], c["end"], c["text"], c["metadata"])
        assert [h.slot for h in hits] == [s for s, _ in kb.search_slots(query, k=20, mode="bm25")]
    assert kb.search("панели", k=1)[0].metadata == {"lang": "ru", "year": 2024}
    assert kb.search("solar", k=1)[0].metadata == {}
    assert kb.search_many(["панели ток", "solar"], k=20) == [kb.search("панели ток", k=20), kb.search("solar", k=20)]
    with pytest.raises(voicecore.Error) as e:
        kb.chunk(999)
    assert e.value.code == -5


def _whole_and_chunked(tmp_path, words, docs):
    """The same documents in an index that keeps them whole and one that cuts them into chunks
    without overlap (so a document's term counts and length are the sums over its chunks)."""
    import random

    rng = random.Random(11)
    whole = Retriever(None, {"chunk_size": 0})
    chunked = Retriever(tmp_path / "chunked.vcidx", {"chunk_size": 60, "chunk_overlap": 0})
    texts = {}
    for i in range(docs):
        text = ". ".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(rng.randint(1, 6)))
        texts[f"d{i}"] = text
        whole.add(f"d{i}", text)
        chunked.add(f"d{i}", text)
    return whole, chunked, texts


def _same_documents(whole, chunked, query, k):
    got = chunked.search(query, k=k, mode="bm25", group_by="document")
    want = whole.search(query, k=k, mode="bm25")
    assert [h.id for h in got] == [h.id for h in want], query
    assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-4), query
    return got


def test_group_by_document_scores_whole_documents(tmp_path):
    """With ``group_by="document"`` each document comes back once, carried by its best chunk, and
    BM25 scores the whole document: on chunks without overlap the scores equal those of an index
    that keeps the documents whole — after deletes and replacements, and after save and open."""
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    whole, chunked, texts = _whole_and_chunked(tmp_path, words, 80)
    assert chunked.stats()["chunks"] > 2 * chunked.stats()["documents"]
    queries = ["alpha beta", "gamma", "delta epsilon zeta", "theta theta kappa", "iota alpha eta"]
    for q in queries:
        got = _same_documents(whole, chunked, q, 80)
        assert len({h.id for h in got}) == len(got)
        for h in got:
            assert texts[h.id][h.start : h.end] == h.text  # the document's best chunk
    for doc in ["d3", "d4", "d50"]:
        whole.delete(doc)
        chunked.delete(doc)
    whole.add("d4", "alpha beta gamma. " * 20)
    chunked.add("d4", "alpha beta gamma. " * 20)
    for q in queries:
        _same_documents(whole, chunked, q, 80)
    chunked.save()
    reopened = Retriever(chunked.path)
    for q in queries:
        _same_documents(whole, reopened, q, 80)
    reopened.compact()
    for q in queries:  # k = 80 covers every document, so the rescored pool is all of them
        _same_documents(whole, reopened, q, 80)


def test_group_by_document_returns_k_documents_when_one_document_fills_the_chunks():
    """A document with many matching chunks must not crowd the others out: grouped search keeps
    fetching chunks until it has k documents."""
    kb = Retriever(None, {"chunk_size": 40, "chunk_overlap": 0})
    kb.add("big", "solar power plant. " * 200, vector=[1, 0, 0])
    for i in range(6):
        kb.add(f"small{i}", f"a note {i} on solar power and wind", vector=[0.5, 0.5, i / 10])
    assert kb.stats()["chunks"] > 80
    for mode, vec in [("bm25", None), ("dense", [1, 0, 0]), ("hybrid", [1, 0, 0])]:
        chunks = kb.search("solar power plant", k=5, mode=mode, vector=vec)
        docs = kb.search("solar power plant", k=5, mode=mode, vector=vec, group_by="document")
        assert len(docs) == 5 and len({h.id for h in docs}) == 5, mode
        assert docs[0].id == "big", mode
        assert all(h.id == "big" for h in chunks), mode
    assert kb.search("solar", k=3, group_by="document", filter={}) == kb.search_many(["solar"], k=3, group_by="document")[0]
    with pytest.raises(voicecore.Error, match="group_by"):
        kb.search("solar", group_by="page")
