#!/usr/bin/env bash
# Installs Smart Turn v3.2 (the end-of-turn model, BSD-2) from the pipecat-ai wheel on PyPI into
# ~/.cache/voicecore/models (or $VOICECORE_TURN_MODEL): the ONNX file only, never pipecat itself,
# never a model hub (voicecore.asr.turn_model.install). Returns at once when the file is there.
set -euo pipefail
PY=${PYTHON:-python3}
export PYTHONPATH="$(cd "$(dirname "$0")/.." && pwd)/python${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'PYEOF'
from voicecore.asr import turn_model
path = turn_model.model_path()
if not (path.is_file() and path.stat().st_size > 0):
    print(f"==> installing the Smart Turn v3.2 model (from the pipecat-ai {turn_model.WHEEL_VERSION} wheel) into {path}", flush=True)
    turn_model.install(path)
    print(f"    {path.stat().st_size / 1e6:.1f} MB")
PYEOF
