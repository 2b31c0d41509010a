"""Retriever benchmark on BEIR SciFact, one core, anchors measured in the same run.

    python Benchmarks/retriever/bench_retriever.py            # make bench: SciFact + HNSW on 20,000 vectors
    python Benchmarks/retriever/bench_retriever.py --full     # HNSW on 200,000 vectors + the 1,000,000-chunk BM25 run
    python Benchmarks/retriever/bench_retriever.py --skip-scifact --hnsw-count 200000 --hnsw-ef 8192,16384
        # the 200,000-vector HNSW run alone; both built indexes are cached in /tmp/vc-retriever-hnsw

Drives libvoicecore through the Python binding a user calls and runs bm25s, faiss and hnswlib
beside it, each both ways: one query per call (ours: `Retriever.search`, which returns `Hit`s
with the document id, chunk text, offsets and metadata) and a batch per call (ours:
`Retriever.search_many`, the same `Hit`s for all queries; bm25s `retrieve` on all queries,
faiss/hnswlib `search`/`knn_query` on the query matrix, one thread). The HNSW rows time the same
calls; the 1,000,000-chunk scale run times `search_slots` (slots and scores) per query for its
latency percentiles. Prints one table; each row names the call it timed.

Times are this process's CPU time (time.process_time), not wall time: on a shared, loaded machine
the wall clock mostly measures the other tenants, while CPU time still compares the two sides.
Every timed section starts with a full garbage collection (`start_clock`), for both sides: the
objects left by loading the corpus and importing the anchors' libraries otherwise make Python's
next full collection land inside whichever section runs first (30 ms inside a 40 ms loop).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
from voicecore import Retriever  # noqa: E402

DATA = Path(os.environ.get("SCIFACT", Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "scifact"))
if not DATA.is_dir() and "SCIFACT" not in os.environ:
    DATA = Path("/work/shared/benchmarks/scifact")
ROWS: list[tuple[str, str, str, str]] = []


def start_clock() -> float:
    """CPU time at the start of a timed section, after a full collection (see the module doc)."""
    gc.collect()
    return time.process_time()


def row(what: str, ours: str, anchor: str, target: str) -> None:
    ROWS.append((what, ours, anchor, target))
    print(f"  {what}: {ours} | {anchor} | {target}", file=sys.stderr, flush=True)


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / idcg


def load():
    corpus = [json.loads(line) for line in open(DATA / "corpus.jsonl")]
    queries = [json.loads(line) for line in open(DATA / "queries.jsonl")]
    qrels: dict[str, set[str]] = {}
    for line in list(open(DATA / "qrels" / "test.tsv"))[1:]:
        q, d, _ = line.rstrip("\n").split("\t")
        qrels.setdefault(q, set()).add(d)
    emb = DATA / "embeddings"
    dvec = np.fromfile(emb / "minilm-l6-v2.corpus.f32", dtype="<f4").reshape(-1, 384)
    qvec = np.fromfile(emb / "minilm-l6-v2.queries.f32", dtype="<f4").reshape(-1, 384)
    assert [line.strip() for line in open(emb / "minilm-l6-v2.corpus.ids.txt")] == [d["_id"] for d in corpus]
    assert [line.strip() for line in open(emb / "minilm-l6-v2.queries.ids.txt")] == [q["_id"] for q in queries]
    return corpus, queries, qrels, dvec, qvec


def mean_ndcg(results: list[list[str]], queries, qrels) -> float:
    return float(np.mean([ndcg10(r, qrels[q["_id"]]) for q, r in zip(queries, results)]))


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size


BM25_OPTIONS = {"k1": 1.5, "b": 0.75, "stopwords": True, "min_token_length": 2, "chunk_size": 0, "stemming": "en"}


def bench_bm25(corpus, queries, qrels, tmp: Path) -> None:
    import bm25s
    import Stemmer

    texts = [d["title"] + " " + d["text"] for d in corpus]
    ids = [d["_id"] for d in corpus]
    qtexts = [q["text"] for q in queries]

    # --- ours
    kb = Retriever(None, BM25_OPTIONS)
    t = start_clock()
    for i, text in zip(ids, texts):
        kb.add(i, text)
    ours_index = time.process_time() - t
    # One untimed pass over the queries, as bm25s's one-per-call loop runs after its batch pass:
    # both sides are timed with the queries' postings and texts already in the caches.
    for q in qtexts:
        kb.search(q, k=10, mode="bm25")
    t = start_clock()
    ours_res = [kb.search(q, k=10, mode="bm25") for q in qtexts]
    ours_qtime = time.process_time() - t
    t = start_clock()
    ours_many = kb.search_many(qtexts, k=10, mode="bm25")
    ours_btime = time.process_time() - t
    assert ours_many == ours_res, "search_many must equal search per query"
    t = start_clock()
    for q in qtexts:
        kb.search_slots(q, k=10, mode="bm25")
    slots_qtime = time.process_time() - t
    ours_ndcg = mean_ndcg([[h.id for h in r] for r in ours_res], queries, qrels)
    path = tmp / "scifact.vcidx"
    kb.save(path)
    kb.close()
    t = start_clock()
    reopened = Retriever(path)
    ours_open = time.process_time() - t
    assert reopened.search(qtexts[0], k=10, mode="bm25") == ours_res[0]
    reopened.close()

    # --- bm25s, the configuration its authors publish for SciFact
    stemmer = Stemmer.Stemmer("english")
    t = start_clock()
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
    model = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    model.index(tokens, show_progress=False)
    anchor_index = time.process_time() - t
    t = start_clock()
    qtok = bm25s.tokenize(qtexts, stopwords="en", stemmer=stemmer, show_progress=False)
    docs, _ = model.retrieve(qtok, k=10, n_threads=1, show_progress=False)
    anchor_batch = time.process_time() - t
    t = start_clock()
    for q in qtexts:
        model.retrieve(bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False), k=10, n_threads=1, show_progress=False)
    anchor_single = time.process_time() - t
    anchor_ndcg = mean_ndcg([[ids[j] for j in r] for r in docs], queries, qrels)
    bdir = tmp / "bm25s"
    model.save(str(bdir))
    t = start_clock()
    bm25s.BM25.load(str(bdir))
    anchor_open = time.process_time() - t

    n = len(qtexts)
    row("BM25 nDCG@10 (English stemming)", f"{ours_ndcg:.4f}", f"bm25s {anchor_ndcg:.4f}", ">= 0.686")
    row("BM25 queries/s, one query per call: search() -> Hits", f"{n / ours_qtime:,.0f}", f"bm25s {n / anchor_single:,.0f}",
        f">= 5x bm25s: {anchor_single / ours_qtime:.1f}x")
    row(f"BM25 queries/s, all {n} in one call: search_many() -> Hits", f"{n / ours_btime:,.0f}", f"bm25s {n / anchor_batch:,.0f}",
        f">= 5x bm25s: {anchor_batch / ours_btime:.1f}x")
    row("BM25 queries/s, one query per call: search_slots() -> (slot, score)", f"{n / slots_qtime:,.0f}",
        f"bm25s {n / anchor_single:,.0f}", f"beside: {anchor_single / slots_qtime:.1f}x")
    row("BM25 indexing docs/s", f"{len(texts) / ours_index:,.0f}", f"bm25s {len(texts) / anchor_index:,.0f}",
        f">= bm25s: {anchor_index / ours_index:.2f}x")
    row("index size on disk", f"{dir_size(path) / 1e6:.2f} MB", f"bm25s {dir_size(bdir) / 1e6:.2f} MB", "beside")
    row("index open time", f"{ours_open * 1e3:.1f} ms", f"bm25s load {anchor_open * 1e3:.1f} ms", "beside")


def bench_dense_and_hybrid(corpus, queries, qrels, dvec, qvec) -> None:
    import faiss

    faiss.omp_set_num_threads(1)
    ids = [d["_id"] for d in corpus]
    kb = Retriever(None, BM25_OPTIONS)
    for i, d in enumerate(corpus):
        kb.add(d["_id"], d["title"] + " " + d["text"], vector=dvec[i])
    n = len(queries)
    qs = [np.ascontiguousarray(qvec[i]) for i in range(n)]
    for q in qs:
        kb.search(k=10, mode="dense", vector=q)
    t = start_clock()
    res = [kb.search(k=10, mode="dense", vector=q) for q in qs]
    ours_t = time.process_time() - t
    ours_ndcg = mean_ndcg([[h.id for h in r] for r in res], queries, qrels)

    t = start_clock()
    many = kb.search_many(None, k=10, mode="dense", vectors=qvec)
    ours_batch_t = time.process_time() - t
    assert many == res, "search_many must equal search per query"

    index = faiss.IndexFlatIP(384)
    index.add(dvec)
    for i in range(20):
        index.search(qvec[i : i + 1], 10)
    t = start_clock()
    out = [index.search(qvec[i : i + 1], 10)[1][0] for i in range(n)]
    faiss_t = time.process_time() - t
    t = start_clock()
    _, batch = index.search(qvec, 10)
    faiss_batch_t = time.process_time() - t
    faiss_ndcg = mean_ndcg([[ids[j] for j in r] for r in out], queries, qrels)
    row("dense exact nDCG@10 (MiniLM)", f"{ours_ndcg:.4f}", f"faiss {faiss_ndcg:.4f}", "0.645 +- 0.001")
    row("dense exact queries/s, one query per call: search() -> Hits", f"{n / ours_t:,.0f}", f"faiss IndexFlatIP {n / faiss_t:,.0f}",
        f">= faiss: {faiss_t / ours_t:.2f}x")
    row(f"dense exact queries/s, all {n} in one call: search_many() -> Hits", f"{n / ours_batch_t:,.0f}",
        f"faiss IndexFlatIP {n / faiss_batch_t:,.0f}", f">= faiss: {faiss_batch_t / ours_batch_t:.2f}x")

    t = start_clock()
    res = [kb.search(q["text"], k=10, mode="hybrid", vector=v) for q, v in zip(queries, qs)]
    hyb_t = time.process_time() - t
    t = start_clock()
    many = kb.search_many([q["text"] for q in queries], k=10, mode="hybrid", vectors=qvec)
    hyb_batch_t = time.process_time() - t
    assert many == res, "search_many must equal search per query"
    hyb = mean_ndcg([[h.id for h in r] for r in res], queries, qrels)
    row("hybrid RRF (k=60, 100 per list) nDCG@10, search() / search_many()",
        f"{hyb:.4f} ({n / hyb_t:,.0f} q/s; {n / hyb_batch_t:,.0f} in one call)", "-", ">= 0.71")


def bench_documents(corpus, queries, qrels, dvec, qvec) -> None:
    """The default chunking (1000 characters, 15 % overlap; SciFact documents make 2.2 chunks on
    average) and documents as results: search(group_by="document") against the chunks taken as
    results (each document counted at its best chunk's rank, the rest of the 10 left empty)."""
    options = {key: v for key, v in BM25_OPTIONS.items() if key != "chunk_size"}
    kb = Retriever(None, options)
    for i, d in enumerate(corpus):
        kb.add(d["_id"], d["title"] + " " + d["text"], vector=dvec[i])
    qtexts = [q["text"] for q in queries]
    n = len(queries)

    def distinct(hits) -> list[str]:
        return list(dict.fromkeys(h.id for h in hits))

    chunks = [kb.search(q, k=10, mode="bm25") for q in qtexts]
    for q in qtexts:
        kb.search(q, k=10, mode="bm25", group_by="document")
    t = start_clock()
    docs = [kb.search(q, k=10, mode="bm25", group_by="document") for q in qtexts]
    doc_t = time.process_time() - t
    assert all(len(set(h.id for h in r)) == len(r) == 10 for r in docs)
    stats = kb.stats()
    row(f"BM25, default chunking ({stats['chunks']:,} chunks): nDCG@10 of documents, search(group_by='document')",
        f"{mean_ndcg([[h.id for h in r] for r in docs], queries, qrels):.4f} ({n / doc_t:,.0f} q/s)",
        f"chunks as results {mean_ndcg([distinct(r) for r in chunks], queries, qrels):.4f}", ">= 0.686")
    hybrid = [kb.search(q, k=10, mode="hybrid", vector=qvec[i], group_by="document") for i, q in enumerate(qtexts)]
    hybrid_chunks = [kb.search(q, k=10, mode="hybrid", vector=qvec[i]) for i, q in enumerate(qtexts)]
    row("hybrid RRF, default chunking: nDCG@10 of documents, search(group_by='document')",
        f"{mean_ndcg([[h.id for h in r] for r in hybrid], queries, qrels):.4f}",
        f"chunks as results {mean_ndcg([distinct(r) for r in hybrid_chunks], queries, qrels):.4f}", ">= 0.71")


# Random 384-d vectors have no low-dimensional structure, so a recall of 0.98 takes a wide beam:
# at 20,000 vectors ef = 2048, at 200,000 (M = 16, ef_construction = 100) ef = 16384.
HNSW_EF = [256, 1024, 2048]
HNSW_EF_LARGE = [8192, 16384]


def hnsw_indexes(count: int, m: int, ef_construction: int, data, cache: Path | None, rebuild: bool):
    """Our index and hnswlib's over `data`, built here or reopened from `cache` (a directory):
    a 200,000-vector build takes many minutes per library on a shared 2-core machine, so the
    indexes (ours through save/open, hnswlib through save_index/load_index) and the CPU time their
    builds took are kept between runs. Returns both indexes and the two build times (seconds) and
    whether they came from the cache."""
    import hnswlib

    key = f"{count}-m{m}-efc{ef_construction}-seed7"
    ours_path = cache / f"voicecore-{key}.vcidx" if cache else None
    anchor_path = cache / f"hnswlib-{key}.bin" if cache else None
    times_path = cache / f"build-times-{key}.json" if cache else None
    if cache and not rebuild and ours_path.exists() and anchor_path.exists() and times_path.exists():
        times = json.loads(times_path.read_text())
        kb = Retriever(ours_path)
        index = hnswlib.Index(space="ip", dim=384)
        index.load_index(str(anchor_path), max_elements=count)
        index.set_num_threads(1)
        return kb, index, times["voicecore"], times["hnswlib"], True

    kb = Retriever(None, {"chunk_size": 0, "metric": "dot", "hnsw": {"m": m, "ef_construction": ef_construction}})
    t = start_clock()
    for i in range(count):
        kb.add(str(i), "", vector=data[i])
    ours_build = time.process_time() - t
    index = hnswlib.Index(space="ip", dim=384)
    index.init_index(max_elements=count, M=m, ef_construction=ef_construction, random_seed=7)
    index.set_num_threads(1)
    t = start_clock()
    index.add_items(data, np.arange(count), num_threads=1)
    anchor_build = time.process_time() - t
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        kb.save(ours_path)
        index.save_index(str(anchor_path))
        times_path.write_text(json.dumps({"voicecore": ours_build, "hnswlib": anchor_build}))
    return kb, index, ours_build, anchor_build, False


def bench_hnsw(count: int, m: int, ef_construction: int, efs: list[int], cache: Path | None = None, rebuild: bool = False) -> None:
    rng = np.random.default_rng(7)
    data = rng.standard_normal((count, 384), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    nq = 200
    queries = rng.standard_normal((nq, 384), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]

    kb, index, ours_build, anchor_build, cached = hnsw_indexes(count, m, ef_construction, data, cache, rebuild)
    row(f"HNSW build, {count:,} x 384, M={m}, efC={ef_construction}" + (" (cached build's time)" if cached else ""),
        f"{ours_build:.1f} s", f"hnswlib {anchor_build:.1f} s", f"beside: {anchor_build / ours_build:.2f}x")

    qs = [np.ascontiguousarray(q) for q in queries]
    for ef in efs:
        t = start_clock()
        got = [kb.search(k=10, mode="dense", vector=q, ef=ef) for q in qs]
        ours_t = time.process_time() - t
        t = start_clock()
        many = kb.search_many(None, k=10, mode="dense", vectors=queries, ef=ef)
        ours_batch_t = time.process_time() - t
        assert many == got, "search_many must equal search per query"
        ours_recall = np.mean([len({int(h.id) for h in g} & set(truth[i])) / 10 for i, g in enumerate(got)])
        index.set_ef(ef)
        t = start_clock()
        labels = [index.knn_query(q[None, :], k=10, num_threads=1)[0][0] for q in queries]
        anchor_t = time.process_time() - t
        t = start_clock()
        index.knn_query(queries, k=10, num_threads=1)
        anchor_batch_t = time.process_time() - t
        anchor_recall = np.mean([len(set(lab) & set(truth[i])) / 10 for i, lab in enumerate(labels)])
        row(
            f"HNSW ef={ef}: recall@10, q/s one per call; all {nq} in one call: search() / search_many() -> Hits",
            f"{ours_recall:.3f}, {nq / ours_t:,.0f}; {nq / ours_batch_t:,.0f}",
            f"hnswlib {anchor_recall:.3f}, {nq / anchor_t:,.0f}; {nq / anchor_batch_t:,.0f}",
            f"recall >= 0.98, q/s >= hnswlib: {anchor_t / ours_t:.2f}x; {anchor_batch_t / ours_batch_t:.2f}x",
        )


def bench_scale(count: int) -> None:
    rng = np.random.default_rng(11)
    vocab = [f"w{i}" for i in range(50_000)]
    # Zipf-distributed words, 40 per chunk: a synthetic corpus with a realistic term skew.
    ranks = np.minimum(rng.zipf(1.2, size=count * 40), len(vocab)) - 1
    kb = Retriever(None, {"chunk_size": 0, "stemming": "none"})
    t = start_clock()
    for i in range(count):
        kb.add(str(i), " ".join(vocab[r] for r in ranks[i * 40 : (i + 1) * 40]))
    build = time.process_time() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lat = []
    qranks = np.minimum(rng.zipf(1.3, size=(500, 4)), len(vocab)) - 1
    for qr in qranks:
        q = " ".join(vocab[r] for r in qr)
        t = start_clock()
        kb.search_slots(q, k=10, mode="bm25")
        lat.append(time.process_time() - t)
    lat.sort()
    row(f"BM25 scale: {count:,} chunks", f"build {build:.0f} s, peak RSS {rss:,.0f} MB",
        f"p50 {lat[len(lat) // 2] * 1e3:.2f} ms, p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms", "print")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="HNSW on 200,000 vectors and the 1,000,000-chunk BM25 run")
    ap.add_argument("--hnsw-count", type=int, default=None)
    ap.add_argument("--scale-count", type=int, default=None)
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--hnsw-ef-construction", type=int, default=100)
    ap.add_argument("--hnsw-ef", default=None, help="comma-separated ef values for the recall/QPS table")
    ap.add_argument("--skip-scifact", action="store_true", help="only the HNSW and scale runs")
    ap.add_argument("--hnsw-cache", default=None,
                    help="directory keeping the built HNSW indexes between runs (default for --full: /tmp/vc-retriever-hnsw)")
    ap.add_argument("--hnsw-rebuild", action="store_true", help="build the HNSW indexes even when cached")
    args = ap.parse_args()
    hnsw_count = args.hnsw_count if args.hnsw_count is not None else (200_000 if args.full else 20_000)
    scale_count = args.scale_count if args.scale_count is not None else (1_000_000 if args.full else 0)

    corpus, queries, qrels, dvec, qvec = load()
    tmp = Path(tempfile.mkdtemp(prefix="vc-retriever-bench-"))
    try:
        if not args.skip_scifact:
            bench_bm25(corpus, queries, qrels, tmp)
            bench_dense_and_hybrid(corpus, queries, qrels, dvec, qvec)
            bench_documents(corpus, queries, qrels, dvec, qvec)
        if hnsw_count:
            efs = [int(e) for e in args.hnsw_ef.split(",")] if args.hnsw_ef else (HNSW_EF_LARGE if hnsw_count >= 100_000 else HNSW_EF)
            cache = args.hnsw_cache or ("/tmp/vc-retriever-hnsw" if hnsw_count >= 100_000 else None)
            bench_hnsw(hnsw_count, args.hnsw_m, args.hnsw_ef_construction, efs, Path(cache) if cache else None, args.hnsw_rebuild)
        if scale_count:
            bench_scale(scale_count)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    widths = [max(len(r[i]) for r in ROWS + [("what", "VoiceCore", "anchor (same run)", "target")]) for i in range(4)]
    print(f"\nRetriever on SciFact ({len(corpus):,} docs, {len(queries)} queries), one core, CPU time of this process")
    for r in [("what", "VoiceCore", "anchor (same run)", "target")] + ROWS:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
