"""An embedder for any OpenAI-compatible ``/v1/embeddings`` endpoint (llama.cpp server, vLLM,
Ollama, hosted APIs), using only the standard library.

    embed = OpenAIEmbedder("http://127.0.0.1:8080/v1", model="all-minilm")
    vectors = embed(["first text", "second text"])        # list of lists of floats
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Sequence

from ._native import Error


class EmbeddingError(Error):
    """The embeddings endpoint failed or answered something that is not embeddings."""

    def __init__(self, message: str) -> None:
        super().__init__(-6, message)


class OpenAIEmbedder:
    """Calls ``POST {base_url}/embeddings`` with ``{"model", "input": [...]}`` and returns the
    vectors in input order. ``api_key`` defaults to ``$OPENAI_API_KEY`` (sent as a bearer token
    when set). Inputs are sent in batches of ``batch_size``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080/v1",
        model: str = "text-embedding",
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        dimensions: int | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + ("" if base_url.rstrip("/").endswith("/embeddings") else "/embeddings")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.batch_size = max(1, batch_size)
        self.timeout = timeout
        self.dimensions = dimensions

    def __call__(self, texts: str | Sequence[str]) -> list[list[float]]:
        if isinstance(texts, str):
            texts = [texts]
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            out.extend(self._batch(list(texts[i : i + self.batch_size])))
        return out

    def embed_one(self, text: str) -> list[float]:
        return self([text])[0]

    def _batch(self, batch: list[str]) -> list[list[float]]:
        body: dict[str, object] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise EmbeddingError(f"{self.url}: HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise EmbeddingError(f"{self.url}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise EmbeddingError(f"{self.url}: answer is not JSON: {exc}") from exc
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or len(data) != len(batch):
            raise EmbeddingError(f"{self.url}: expected {len(batch)} embeddings in \"data\"")
        vectors: list[list[float] | None] = [None] * len(batch)
        for position, item in enumerate(data):
            index = item.get("index", position) if isinstance(item, dict) else None
            vec = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(batch) or not isinstance(vec, list):
                raise EmbeddingError(f"{self.url}: malformed embedding item {position}")
            vectors[index] = [float(x) for x in vec]
        if any(v is None for v in vectors):
            raise EmbeddingError(f"{self.url}: missing embedding indexes")
        return vectors  # type: ignore[return-value]
