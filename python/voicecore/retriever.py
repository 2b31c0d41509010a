"""``voicecore.Retriever``: embedded hybrid retrieval (BM25 + dense vectors + fusion) in one file.

    kb = Retriever("kb.vcidx")                       # creates or opens
    kb.add("doc-1", text, metadata={"lang": "en"}, vector=None)
    hits = kb.search("query", k=10, mode="hybrid", vector=qvec, filter={"lang": "en"})
    hits[0].id, hits[0].chunk, hits[0].score, hits[0].text, hits[0].metadata
    docs = kb.search("query", k=10, group_by="document")   # one hit per document
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import _native

_c_float_p = ctypes.POINTER(ctypes.c_float)


class _ChunkInfo(ctypes.Structure):
    """``vc_retriever_chunk_info``: strings as addresses with lengths, owned by the handle."""

    _fields_ = [
        ("id", ctypes.c_void_p), ("id_len", ctypes.c_size_t),
        ("text", ctypes.c_void_p), ("text_len", ctypes.c_size_t),
        ("metadata", ctypes.c_void_p), ("metadata_len", ctypes.c_size_t),
        ("chunk", ctypes.c_int32), ("start", ctypes.c_int32), ("end", ctypes.c_int32),
    ]


_CHUNK_INFO = struct.Struct("@PNPNPNiii4x")
"""The layout of ``vc_retriever_chunk_info`` for reading an array of them in one pass."""
assert _CHUNK_INFO.size == ctypes.sizeof(_ChunkInfo)


@_native.declares
def _declare(l: ctypes.CDLL) -> None:
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    l.vc_retriever_open.argtypes = [cp, cp, ctypes.POINTER(vp)]
    l.vc_retriever_open.restype = ctypes.c_int
    l.vc_retriever_free.argtypes = [vp]
    l.vc_retriever_free.restype = None
    l.vc_retriever_errmsg.argtypes = [vp]
    l.vc_retriever_errmsg.restype = cp
    l.vc_retriever_add.argtypes = [vp, cp, cp, sz, cp, _c_float_p, sz, sz]
    l.vc_retriever_add.restype = ctypes.c_int
    l.vc_retriever_delete.argtypes = [vp, cp]
    l.vc_retriever_delete.restype = ctypes.c_int
    l.vc_retriever_compact.argtypes = [vp]
    l.vc_retriever_compact.restype = ctypes.c_int
    l.vc_retriever_save.argtypes = [vp, cp]
    l.vc_retriever_save.restype = ctypes.c_int
    l.vc_retriever_stats.argtypes = [vp, ctypes.POINTER(vp)]
    l.vc_retriever_stats.restype = ctypes.c_int
    # The query vector is passed as an address (c_void_p): a NumPy array's address costs far less
    # per call than building a ctypes float pointer for it.
    l.vc_retriever_search.argtypes = [vp, cp, sz, vp, sz, cp, ctypes.POINTER(ctypes.c_int32), _c_float_p, sz]
    l.vc_retriever_search.restype = ctypes.c_int
    l.vc_retriever_search_many.argtypes = [
        vp, cp, ctypes.POINTER(sz), sz, _c_float_p, sz, cp,
        ctypes.POINTER(ctypes.c_int32), _c_float_p, ctypes.POINTER(ctypes.c_int32), sz,
    ]
    l.vc_retriever_search_many.restype = ctypes.c_int
    l.vc_retriever_chunks.argtypes = [vp, ctypes.POINTER(ctypes.c_int32), sz, ctypes.POINTER(_ChunkInfo)]
    l.vc_retriever_chunks.restype = ctypes.c_int
    l.vc_retriever_chunk_text.argtypes = [vp, cp, sz, ctypes.POINTER(vp)]
    l.vc_retriever_chunk_text.restype = ctypes.c_int


def _floats(vector: Any) -> tuple[Any, int]:
    """A C float array view of a vector (list, tuple, array.array or NumPy array), and its length."""
    try:
        import numpy as np  # optional: zero-copy for float32 arrays

        if isinstance(vector, np.ndarray):
            arr = np.ascontiguousarray(vector, dtype=np.float32)
            return arr, arr.size
    except ImportError:  # pragma: no cover
        pass
    values = [float(x) for x in vector]
    return (ctypes.c_float * len(values))(*values), len(values)


def _address(vector: Any) -> tuple[int, int, Any]:
    """The address and length of a vector as float32 (zero-copy for a contiguous float32 NumPy
    array), and the object that owns that memory (keep it alive for the duration of the call)."""
    iface = getattr(vector, "__array_interface__", None)
    if iface is not None and iface["typestr"] == "<f4" and iface["strides"] is None and len(iface["shape"]) == 1:
        return iface["data"][0], iface["shape"][0], vector
    buf, n = _floats(vector)
    if hasattr(buf, "ctypes"):
        return buf.ctypes.data, n, buf
    return ctypes.addressof(buf), n, buf


def _pointer(buf: Any) -> Any:
    if hasattr(buf, "ctypes"):
        return buf.ctypes.data_as(_c_float_p)
    return ctypes.cast(buf, _c_float_p)


def _matrix(vectors: Any) -> tuple[Any, int, int]:
    """A C-contiguous float32 buffer of row vectors, its dimension and its number of rows."""
    try:
        import numpy as np

        if isinstance(vectors, np.ndarray):
            arr = np.ascontiguousarray(vectors, dtype=np.float32)
            if arr.ndim != 2:
                raise _native.Error(-1, "vectors must be a 2-D array (one row per query)")
            return arr, arr.shape[1], arr.shape[0]
    except ImportError:  # pragma: no cover
        pass
    rows = [[float(x) for x in v] for v in vectors]
    dim = len(rows[0]) if rows else 0
    if any(len(r) != dim for r in rows):
        raise _native.Error(-10, "query vectors of different dimensions")
    flat = (ctypes.c_float * (dim * len(rows)))(*(x for r in rows for x in r))
    return flat, dim, len(rows)


@dataclass
class Hit:
    """One search result: a chunk of a document (with ``group_by="document"``: the document's
    best chunk, scored as the document)."""

    id: str
    chunk: int
    score: float
    text: str
    metadata: dict[str, Any]
    start: int = 0
    """Offsets of the chunk in the document's text (``text[start:end]``), for citations."""
    end: int = 0
    slot: int = field(default=-1, repr=False)


class Retriever:
    """An index of documents for BM25, dense and hybrid search, persisted to one file.

    ``path`` is opened when it exists and created (on ``save``) otherwise; ``None`` keeps the
    index in memory. ``options`` apply to a new index (see docs/retriever.md), e.g.
    ``{"stopwords": True, "chunk_size": 800, "hnsw": {"m": 16}}``.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, options: dict[str, Any] | None = None) -> None:
        self._lib = _native.lib()
        self._h = ctypes.c_void_p()
        self.path = None if path is None else os.fspath(path)
        opts = json.dumps(options).encode() if options else None
        code = self._lib.vc_retriever_open(None if self.path is None else self.path.encode(), opts, ctypes.byref(self._h))
        if code < 0:
            message = self._lib.vc_retriever_errmsg(self._h) if self._h else None
            self._lib.vc_retriever_free(self._h)
            self._h = ctypes.c_void_p()
            raise _native.Error(code, message.decode("utf-8", "replace") if message else _native.strerror(code))
        self._slots = (ctypes.c_int32 * 0)()
        self._scores = (ctypes.c_float * 0)()
        self._infos = (_ChunkInfo * 0)()
        # Encoded requests of searches without filter or further options, by (k, mode,
        # group_by): one query per call then skips json.dumps.
        self._requests: dict[tuple[int, str, str], bytes] = {}

    def _check(self, code: int) -> int:
        return _native.check(code, lambda: self._lib.vc_retriever_errmsg(self._h))

    def close(self) -> None:
        """Releases the index (unsaved changes are lost)."""
        if self._h:
            self._lib.vc_retriever_free(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self) -> "Retriever":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def _handle(self) -> ctypes.c_void_p:
        if not self._h:
            raise _native.Error(-4, "the Retriever is closed")
        return self._h

    def add(
        self,
        id: str,
        text: str,
        metadata: dict[str, Any] | None = None,
        vector: Any = None,
        vectors: Sequence[Any] | None = None,
    ) -> None:
        """Adds or replaces a document. ``vector`` is shared by all its chunks; ``vectors`` gives
        one per chunk (see ``chunks``)."""
        h = self._handle()
        data = text.encode("utf-8")
        meta = json.dumps(metadata).encode() if metadata else None
        rows: list[Any] = []
        if vector is not None:
            rows = [vector]
        if vectors is not None:
            if vector is not None:
                raise ValueError("give vector or vectors, not both")
            rows = list(vectors)
        if not rows:
            self._check(self._lib.vc_retriever_add(h, id.encode(), data, len(data), meta, None, 0, 0))
            return
        bufs = [_floats(r) for r in rows]
        dim = bufs[0][1]
        if any(n != dim for _, n in bufs):
            raise _native.Error(-10, "vectors of one document must have the same dimension")
        flat = (ctypes.c_float * (dim * len(bufs)))()
        for i, (b, _) in enumerate(bufs):
            ctypes.memmove(ctypes.byref(flat, i * dim * 4), _pointer(b), dim * 4)
        self._check(self._lib.vc_retriever_add(h, id.encode(), data, len(data), meta, flat, len(bufs), dim))

    def delete(self, id: str) -> None:
        """Deletes a document; raises ``voicecore.Error`` (code -5) for an unknown id."""
        self._check(self._lib.vc_retriever_delete(self._handle(), id.encode()))

    def compact(self) -> None:
        """Frees the space held by deleted documents."""
        self._check(self._lib.vc_retriever_compact(self._handle()))

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Writes the index (crash-safe) to ``path`` or to the path it was opened with."""
        target = None if path is None else os.fspath(path)
        self._check(self._lib.vc_retriever_save(self._handle(), None if target is None else target.encode()))
        if self.path is None:
            self.path = target

    def stats(self) -> dict[str, Any]:
        out = ctypes.c_void_p()
        self._check(self._lib.vc_retriever_stats(self._handle(), ctypes.byref(out)))
        return json.loads(_native.take_string(out.value))

    def __len__(self) -> int:
        return int(self.stats()["documents"])

    def chunks(self, text: str) -> list[dict[str, Any]]:
        """The chunks ``add`` makes of ``text``: ``[{"start", "end", "text"}]``, to embed one by one."""
        data = text.encode("utf-8")
        out = ctypes.c_void_p()
        self._check(self._lib.vc_retriever_chunk_text(self._handle(), data, len(data), ctypes.byref(out)))
        return json.loads(_native.take_string(out.value))

    def _search(self, query: str, k: int, mode: str, vector: Any, filter: dict[str, Any] | None,
                group_by: str, options: dict[str, Any]) -> int:
        """Runs one search; its hits are the first n entries of ``_slots``/``_scores``."""
        h = self._handle()
        if len(self._slots) < k:
            self._slots = (ctypes.c_int32 * k)()
            self._scores = (ctypes.c_float * k)()
        if filter or options:
            req = _search_request(k, mode, filter, group_by, options)
        else:
            req = self._requests.get((k, mode, group_by))
            if req is None:
                req = self._requests[(k, mode, group_by)] = _search_request(k, mode, None, group_by, {})
        q = query.encode("utf-8")
        vec_addr, dim, keep = None, 0, None
        if vector is not None:
            vec_addr, dim, keep = _address(vector)
        n = self._lib.vc_retriever_search(h, q, len(q), vec_addr, dim, req, self._slots, self._scores, len(self._slots))
        del keep  # the vector's memory was needed only during the call
        if n < 0:
            self._check(n)
        return n

    def search(
        self,
        query: str = "",
        k: int = 10,
        mode: str = "auto",
        vector: Any = None,
        filter: dict[str, Any] | None = None,
        group_by: str = "chunk",
        **options: Any,
    ) -> list[Hit]:
        """The best ``k`` chunks, or with ``group_by="document"`` the best ``k`` documents (one
        hit each: the document's best chunk with the document's score). ``mode``: "bm25",
        "dense", "hybrid" or "auto" (hybrid when both a query and a vector are given). Further
        options: fusion="rrf"|"weighted", rrf_k, alpha, candidates, exact, ef."""
        n = self._search(query, k, mode, vector, filter, group_by, options)
        return self._hits(self._slots, self._scores[:n], n)

    def search_slots(
        self,
        query: str = "",
        k: int = 10,
        mode: str = "auto",
        vector: Any = None,
        filter: dict[str, Any] | None = None,
        group_by: str = "chunk",
        **options: Any,
    ) -> list[tuple[int, float]]:
        """Like ``search`` but returns ``(slot, score)`` pairs without fetching the chunks."""
        n = self._search(query, k, mode, vector, filter, group_by, options)
        return list(zip(self._slots[:n], self._scores[:n]))

    def _hits(self, slots: Any, scores: list[float], n: int) -> list[Hit]:
        """``Hit``s for the first ``n`` of ``slots`` (a ctypes int32 array): one library call."""
        if n == 0:
            return []
        if len(self._infos) < n:
            self._infos = (_ChunkInfo * max(n, 16))()
        infos = self._infos
        self._check(self._lib.vc_retriever_chunks(self._handle(), slots, n, infos))
        # The records unpacked in one pass; their strings lie back to back in the handle's
        # memory, so they are copied out with one call and sliced.
        records = list(_CHUNK_INFO.iter_unpack(memoryview(infos).cast("B")[: n * _CHUNK_INFO.size]))
        base = records[0][0]
        last = records[-1]
        blob = ctypes.string_at(base, last[4] + last[5] - base)
        out = []
        for i, (id_at, id_len, text_at, text_len, meta_at, meta_len, chunk, start, end) in enumerate(records):
            id_at -= base
            text_at -= base
            meta = {} if meta_len == 2 else json.loads(blob[meta_at - base : meta_at - base + meta_len])
            out.append(Hit(blob[id_at : id_at + id_len].decode(), chunk, scores[i], blob[text_at : text_at + text_len].decode(),
                           meta, start, end, slots[i]))
        return out

    def _search_many(self, queries: Sequence[str] | None, k: int, mode: str, vectors: Any,
                     filter: dict[str, Any] | None, group_by: str, options: dict[str, Any]) -> tuple[Any, Any, Any, int, int]:
        """Runs a batch: query i's hits are ``counts[i]`` entries of ``slots``/``scores`` from
        ``i * cap``. Returns (slots, scores, counts, count, cap)."""
        h = self._handle()
        texts = [q.encode("utf-8") for q in queries] if queries is not None else []
        count = len(texts)
        vec_ptr, dim, keep = None, 0, None
        if vectors is not None:
            keep, dim, rows = _matrix(vectors)
            if queries is not None and rows != count:
                raise _native.Error(-10, f"{count} queries but {rows} vectors")
            count = rows
            vec_ptr = _pointer(keep)
        lens = (ctypes.c_size_t * count)(*(len(t) for t in texts)) if texts else None
        req = _search_request(k, mode, filter, group_by, options)
        cap = max(k, 1)
        slots = (ctypes.c_int32 * (count * cap))()
        scores = (ctypes.c_float * (count * cap))()
        counts = (ctypes.c_int32 * max(count, 1))()
        self._check(
            self._lib.vc_retriever_search_many(
                h, b"".join(texts) if texts else None, lens, count, vec_ptr, dim, req,
                slots, scores, counts, cap,
            )
        )
        return slots, scores, counts, count, cap

    def search_many_slots(
        self,
        queries: Sequence[str] | None = None,
        k: int = 10,
        mode: str = "auto",
        vectors: Any = None,
        filter: dict[str, Any] | None = None,
        group_by: str = "chunk",
        **options: Any,
    ) -> list[list[tuple[int, float]]]:
        """Like ``search_slots`` for a batch: query i is ``queries[i]`` and/or ``vectors[i]`` (a 2-D
        array or a sequence of vectors); one call into the library for the whole batch."""
        slots, scores, counts, count, cap = self._search_many(queries, k, mode, vectors, filter, group_by, options)
        out = []
        for i in range(count):
            a = i * cap
            b = a + counts[i]
            out.append(list(zip(slots[a:b], scores[a:b])))
        return out

    def search_many(
        self,
        queries: Sequence[str] | None = None,
        k: int = 10,
        mode: str = "auto",
        vectors: Any = None,
        filter: dict[str, Any] | None = None,
        group_by: str = "chunk",
        **options: Any,
    ) -> list[list[Hit]]:
        """``search`` for a batch of queries (see ``search_many_slots``), the same hits per query.
        The chunks are fetched query by query, so each query's strings stay in the cache."""
        slots, scores, counts, count, cap = self._search_many(queries, k, mode, vectors, filter, group_by, options)
        row = ctypes.c_int32 * cap
        return [self._hits(row.from_buffer(slots, i * cap * 4), scores[i * cap : i * cap + counts[i]], counts[i])
                for i in range(count)]

    def chunk(self, slot: int) -> dict[str, Any]:
        """A slot's chunk: ``{"id", "chunk", "start", "end", "text", "metadata"}``."""
        h = self._hits((ctypes.c_int32 * 1)(slot), [0.0], 1)[0]
        return {"id": h.id, "chunk": h.chunk, "start": h.start, "end": h.end, "text": h.text, "metadata": h.metadata}


def _search_request(k: int, mode: str, filter: dict[str, Any] | None, group_by: str, options: dict[str, Any]) -> bytes:
    """The search options as the C API takes them (one JSON object), shared by single and batch search."""
    req: dict[str, Any] = {"k": k, "mode": mode}
    if group_by != "chunk":
        req["group_by"] = group_by
    if filter:
        req["filter"] = filter
    req.update(options)
    return json.dumps(req).encode()
